"""JSON log lines (LOG_FORMAT=json) and the request id they carry.

One JSON object per line: time (UTC, ISO 8601), level, logger, message, the request
id when the line was written while answering a request, and the traceback when
there is one. Nothing else from the record is written: Django's request logger
attaches the request (its POST data may hold codes), and `extra` fields are not
ours to vouch for. Messages follow the project's rule (ids, never code values).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
# What we accept from the proxy's X-Request-Id: anything else could forge log content.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@contextlib.contextmanager
def request_id_bound(given: str) -> Iterator[str]:
    """Bind the proxy's request id (or a new one) to the log lines written inside."""
    request_id = given if VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    token = REQUEST_ID.set(request_id)
    try:
        yield request_id
    finally:
        REQUEST_ID.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Inside the middleware: the bound id; Django's own request lines ("Not Found",
        # errors) are written after it returned, but carry the request it was set on.
        request_id = REQUEST_ID.get() or getattr(
            getattr(record, "request", None), "request_id", ""
        )
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


# Links that are capabilities: whoever holds one sees what it opens (an order page
# shows its codes). Their secret part never reaches a log line: access logs and
# Django's request warnings name the path with "..." in its place.
SECRET_PATHS = re.compile(
    r"(/(?:orders|waitlist|find-my-codes)/)[^/\s?\"']+"
    r"|(/accounts/(?:confirm-email|password/reset/key)/)[^/\s?\"']+"
)


def redact_paths(text: str) -> str:
    """ "/orders/Zx9abc/" → "/orders/.../" (and the other capability links)."""
    return SECRET_PATHS.sub(lambda m: f"{m.group(1) or m.group(2)}...", text)


class SecretPathFilter(logging.Filter):
    """On every handler (Django's, gunicorn's): rewrites the record's message with
    capability links redacted, for plain and JSON lines alike."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_paths(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
