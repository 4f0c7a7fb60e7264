"""Whether a seller can sell: with `SELLERS_NEED_PAYOUTS` (on with Stripe), only once
their payout account with the current provider can receive the buyers' money."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q

from .models import PayoutAccount


def seller_can_sell(user: Any) -> bool:
    if not settings.SELLERS_NEED_PAYOUTS:
        return True
    account = PayoutAccount.objects.filter(
        user_id=user.pk, provider=settings.PAYMENT_PROVIDER
    ).first()
    return account is not None and account.can_receive


def selling_sellers(prefix: str = "seller__") -> Q:
    """A filter for rows whose seller (`prefix`) can sell now."""
    if not settings.SELLERS_NEED_PAYOUTS:
        return Q()
    return Q(
        **{
            f"{prefix}payout_account__provider": settings.PAYMENT_PROVIDER,
            f"{prefix}payout_account__charges_enabled": True,
            f"{prefix}payout_account__payouts_enabled": True,
        }
    )
