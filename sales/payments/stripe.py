"""Stripe Checkout Sessions through the real `stripe` library.

Events are only triggers: the session or charge is re-fetched before anything
is decided (pretix plugins/stripe/views.py). Amounts become minor units here and
nowhere else.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.http import HttpRequest

from .base import (
    ChargeRefunds,
    Checkout,
    InvalidWebhook,
    PaymentError,
    PaymentProvider,
    ProviderEvent,
    ProviderStatus,
    RefundResult,
)

if TYPE_CHECKING:
    from sales.models import Order, Payment

# ISO 4217 currencies that Stripe takes in whole units.
ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
}  # fmt: skip
# Worth retrying: the network, Stripe's load, Stripe's own errors, and our key being
# refused (a rotated or restricted key is fixed by an operator, then events must
# still be processed, so they must not be acknowledged as failed meanwhile).
TRANSIENT = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


def to_minor(amount: Decimal, currency: str) -> int:
    factor = 1 if currency.upper() in ZERO_DECIMAL else 100
    return int((amount * factor).to_integral_value())


def from_minor(amount: int, currency: str) -> Decimal:
    factor = 1 if currency.upper() in ZERO_DECIMAL else 100
    return (Decimal(amount) / factor).quantize(Decimal("0.01"))


def _field(obj: Any, name: str) -> Any:
    # stripe objects are not dicts since stripe 15 (no .get()); attributes work.
    return getattr(obj, name, None)


def _id(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value["id"])


class StripeProvider(PaymentProvider):
    identifier = "stripe"
    verbose_name = "Card (Stripe)"

    def _client(self) -> stripe.StripeClient:
        kwargs: dict[str, Any] = {
            "max_network_retries": settings.STRIPE_MAX_NETWORK_RETRIES
        }
        if settings.STRIPE_API_BASE:
            kwargs["base_addresses"] = {"api": settings.STRIPE_API_BASE}
        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **kwargs)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TRANSIENT as e:
            raise PaymentError(
                "The payment provider is not answering; please try again."
            ) from e
        except stripe.StripeError as e:
            raise PaymentError(
                e.user_message
                or f"The payment provider refused the request ({type(e).__name__}"
                f"{': ' + e.code if e.code else ''}).",
                permanent=True,
            ) from e

    def start_checkout(
        self, *, payment: Payment, order: Order, success_url: str, cancel_url: str
    ) -> Checkout:
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": order.currency.lower(),
                        "unit_amount": to_minor(order.unit_price, order.currency),
                        "product_data": {"name": order.listing.title[:250]},
                    },
                    "quantity": order.quantity,
                }
            ],
            "customer_email": order.email,
            "client_reference_id": str(order.pk),
            "metadata": {"order_id": str(order.pk), "payment_id": str(payment.pk)},
            "payment_intent_data": {"metadata": {"order_id": str(order.pk)}},
            "expires_at": int(order.reserved_until.timestamp()),
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = self._call(
            self._client().v1.checkout.sessions.create,
            params=params,
            options={"idempotency_key": f"distribly-checkout-{payment.pk}"},
        )
        return Checkout(url=session["url"], provider_ref=session["id"])

    def fetch_status(self, *, payment: Payment) -> ProviderStatus:
        session = self._call(
            self._client().v1.checkout.sessions.retrieve, payment.provider_ref
        )
        payment_id = _id(_field(session, "payment_intent"))
        if _field(session, "payment_status") in ("paid", "no_payment_required"):
            return ProviderStatus(state="paid", provider_payment_id=payment_id)
        if _field(session, "status") == "expired":
            return ProviderStatus(state="expired", provider_payment_id=payment_id)
        return ProviderStatus(state="pending", provider_payment_id=payment_id)

    def parse_webhook(self, request: HttpRequest) -> ProviderEvent:
        header = request.headers.get("Stripe-Signature", "")
        if not header:
            raise InvalidWebhook("missing Stripe-Signature header")
        try:
            event = stripe.Webhook.construct_event(
                request.body, header, settings.STRIPE_WEBHOOK_SECRET
            )
        except (ValueError, stripe.SignatureVerificationError) as e:
            raise InvalidWebhook(str(e)) from e
        obj = event["data"]["object"]
        return ProviderEvent(
            event_id=event["id"], type=event["type"], object_id=_id(obj)
        )

    def refund(
        self, *, payment: Payment, amount: Decimal, idempotency_key: str
    ) -> RefundResult:
        refund = self._call(
            self._client().v1.refunds.create,
            params={
                "payment_intent": payment.provider_payment_id,
                "amount": to_minor(amount, payment.currency),
            },
            options={"idempotency_key": f"distribly-{idempotency_key}"},
        )
        return RefundResult(refund_id=refund["id"])

    def fetch_charge_refunds(self, *, object_id: str) -> ChargeRefunds:
        charge = self._call(self._client().v1.charges.retrieve, object_id)
        refunds = _field(charge, "refunds")
        data = _field(refunds, "data") if refunds is not None else None
        return ChargeRefunds(
            provider_payment_id=_id(_field(charge, "payment_intent")),
            amount_refunded=from_minor(
                int(_field(charge, "amount_refunded") or 0),
                str(_field(charge, "currency")),
            ),
            refund_ids=tuple(_id(r) for r in (data or [])),
        )
