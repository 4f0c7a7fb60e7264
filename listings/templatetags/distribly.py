from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe

from distribly.currency import convert, format_amount, format_symbol
from listings.selectors import exchange_rates

register = template.Library()


@register.filter(is_safe=True)
def linkify(text: str | None) -> SafeString:
    """Plain text to safe HTML: everything escaped, URLs and emails become links.

    `urlize` escapes the text and emits rel="nofollow"; we add noopener because
    the links open in a new tab. Seller text cannot forge the attribute: quotes in
    it are escaped before this replacement runs.
    """
    if not text:
        return mark_safe("")
    html = urlize(str(text), nofollow=True, autoescape=True)
    html = html.replace('rel="nofollow"', 'rel="nofollow noopener" target="_blank"')
    return mark_safe(html)  # noqa: S308 - escaped by urlize(autoescape=True)


@register.simple_tag(takes_context=True)
def approx(context: Any, amount: Any, currency: str) -> str:
    """ "≈ €9.20" in the visitor's display currency, when it differs and a rate is known."""
    target = context.get("DISPLAY_CURRENCY")
    if not target or target == currency or amount is None:
        return ""
    converted = convert(Decimal(amount), currency, target, exchange_rates())
    return f"≈ {format_symbol(converted, target)}" if converted is not None else ""


@register.filter
def money(amount: Any, currency: str) -> str:
    """{{ payout.amount|money:payout.currency }} → "1,234.50 USD" / "1234,50 USD", in
    the active language and the currency's minor units; "" for no amount."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))  # str(): a float would carry binary noise
    except InvalidOperation:
        return ""
    return format_amount(value, currency)
