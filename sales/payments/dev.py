"""A local test provider: a page with Pay and Decline, no money moves.

It goes through the very same services as Stripe's webhook (sales.services.payments:
payment_confirm / payment_fail). Production refuses to start with it (settings.py, "Fail closed").
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING

from django.urls import reverse

from .base import Checkout, PaymentProvider, ProviderStatus, RefundResult, State

if TYPE_CHECKING:
    from sales.models import Order, Payment


class DevProvider(PaymentProvider):
    identifier = "dev"
    verbose_name = "Test payment (no money moves)"

    def start_checkout(
        self, *, payment: Payment, order: Order, success_url: str, cancel_url: str
    ) -> Checkout:
        ref = "dev_" + secrets.token_urlsafe(18)
        return Checkout(url=reverse("sales:dev-pay", args=[ref]), provider_ref=ref)

    def fetch_status(self, *, payment: Payment) -> ProviderStatus:
        # The dev page calls the services directly; there is no remote state to read.
        states: dict[str, State] = {
            "confirmed": "paid",
            "failed": "failed",
            "expired": "expired",
        }
        return ProviderStatus(state=states.get(payment.status, "pending"))

    def refund(
        self, *, payment: Payment, amount: Decimal, idempotency_key: str
    ) -> RefundResult:
        return RefundResult(refund_id=f"dev_re_{idempotency_key}")
