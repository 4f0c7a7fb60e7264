"""Plain helpers for the journeys and fault tests (fixtures live in conftest.py)."""

from __future__ import annotations

import email
import re
import socket
import time
from collections.abc import Callable
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


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


def link_in(text: str, path_part: str) -> str:
    match = re.search(r"https?://\S*" + re.escape(path_part) + r"\S*", text)
    assert match, f"no link containing {path_part!r} in:\n{text}"
    return match.group(0).rstrip(".,)")


class SmtpSink:
    """aiosmtpd on loopback. `refuse` answers 451 (try again later) to that many
    messages (to `refuse_to` only, when set)."""

    def __init__(self) -> None:
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
