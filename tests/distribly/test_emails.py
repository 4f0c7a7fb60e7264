"""Emails follow the recipient's language."""

from __future__ import annotations

import pytest
from django.utils import translation

from distribly import emails

pytestmark = pytest.mark.django_db


def test_emails_are_rendered_in_the_recipients_language(
    active_listing, buy, mailoutbox, monkeypatch
):
    seen = []
    real = emails._render
    monkeypatch.setattr(
        emails,
        "_render",
        lambda *a: seen.append(translation.get_language()) or real(*a),
    )
    listing = active_listing(codes=2)
    order = buy(listing)
    assert order.language == "en"
    assert seen
    assert set(seen) == {"en"}
