"""The Validate a code page: look up, redeem and cancel a code; ownership; rate limit."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_validate_shows_the_record_and_marks_redeemed(client, sold_code):
    listing, _, code, value = sold_code(email="walkin@example.com")
    client.force_login(listing.seller)
    page = client.post(reverse("codes:validate"), {"code": f" {value} "})
    html = page.content.decode()
    assert "Valid" in html
    assert "walkin@example.com" in html
    assert listing.title in html
    assert page["Cache-Control"] == "no-store"
    assert value not in html  # the typed code is not echoed back into the page
    response = client.post(
        reverse("codes:validate-redeem", args=[code.pk]), {"account": "front desk"}
    )
    assert "Marked as redeemed." in response.content.decode()
    code.refresh_from_db()
    assert (code.status, code.redeemed_by) == ("redeemed", "front desk")
    again = client.post(reverse("codes:validate"), {"code": value}).content.decode()
    assert "Already redeemed" in again
    assert "front desk" in again


def test_validate_cancel(client, sold_code):
    listing, _, code, _ = sold_code()
    client.force_login(listing.seller)
    client.post(
        reverse("sales:code-cancel", args=[code.pk]), {"reason": "lost voucher"}
    )
    code.refresh_from_db()
    assert (code.status, code.cancel_reason) == ("cancelled", "lost voucher")


def test_another_sellers_code_is_not_found_and_actions_404(
    client, sold_code, user_factory
):
    _, _, code, value = sold_code()
    client.force_login(user_factory())
    html = client.post(reverse("codes:validate"), {"code": value}).content.decode()
    assert "We don&#x27;t know this code" in html
    assert (
        client.post(reverse("codes:validate-redeem", args=[code.pk])).status_code == 404
    )
    assert client.post(reverse("sales:code-cancel", args=[code.pk])).status_code == 404
    code.refresh_from_db()
    assert code.status == "sold"


def test_failed_lookups_are_rate_limited_per_seller(client, seller):
    client.force_login(seller)
    for n in range(30):
        client.post(reverse("codes:validate"), {"code": f"GUESS-{n}"})
    response = client.post(reverse("codes:validate"), {"code": "GUESS-X"})
    assert response.status_code == 429
    assert "Too many codes not found" in response.content.decode()
