"""Payment providers behind one interface (STYLE.md 9.4), chosen like allauth's get_adapter()."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import PaymentProvider


@lru_cache(maxsize=8)
def _load(path: str) -> PaymentProvider:
    provider: PaymentProvider = import_string(path)()
    return provider


def get_provider(identifier: str | None = None) -> PaymentProvider:
    """The configured provider, or the one that took a given payment (`Payment.provider`)."""
    identifier = identifier or settings.PAYMENT_PROVIDER
    return _load(settings.PAYMENT_PROVIDERS[identifier])
