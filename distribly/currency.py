"""Currencies: the listing's own (charged) and a buyer's display currency (approximate).

The amount charged is always the listing's, in its currency. Display conversions
use ExchangeRate rows (ECB reference rates: 1 EUR = rate units), refreshed daily.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

# code: (name, symbol, decimals). Zero-decimal currencies (JPY) are charged in whole units.
CURRENCIES: dict[str, tuple[Any, str, int]] = {
    "USD": (_("US Dollar"), "$", 2),
    "EUR": (_("Euro"), "€", 2),
    "GBP": (_("British Pound"), "£", 2),
    "JPY": (_("Japanese Yen"), "¥", 0),
    "CAD": (_("Canadian Dollar"), "CA$", 2),
    "AUD": (_("Australian Dollar"), "A$", 2),
    "CHF": (_("Swiss Franc"), "CHF ", 2),
    "SEK": (_("Swedish Krona"), "SEK ", 2),
}
CHOICES = [
    (code, format_lazy("{} - {}", code, name))
    for code, (name, _s, _d) in CURRENCIES.items()
]
DEFAULT_DISPLAY = "USD"


def decimals(code: str) -> int:
    return CURRENCIES.get(code, ("", "", 2))[2]


def quantize(amount: Decimal, code: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-decimals(code)), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, code: str) -> str:
    places = decimals(code)
    return f"{quantize(amount, code):,.{places}f} {code}"


def format_symbol(amount: Decimal, code: str) -> str:
    symbol = CURRENCIES.get(code, ("", code + " ", 2))[1]
    return f"{symbol}{quantize(amount, code):,.{decimals(code)}f}"


def convert(
    amount: Decimal, source: str, target: str, rates: dict[str, Decimal]
) -> Decimal | None:
    """amount in `source` → `target`, rounded for display; None when a rate is missing."""
    if source == target:
        return quantize(amount, target)
    per_eur = {"EUR": Decimal(1), **rates}
    if source not in per_eur or target not in per_eur or not per_eur[source]:
        return None
    return quantize(amount / per_eur[source] * per_eur[target], target)


@dataclass(frozen=True)
class ParsedRates:
    date: str
    rates: dict[str, Decimal]


def parse_ecb(xml: bytes) -> ParsedRates:
    """The ECB daily reference rates (eurofxref-daily.xml)."""
    root = ET.fromstring(xml)  # noqa: S314
    rates: dict[str, Decimal] = {}
    date = ""
    for cube in root.iter():
        if cube.tag.endswith("Cube") and "time" in cube.attrib:
            date = cube.attrib["time"]
        if cube.tag.endswith("Cube") and "currency" in cube.attrib:
            rates[cube.attrib["currency"]] = Decimal(cube.attrib["rate"])
    if not rates:
        raise ValueError("no rates in the document")
    return ParsedRates(date, rates)
