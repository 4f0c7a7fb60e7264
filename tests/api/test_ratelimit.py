"""Rate limits of the HTTP API: calls per key, failed look-ups, and suspension."""

from __future__ import annotations

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


def test_rate_limit_answers_429_with_retry_after(
    call, sold_code, api_key_for, settings
):
    settings.API_RATE_LIMIT = 3
    listing, _, _, value = sold_code()
    key = api_key_for(listing.seller)
    for _ in range(3):
        assert call("POST", "/codes/verify", key, {"code": value}).status_code == 200
    limited = call("POST", "/codes/verify", key, {"code": value})
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert limited["X-RateLimit-Remaining"] == "0"
    assert limited.json()["error"]["code"] == "rate_limited"


def test_failed_lookups_are_limited_more_tightly(
    call, sold_code, api_key_for, settings
):
    settings.API_FAILED_LOOKUP_LIMIT = 2
    listing, _, _, value = sold_code()
    key = api_key_for(listing.seller)
    for guess in ("GUESS-1", "GUESS-2"):
        assert call("POST", "/codes/verify", key, {"code": guess}).status_code == 404
    # even a right answer waits now: guessing does not pay
    blocked = call("POST", "/codes/verify", key, {"code": value})
    assert blocked.status_code == 429
    assert "failed look-ups" in blocked.json()["error"]["message"]


def test_a_key_is_suspended_after_consecutive_failures_and_the_seller_told(
    call, sold_code, api_key_for, settings
):
    settings.API_SUSPEND_AFTER = 3
    listing, _, _, value = sold_code()
    key = api_key_for(listing.seller)
    mail.outbox.clear()
    call("POST", "/codes/verify", key, {"code": "G-1"})
    call("POST", "/codes/verify", key, {"code": value})  # a success resets the run
    for n in range(3):
        call("POST", "/codes/verify", key, {"code": f"GUESS-{n}"})
    suspended = call("POST", "/codes/verify", key, {"code": value})
    assert suspended.status_code == 403
    assert suspended.json()["error"]["code"] == "key_suspended"
    assert [m.to for m in mail.outbox] == [[listing.seller.email]]
    assert "suspended" in mail.outbox[0].subject
