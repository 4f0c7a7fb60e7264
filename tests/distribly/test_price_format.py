"""Money is written the way the visitor's language writes it (distribly.currency),
exactly (Decimal), in the currency's minor units; and the development setup ships
exchange rates (load_exchange_rates --sample)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.template import Context, Template
from django.utils import translation

from distribly.currency import format_amount, format_number, format_symbol
from listings.models import ExchangeRate
from listings.selectors import exchange_rates


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en", "12.5", "USD", "$12.50"),
        ("es", "12.5", "USD", "12,50 US$"),
        ("en", "1234.5", "EUR", "€1,234.50"),
        ("es", "1234.5", "EUR", "1234,50 €"),  # Spanish groups from five digits
        ("es", "12345.678", "EUR", "12.345,68 €"),
        ("en", "1500", "JPY", "¥1,500"),  # no minor units
        ("es", "1500.4", "JPY", "1500 JPY"),
        ("en", "9", "CHF", "CHF 9.00"),  # a letter symbol keeps its space
        ("en", "-9.99", "CAD", "-CA$9.99"),
        ("es", "-9.99", "GBP", "-9,99 GBP"),
    ],
)
def test_symbol_form_follows_the_language(language, amount, currency, expected):
    assert format_symbol(Decimal(amount), currency, language=language) == expected


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en", "12.5", "USD", "12.50 USD"),
        ("es", "12.5", "USD", "12,50 USD"),
        ("en", "1234567.891", "GBP", "1,234,567.89 GBP"),
        ("es", "1234567.891", "GBP", "1.234.567,89 GBP"),
        ("en", "1500", "JPY", "1,500 JPY"),
    ],
)
def test_code_form_follows_the_language(language, amount, currency, expected):
    assert format_amount(Decimal(amount), currency, language=language) == expected


def test_formatting_is_exact_and_rounds_half_up_to_minor_units():
    # 0.125 cannot be held by a float; the Decimal rounds half up, as charges do.
    assert format_number(Decimal("0.125"), "USD", language="en") == "0.13"
    assert format_number(Decimal("99999999.995"), "EUR", language="es") == (
        "100.000.000,00"
    )
    assert format_number(Decimal("-0.001"), "USD", language="en") == "0.00"


def test_the_active_language_is_used_and_regional_variants_fall_back():
    with translation.override("es"):
        assert format_amount(Decimal("12.5"), "USD") == "12,50 USD"
        assert format_symbol(Decimal("12.5"), "USD") == "12,50 US$"
    with translation.override("en"):
        assert format_symbol(Decimal("12.5"), "USD") == "$12.50"
    assert format_symbol(Decimal("1"), "EUR", language="es-MX") == "1,00 €"
    assert format_symbol(Decimal("1"), "EUR", language="de") == "€1.00"


@pytest.mark.django_db
def test_listing_price_and_approximation_follow_the_page_language(
    client, active_listing, settings
):
    listing = active_listing(codes=1, price=Decimal("1234.50"), currency="USD")
    call_command("load_exchange_rates", "--sample", stdout=None)
    client.cookies["display_currency"] = "EUR"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    html = client.get(listing.get_absolute_url()).content.decode()
    assert "1234,50 US$" in html  # a price as Spanish shops write it
    assert "≈ 1192,75 €" in html  # 1234.50 / 1.0350, the sample's rate
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(listing.get_absolute_url()).content.decode()
    assert "1,234.50 USD" in html
    assert "≈ €1,192.75" in html


def test_money_filter_formats_amounts_and_leaves_blanks_blank():
    template = Template(
        "{% load distribly %}[{{ a|money:'EUR' }}][{{ b|money:'EUR' }}]"
    )
    with translation.override("es"):
        assert (
            template.render(Context({"a": Decimal("1234.5"), "b": None}))
            == "[1234,50 EUR][]"
        )


@pytest.mark.django_db
def test_load_exchange_rates_sample_works_offline_and_keeps_fresher_rates():
    call_command("load_exchange_rates", "--sample", "--keep-existing", stdout=None)
    rates = exchange_rates()
    assert rates["USD"] == Decimal("1.0350")
    assert set(rates) >= {"USD", "GBP", "JPY", "CHF", "SEK", "CAD", "AUD"}

    ExchangeRate.objects.filter(currency="USD").update(rate=Decimal("1.1000"))
    call_command("load_exchange_rates", "--sample", "--keep-existing", stdout=None)
    assert ExchangeRate.objects.get(currency="USD").rate == Decimal("1.1000")
    call_command("load_exchange_rates", "--sample", stdout=None)  # without: replaced
    assert ExchangeRate.objects.get(currency="USD").rate == Decimal("1.0350")


@pytest.mark.django_db
def test_load_exchange_rates_refuses_a_file_without_rates(tmp_path):
    bad = tmp_path / "rates.xml"
    bad.write_text("<not-ecb/>")
    with pytest.raises(CommandError, match="No rates stored"):
        call_command("load_exchange_rates", "--file", str(bad), stdout=None)
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("load_exchange_rates", "--file", str(tmp_path / "missing.xml"))
