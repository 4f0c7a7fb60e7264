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
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

# code: (name, English symbol, decimals). Zero-decimal currencies (JPY) are charged in
# whole units. The symbols are CLDR's (what Babel would print), kept here because
# Babel is not a dependency: see NUMBER_FORMATS for the per-language rest.
CURRENCIES: dict[str, tuple[Any, str, int]] = {
    "USD": (_("US Dollar"), "$", 2),
    "EUR": (_("Euro"), "€", 2),
    "GBP": (_("British Pound"), "£", 2),
    "JPY": (_("Japanese Yen"), "¥", 0),
    "CAD": (_("Canadian Dollar"), "CA$", 2),
    "AUD": (_("Australian Dollar"), "A$", 2),
    "CHF": (_("Swiss Franc"), "CHF", 2),
    "SEK": (_("Swedish Krona"), "SEK", 2),
}
CHOICES = [
    (code, format_lazy("{} - {}", code, name))
    for code, (name, _s, _d) in CURRENCIES.items()
]
DEFAULT_DISPLAY = "USD"


@dataclass(frozen=True)
class NumberFormat:
    """How one language writes money (CLDR's data for the site's languages).

    `min_grouping` is CLDR's minimumGroupingDigits: Spanish writes 1500 but 12.500,
    so the thousands separator appears only when the integer part has at least
    3 + min_grouping digits.
    """

    decimal: str
    group: str
    min_grouping: int
    symbol_first: bool  # "$12.50" (English) or "12,50 US$" (Spanish)
    symbols: dict[str, str]  # where the language's symbol differs from the English one
    # Prices on the site: with the symbol ("12,50 US$", as Spanish shops write them)
    # or with the code ("12.50 USD": in English "$" alone would not tell US from
    # Canadian or Australian dollars).
    price_with_symbol: bool = False


NUMBER_FORMATS: dict[str, NumberFormat] = {
    "en": NumberFormat(
        decimal=".", group=",", min_grouping=1, symbol_first=True, symbols={}
    ),
    "es": NumberFormat(
        decimal=",",
        group=".",
        min_grouping=2,
        symbol_first=False,
        symbols={"USD": "US$", "GBP": "GBP", "JPY": "JPY", "AUD": "AUD"},
        price_with_symbol=True,
    ),
}


def number_format(language: str | None = None) -> NumberFormat:
    """The active language's format ("es-mx" → "es"); English for any other."""
    code = (language or get_language() or "en").lower().split("-")[0]
    return NUMBER_FORMATS.get(code, NUMBER_FORMATS["en"])


def decimals(code: str) -> int:
    return CURRENCIES.get(code, ("", "", 2))[2]


def quantize(amount: Decimal, code: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-decimals(code)), rounding=ROUND_HALF_UP)


def format_number(amount: Decimal, code: str, *, language: str | None = None) -> str:
    """The amount rounded to the currency's minor units, with the language's
    separators: "1,234.50" in English, "1234,50" and "12.345,50" in Spanish.
    Works on the Decimal's digits, never through float."""
    fmt = number_format(language)
    places = decimals(code)
    value = quantize(amount, code)
    sign = "-" if value < 0 else ""
    digits = f"{abs(value):.{places}f}"  # exact: Decimal's own formatting
    whole, _dot, fraction = digits.partition(".")
    if len(whole) >= 3 + fmt.min_grouping:
        head = len(whole) % 3 or 3
        groups = [whole[:head]] + [whole[i : i + 3] for i in range(head, len(whole), 3)]
        whole = fmt.group.join(groups)
    return sign + whole + (fmt.decimal + fraction if fraction else "")


def format_amount(amount: Decimal, code: str, *, language: str | None = None) -> str:
    """With the currency code, for the price charged: "1,234.50 USD", "1234,50 USD"."""
    return f"{format_number(amount, code, language=language)} {code}"


def format_symbol(amount: Decimal, code: str, *, language: str | None = None) -> str:
    """With the symbol, where the language puts it: "$12.50", "12,50 US$", "CHF 9.00"."""
    fmt = number_format(language)
    symbol = fmt.symbols.get(code) or CURRENCIES.get(code, ("", code, 2))[1]
    number = format_number(amount, code, language=language)
    if not fmt.symbol_first:
        return f"{number} {symbol}"
    # CLDR's currency spacing: a letter symbol is kept apart from the digits.
    space = " " if symbol[-1].isalpha() else ""
    if number.startswith("-"):
        return f"-{symbol}{space}{number[1:]}"
    return f"{symbol}{space}{number}"


def format_price(amount: Decimal, code: str, *, language: str | None = None) -> str:
    """A listing's price as its language writes prices: "12.50 USD", "12,50 US$"."""
    if number_format(language).price_with_symbol:
        return format_symbol(amount, code, language=language)
    return format_amount(amount, code, language=language)


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
