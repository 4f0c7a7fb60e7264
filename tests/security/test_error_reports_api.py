"""An API request that crashes puts no code in the error report, not even through
the API framework's own frames that hold the request payload (issue 11)."""

from __future__ import annotations

import secrets

import pytest
from django.views.debug import ExceptionReporter

from codes.services import validation

pytestmark = pytest.mark.django_db
SECRET = "SECRET-" + secrets.token_hex(8).upper()  # made at run time: not in any source


def test_a_crashing_api_call_reports_no_code(client, seller, api_key_for, monkeypatch):
    def keyring_unavailable():
        raise RuntimeError("key service unavailable")

    monkeypatch.setattr(validation, "get_keyring", keyring_unavailable)
    key = api_key_for(seller)
    with pytest.raises(RuntimeError) as crash:
        client.post(
            "/api/v1/codes/verify",
            {"code": SECRET},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
    # What Django reports starts at its request handler, not at this test's frames.
    tb = crash.tb
    while not tb.tb_frame.f_globals["__name__"].startswith("django.core.handlers"):
        tb = tb.tb_next
    reporter = ExceptionReporter(None, crash.type, crash.value, tb)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "ninja" in text  # the framework's frames are in the report
    assert "api/endpoints.py" in text
    assert SECRET not in text
    assert SECRET not in html
