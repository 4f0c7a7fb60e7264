"""System checks that keep production honest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_payment_provider(app_configs: Any, **kwargs: Any) -> list[Error]:
    if settings.PAYMENT_PROVIDER == "dev" and not settings.DEBUG:
        return [
            Error(
                "The 'dev' payment provider takes no money and must not run in production.",
                hint="Set PAYMENT_PROVIDER=stripe with STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.",
                id="distribly.E001",
            )
        ]
    return []
