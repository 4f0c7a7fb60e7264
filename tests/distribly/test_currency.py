"""Currency helpers: parse the ECB's daily rates, convert and format amounts."""

from __future__ import annotations

from decimal import Decimal

from distribly.currency import convert, format_amount, format_symbol, parse_ecb
from tests.helpers import ECB_SAMPLE


def test_parse_the_ecb_daily_sample():
    parsed = parse_ecb(ECB_SAMPLE)
    assert parsed.date == "2026-11-24"
    assert parsed.rates["USD"] == Decimal("1.0850")
    assert parsed.rates["JPY"] == Decimal("162.31")


def test_conversion_rounds_half_up_to_the_target_currency():
    rates = parse_ecb(ECB_SAMPLE).rates
    assert convert(Decimal("10.00"), "USD", "EUR", rates) == Decimal("9.22")  # 9.2165…
    assert convert(Decimal("9.99"), "EUR", "JPY", rates) == Decimal(
        "1621"
    )  # 1621.477 → whole yen
    assert convert(Decimal("1500"), "JPY", "USD", rates) == Decimal("10.03")  # 10.0271…
    assert convert(Decimal("5"), "EUR", "XYZ", rates) is None
    assert format_symbol(Decimal("9.2165"), "EUR") == "€9.22"
    assert format_amount(Decimal("1500"), "JPY") == "1,500 JPY"
