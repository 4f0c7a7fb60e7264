"""Email plumbing shared by every app: the development backend and which send errors are transient."""

from __future__ import annotations

import smtplib
import socket
import sys
from typing import Any

from anymail.exceptions import AnymailRequestsAPIError
from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend


class ConsoleBackend(DjangoConsoleBackend):
    """The development mail backend: prints to stderr so that command output
    (for example `seed_demo --json`) stays clean on stdout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)


# Connection-level failures are worth retrying; a rejected address is not.
TRANSIENT_EMAIL_ERRORS: tuple[type[Exception], ...] = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPDataError,
    ConnectionError,
    socket.timeout,
    TimeoutError,
    AnymailRequestsAPIError,  # an email provider's API did not answer
)
