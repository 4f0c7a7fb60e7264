"""Validate a code, API keys and webhooks pages: behaviour and ownership."""

from __future__ import annotations

import pytest
from django.urls import reverse

from api.models import ApiKey
from codes.models import Code

pytestmark = pytest.mark.django_db


def test_validate_shows_the_record_and_marks_redeemed(client, sold_code):
    listing, order, code, value = sold_code(email="walkin@example.com")
    client.force_login(listing.seller)
    page = client.post(reverse("codes:validate"), {"code": f" {value} "})
    html = page.content.decode()
    assert "Valid" in html and "walkin@example.com" in html and listing.title in html
    assert page["Cache-Control"] == "no-store"
    assert value not in html  # the typed code is not echoed back into the page
    response = client.post(
        reverse("codes:validate-redeem", args=[code.pk]), {"account": "front desk"}
    )
    assert "Marked as redeemed." in response.content.decode()
    code.refresh_from_db()
    assert (code.status, code.redeemed_by) == ("redeemed", "front desk")
    again = client.post(reverse("codes:validate"), {"code": value}).content.decode()
    assert "Already redeemed" in again and "front desk" in again


def test_validate_cancel(client, sold_code):
    listing, order, code, value = sold_code()
    client.force_login(listing.seller)
    client.post(
        reverse("codes:validate-cancel", args=[code.pk]), {"reason": "lost voucher"}
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
    assert (
        client.post(reverse("codes:validate-cancel", args=[code.pk])).status_code == 404
    )
    code.refresh_from_db()
    assert code.status == "sold"


def test_failed_lookups_are_rate_limited_per_seller(client, seller):
    client.force_login(seller)
    for n in range(30):
        client.post(reverse("codes:validate"), {"code": f"GUESS-{n}"})
    response = client.post(reverse("codes:validate"), {"code": "GUESS-X"})
    assert response.status_code == 429
    assert "Too many codes not found" in response.content.decode()


def test_api_key_is_shown_once_stored_hashed_and_revocable(client, seller):
    client.force_login(seller)
    page = client.post(
        reverse("api:keys"), {"name": "My shop", "scopes": ["verify", "redeem"]}
    )
    html = page.content.decode()
    key = ApiKey.objects.get(seller=seller)
    import re

    plaintext = re.search(r'id="new-key">(dk_[^<]+)<', html).group(1)
    assert key.key_hash not in html and plaintext.split("_")[1] == key.prefix
    assert plaintext not in client.get(reverse("api:keys")).content.decode()
    assert key.scopes == ["redeem", "verify"]
    client.post(reverse("api:key-revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_api_key_form_errors(client, seller):
    client.force_login(seller)
    html = client.post(
        reverse("api:keys"), {"name": "", "scopes": []}
    ).content.decode()
    assert html.count("This field is required.") == 2
    assert not ApiKey.objects.exists()


def test_another_seller_cannot_revoke_my_key_or_see_my_webhooks(
    client, seller, user_factory, api_key_for, settings
):
    api_key_for(seller)
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    client.force_login(seller)
    client.post(reverse("codes:webhooks"), {"url": "http://127.0.0.1:9/hook"})
    secret = seller.webhook_endpoint.secret
    key = ApiKey.objects.get(seller=seller)
    client.force_login(user_factory())
    assert (
        client.post(reverse("api:key-revoke", args=[key.pk])).status_code == 404
    )
    assert key.prefix not in client.get(reverse("api:keys")).content.decode()
    assert secret not in client.get(reverse("codes:webhooks")).content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None


def test_menu_lists_the_seller_pages(client, seller):
    client.force_login(seller)
    html = client.get("/").content.decode()
    for entry in [
        "Validate a code",
        "Sales",
        "API keys",
        "Webhooks",
        "My purchases",
        "Settings",
    ]:
        assert entry in html
    assert Code.objects.count() == 0
