from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django_countries import countries

from distribly.currency import CURRENCIES, DEFAULT_DISPLAY

CURRENCY_COOKIE = "display_currency"
COUNTRY_COOKIE = "country"


def display_currency(request: HttpRequest) -> str:
    """The signed-in user's choice, else the guest's cookie, else USD."""
    user = getattr(request, "user", None)
    chosen = (
        getattr(user, "display_currency", "")
        if user is not None and user.is_authenticated
        else ""
    )
    chosen = chosen or request.COOKIES.get(CURRENCY_COOKIE, "")
    return chosen if chosen in CURRENCIES else DEFAULT_DISPLAY


def buyer_country(request: HttpRequest) -> str:
    """The country chosen in Settings (the account's, else the guest's cookie), or ""."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.country or "")
    chosen = request.COOKIES.get(COUNTRY_COOKIE, "").upper()
    return chosen if chosen in countries else ""


def site(request: HttpRequest) -> dict[str, Any]:
    currency = display_currency(request)
    return {
        "SITE_URL": settings.SITE_URL,
        "DEBUG": settings.DEBUG,
        "DISPLAY_CURRENCY": currency,
        "DISPLAY_CURRENCY_NAME": CURRENCIES[currency][0],
        "LANGUAGE_NAME": dict(settings.LANGUAGES).get(
            translation.get_language() or "en", "English"
        ),
    }
