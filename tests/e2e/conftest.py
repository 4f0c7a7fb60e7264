"""Real parts for the journeys: headless Debian Chromium (Playwright), a live server
on the test database, a real Celery worker on Redis, and a real SMTP sink.

Run with `make e2e` (PostgreSQL and Redis: DATABASE_URL and REDIS_URL).
"""

from __future__ import annotations

import email
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            if (
                not django_settings.REDIS_URL
                or "postgresql" not in django_settings.DATABASES["default"]["ENGINE"]
            ):
                item.add_marker(
                    pytest.mark.skip(
                        reason="journeys need PostgreSQL and Redis (make e2e)"
                    )
                )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    check: Callable[[], Any], timeout: float = 30, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class SmtpSink:
    """aiosmtpd on loopback. `refuse` answers 451 (try again later) to that many
    messages (to `refuse_to` only, when set)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.refuse = 0
        self.refused = 0
        self.refuse_to = ""
        sink = self

        class Handler:
            async def handle_DATA(
                self, server: Any, session: Any, envelope: Any
            ) -> str:
                targeted = not sink.refuse_to or sink.refuse_to in envelope.rcpt_tos
                if targeted and sink.refused < sink.refuse:
                    sink.refused += 1
                    return (
                        "451 4.3.0 Mail server temporarily unavailable, try again later"
                    )
                sink.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()  # Controller(port=0) fails: pick one (TESTING.md)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]

    @staticmethod
    def text(message: Message) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                return part.get_payload(decode=True).decode()
        return ""

    @staticmethod
    def html(message: Message) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/html":
                return part.get_payload(decode=True).decode()
        return ""

    def wait_for(
        self, address: str, subject: str, count: int = 1, timeout: float = 30
    ) -> list[Message]:
        def found() -> list[Message]:
            hits = [m for m in self.to(address) if subject in str(m["Subject"])]
            return hits if len(hits) >= count else []

        return wait_until(found, timeout, f"{count} email(s) '{subject}' to {address}")


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield sink
    sink.controller.stop()


@pytest.fixture
def worker(transactional_db: None, smtp: SmtpSink) -> Iterator[Any]:
    """A real Celery worker (in-process thread, solo pool) consuming from Redis."""
    from celery.contrib.testing.worker import start_worker

    from distribly.celery import app

    app.conf.task_always_eager = False
    app.loader.import_module("celery.contrib.testing.tasks")
    app.control.purge()
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=20
    ) as w:
        yield w
    app.conf.task_always_eager = True


@pytest.fixture
def browser() -> Iterator[Any]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=CHROMIUM_ARGS,
        )
        yield b
        b.close()


@pytest.fixture
def shot() -> Callable[[Any, str], None]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


def link_in(text: str, path_part: str) -> str:
    match = re.search(r"https?://\S*" + re.escape(path_part) + r"\S*", text)
    assert match, f"no link containing {path_part!r} in:\n{text}"
    return match.group(0).rstrip(".,)")


_ = threading  # the worker and live server each run in their own thread
