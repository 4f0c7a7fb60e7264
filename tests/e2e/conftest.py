"""Real parts for the journeys: headless Debian Chromium (Playwright), a live server
on the test database, a real Celery worker on Redis, and a real SMTP sink.

Run with `make e2e` (PostgreSQL and Redis: DATABASE_URL and REDIS_URL).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from distribly.celery import app
from tests.e2e.helpers import SmtpSink

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
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - heavy, and only the browser journeys need it: keeps it out of every run's collection

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
