"""The display currency: a guest's cookie or the account's choice, shown on every page
with approximate prices (the charge never changes)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from listings.services import exchange_rates_refresh
from tests.helpers import ECB_SAMPLE

pytestmark = pytest.mark.django_db


def test_a_guest_sees_an_approximate_price_in_their_currency(client, active_listing):
    exchange_rates_refresh(xml=ECB_SAMPLE)
    listing = active_listing(codes=1, price=Decimal("10.00"), currency="USD")
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "10.00 USD" in page
    assert "≈" not in page
    assert "Your current settings: English · USD - US Dollar" in page
    client.post(
        reverse("accounts:settings"), {"language": "en", "display_currency": "EUR"}
    )
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "10.00 USD" in page
    assert "≈ €9.22" in page
    assert "EUR - Euro" in page


def test_an_account_keeps_its_display_currency(client, user_factory):
    user = user_factory()
    client.force_login(user)
    client.post(
        reverse("accounts:settings"), {"language": "en", "display_currency": "GBP"}
    )
    user.refresh_from_db()
    assert user.display_currency == "GBP"
    del client.cookies["display_currency"]  # the account, not the cookie, remembers it
    assert "GBP - British Pound" in client.get("/").content.decode()
