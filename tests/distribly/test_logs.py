"""LOG_FORMAT=json: one JSON object per line with time, level, logger, message and the
request id; nothing else from the record (never the request and its POST data)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from distribly.logs import (
    REQUEST_ID,
    JsonFormatter,
    SecretPathFilter,
    request_id_bound,
)
from tests.helpers import ROOT


def _line(record: logging.LogRecord) -> dict[str, str]:
    text = JsonFormatter().format(record)
    assert "\n" not in text
    return json.loads(text)


def _record(msg: str = "batch %s imported", *args, **extra) -> logging.LogRecord:
    record = logging.LogRecord(
        "codes.services", logging.INFO, __file__, 1, msg, args or (7,), None
    )
    record.__dict__.update(extra)
    return record


def test_a_line_is_one_json_object_with_the_fields():
    line = _line(_record())
    assert line == {
        "time": line["time"],
        "level": "INFO",
        "logger": "codes.services",
        "message": "batch 7 imported",
    }
    assert line["time"].endswith("+00:00")


def test_the_request_id_is_carried_while_bound():
    with request_id_bound("abc-123") as bound:
        assert bound == "abc-123"
        assert _line(_record())["request_id"] == "abc-123"
    assert "request_id" not in _line(_record())
    assert REQUEST_ID.get() == ""


def test_a_forged_request_id_is_replaced():
    with request_id_bound('x"\n{"level": "CRITICAL"}') as bound:
        assert len(bound) == 32
        assert _line(_record())["request_id"] == bound


def test_the_request_and_extra_fields_are_never_written():
    class Request:
        def __init__(self) -> None:
            self.POST = {"code": "SECRET-CODE-VALUE-123"}

    record = _record(request=Request(), code="SECRET-CODE-VALUE-123", status_code=500)
    assert "SECRET-CODE-VALUE-123" not in JsonFormatter().format(record)


def test_tracebacks_stay_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record(exc_info=sys.exc_info())
        record.exc_info = sys.exc_info()
    line = _line(record)
    assert "ValueError: boom" in line["exc_info"]


@pytest.mark.django_db
def test_requests_log_json_lines_with_the_proxy_request_id(client, settings):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.get("/no-such-page/", headers={"X-Request-Id": "req-42"})
    finally:
        logger.removeHandler(handler)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["level"] == "WARNING"
    assert line["message"] == "Not Found: /no-such-page/"
    assert line["request_id"] == "req-42"


def test_log_format_json_configures_the_console_handler():
    code = (
        "import logging, django; django.setup(); "
        "logging.getLogger('distribly.test').warning('hello %s', 'there')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DJANGO_DEBUG": "True", "LOG_FORMAT": "json", "PYTHONWARNINGS": "ignore",
             "DJANGO_SETTINGS_MODULE": "distribly.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    [line] = [json.loads(t) for t in result.stderr.splitlines() if t.startswith("{")]
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING",
        "distribly.test",
        "hello there",
    )


def test_an_unknown_log_format_is_refused():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={"DJANGO_DEBUG": "True", "LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "distribly.settings"},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "LOG_FORMAT must be 'text' or 'json'" in result.stderr


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /orders/Zx9abc-_1/ HTTP/1.1" 200', '"GET /orders/.../ HTTP/1.1" 200'),
        (
            "Not Found: /orders/Zx9abc/codes/9/report/",
            "Not Found: /orders/.../codes/9/report/",
        ),
        ("/waitlist/tok3n/leave/", "/waitlist/.../leave/"),
        ("/find-my-codes/n0nce/", "/find-my-codes/.../"),
        ("/accounts/confirm-email/MQ:1abc/", "/accounts/confirm-email/.../"),
        ("/accounts/password/reset/key/1-abc/", "/accounts/password/reset/key/.../"),
        ("/items/12/ and /sell/sales/", "/items/12/ and /sell/sales/"),
    ],
)
def test_capability_links_are_redacted_in_every_log_line(line, expected):
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, "", 0, "%s", (line,), None
    )
    assert SecretPathFilter().filter(record)
    assert record.getMessage() == expected
