"""Display currency: approximate prices from stored ECB rates; the charge never changes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from distribly.currency import convert, format_amount, format_symbol, parse_ecb
from listings.models import ExchangeRate
from listings.services import exchange_rates_refresh

SAMPLE = (Path(__file__).parent / "data" / "eurofxref-daily.xml").read_bytes()


def test_parse_the_ecb_daily_sample():
    parsed = parse_ecb(SAMPLE)
    assert parsed.date == "2026-11-24"
    assert parsed.rates["USD"] == Decimal("1.0850") and parsed.rates["JPY"] == Decimal(
        "162.31"
    )


def test_conversion_rounds_half_up_to_the_target_currency():
    rates = parse_ecb(SAMPLE).rates
    assert convert(Decimal("10.00"), "USD", "EUR", rates) == Decimal("9.22")  # 9.2165…
    assert convert(Decimal("9.99"), "EUR", "JPY", rates) == Decimal(
        "1621"
    )  # 1621.477 → whole yen
    assert convert(Decimal("1500"), "JPY", "USD", rates) == Decimal("10.03")  # 10.0271…
    assert convert(Decimal("5"), "EUR", "XYZ", rates) is None
    assert format_symbol(Decimal("9.2165"), "EUR") == "€9.22"
    assert format_amount(Decimal("1500"), "JPY") == "1,500 JPY"


@pytest.mark.django_db
def test_refresh_stores_the_rates_and_staff_can_edit_them(client, user_factory):
    assert exchange_rates_refresh(xml=SAMPLE) == 7
    assert ExchangeRate.objects.get(currency="GBP").rate == Decimal("0.831250")
    assert exchange_rates_refresh(xml=SAMPLE) == 7  # idempotent
    assert ExchangeRate.objects.count() == 7
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    assert (
        client.get(reverse("admin:listings_exchangerate_changelist")).status_code == 200
    )


@pytest.mark.django_db
def test_a_guest_sees_an_approximate_price_in_their_currency(client, active_listing):
    exchange_rates_refresh(xml=SAMPLE)
    listing = active_listing(codes=1, price=Decimal("10.00"), currency="USD")
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "10.00 USD" in page and "≈" not in page
    assert "Your current settings: English · USD - US Dollar" in page
    client.post(
        reverse("accounts:settings"), {"language": "en", "display_currency": "EUR"}
    )
    page = client.get(listing.get_absolute_url()).content.decode()
    assert "10.00 USD" in page and "≈ €9.22" in page
    assert "EUR - Euro" in page


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_jpy_listings_take_whole_amounts_and_reach_stripe_unscaled(client, seller):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from sales.payments.stripe import to_minor

    client.force_login(seller)
    form = {
        "title": "Yen voucher", "price": "1500.50", "currency": "JPY", "instructions": "Use it",
        "max_per_order": "1", "source": "upload", "file": SimpleUploadedFile("c.csv", b"YEN-CODE-0001\n"),
    }  # fmt: skip
    html = client.post(reverse("codes:unique-codes-create"), form).content.decode()
    assert "JPY has no minor unit: use a whole amount." in html
    assert to_minor(Decimal("1500"), "JPY") == 1500
