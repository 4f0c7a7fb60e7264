"""A crash while handling a code must not put the code in an error report."""

from __future__ import annotations

import secrets
import sys

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from codes import views
from codes.services import validation

pytestmark = pytest.mark.django_db

# Made at run time so that it can't appear in the reports' source-code excerpts.
SECRET = "SECRET-" + secrets.token_hex(8).upper()


def test_error_reports_hide_code_values_from_locals_and_post_data(seller, monkeypatch):
    def keyring_unavailable():
        raise RuntimeError("key service unavailable")

    # The crash happens inside codes.validation._digest, whose locals hold the code.
    monkeypatch.setattr(validation, "get_keyring", keyring_unavailable)
    request = RequestFactory().post("/sell/validate/", {"code": SECRET})
    request.user = seller
    request.session = {}
    request._messages = None
    try:
        views.validate(request)
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    else:  # pragma: no cover
        pytest.fail("the view did not crash")
    assert "RuntimeError" in text
    assert SECRET not in text
    assert SECRET not in html
    assert "hidden: they may hold code values" in html
