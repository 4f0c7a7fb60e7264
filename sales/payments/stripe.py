"""Stripe Checkout Sessions through the real `stripe` library.

Events are only triggers: the session or charge is re-fetched before anything
is decided (pretix plugins/stripe/views.py). Amounts become minor units here and
nowhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.http import HttpRequest

from .base import (
    AccountState,
    Balance,
    ChargeEarnings,
    ChargeRefunds,
    Checkout,
    DisputeState,
    FraudWarning,
    InvalidWebhook,
    PaymentError,
    PaymentProvider,
    PayoutState,
    ProviderEvent,
    ProviderRefund,
    ProviderStatus,
    RefundResult,
)

if TYPE_CHECKING:
    from sales.models import Order, Payment, Refund

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
    # 409: a request with the same idempotency key is still in flight
    stripe.IdempotencyError,
    stripe.RateLimitError,
    stripe.APIError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


# The refund's metadata key holding our Refund id: which provider refunds are ours.
REFUND_METADATA = "distribly_refund"


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
            "payment_intent_data": self._destination_charge(payment, order),
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

    @staticmethod
    def _destination_charge(payment: Payment, order: Order) -> dict[str, Any]:
        """The money goes to the seller's payout account, less the platform's fee."""
        data: dict[str, Any] = {"metadata": {"order_id": str(order.pk)}}
        if payment.destination:
            data["application_fee_amount"] = to_minor(
                order.platform_fee, order.currency
            )
            data["transfer_data"] = {"destination": payment.destination}
        return data

    def fetch_status(self, *, payment: Payment) -> ProviderStatus:
        session = self._call(
            self._client().v1.checkout.sessions.retrieve, payment.provider_ref
        )
        payment_id = _id(_field(session, "payment_intent"))
        if _field(session, "payment_status") in ("paid", "no_payment_required"):
            return self._paid(payment_id)
        if _field(session, "status") == "expired":
            return ProviderStatus(state="expired", provider_payment_id=payment_id)
        return ProviderStatus(state="pending", provider_payment_id=payment_id)

    def _paid(self, payment_id: str) -> ProviderStatus:
        """A paid session, with its charge's risk rating and card fingerprint."""
        if not payment_id:
            return ProviderStatus(state="paid")
        intent = self._call(
            self._client().v1.payment_intents.retrieve,
            payment_id,
            params={"expand": ["latest_charge"]},
        )
        charge = _field(intent, "latest_charge")
        outcome = _field(charge, "outcome") if not isinstance(charge, str) else None
        details = (
            _field(charge, "payment_method_details")
            if not isinstance(charge, str)
            else None
        )
        card = _field(details, "card") if details else None
        return ProviderStatus(
            state="paid",
            provider_payment_id=payment_id,
            risk_level=str(_field(outcome, "risk_level") or "") if outcome else "",
            card_fingerprint=str(_field(card, "fingerprint") or "") if card else "",
        )

    def parse_webhook(self, request: HttpRequest) -> ProviderEvent:
        return _verified(request, settings.STRIPE_WEBHOOK_SECRET)

    def parse_connect_webhook(self, request: HttpRequest) -> ProviderEvent:
        return _verified(request, settings.STRIPE_CONNECT_WEBHOOK_SECRET)

    def refund(self, *, refund: Refund) -> RefundResult:
        payment = refund.payment
        created = self._call(
            self._client().v1.refunds.create,
            params={
                "payment_intent": payment.provider_payment_id,
                "amount": to_minor(refund.amount, payment.currency),
                "metadata": {REFUND_METADATA: str(refund.pk)},
                **(
                    {
                        # the seller's share comes back from their account
                        "reverse_transfer": True,
                        "refund_application_fee": settings.REFUND_PLATFORM_FEE,
                    }
                    if payment.destination
                    else {}
                ),
            },
            options={"idempotency_key": f"distribly-refund-{refund.pk}"},
        )
        return RefundResult(refund_id=created["id"])

    def fetch_charge_refunds(self, *, object_id: str) -> ChargeRefunds:
        charge = self._call(self._client().v1.charges.retrieve, object_id)
        return self._refunds(
            _id(_field(charge, "payment_intent")), {"charge": object_id}
        )

    def fetch_payment_refunds(self, *, payment: Payment) -> ChargeRefunds:
        return self._refunds(
            payment.provider_payment_id,
            {"payment_intent": payment.provider_payment_id},
        )

    def _refunds(self, payment_intent: str, params: dict[str, Any]) -> ChargeRefunds:
        """Every refund (the list, not the charge's total: which refunds are ours
        is in their metadata), oldest first."""
        found = self._call(
            self._client().v1.refunds.list, params={**params, "limit": 100}
        )
        refunds = [
            ProviderRefund(
                refund_id=r["id"],
                amount=from_minor(int(r["amount"]), str(r["currency"])),
                status=str(r["status"]),
                our_id=_our_refund_id(_field(r, "metadata")),
            )
            for r in found.auto_paging_iter()
        ]
        return ChargeRefunds(
            provider_payment_id=payment_intent, refunds=tuple(reversed(refunds))
        )

    # --- Connect ------------------------------------------------------------------
    def account_create(self, *, user: Any) -> AccountState:
        account = self._call(
            self._client().v1.accounts.create,
            params={
                "type": "express",
                "country": settings.STRIPE_CONNECT_COUNTRY,
                "email": user.email,
                "capabilities": {
                    "card_payments": {"requested": True},
                    "transfers": {"requested": True},
                },
                "metadata": {"distribly_user": str(user.pk)},
            },
            options={"idempotency_key": f"distribly-account-{user.pk}"},
        )
        return _account_state(account)

    def account_link(
        self, *, account_id: str, refresh_url: str, return_url: str
    ) -> str:
        link = self._call(
            self._client().v1.account_links.create,
            params={
                "account": account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            },
        )
        return str(link["url"])

    def account_fetch(self, *, account_id: str) -> AccountState:
        return _account_state(
            self._call(self._client().v1.accounts.retrieve, account_id)
        )

    def dashboard_link(self, *, account_id: str) -> str:
        link = self._call(self._client().v1.accounts.login_links.create, account_id)
        return str(link["url"])

    def balance_fetch(self, *, account_id: str) -> Balance:
        balance = self._call(
            self._client().v1.balance.retrieve, options={"stripe_account": account_id}
        )

        def per_currency(entries: Any) -> dict[str, Decimal]:
            totals: dict[str, Decimal] = {}
            for entry in entries or []:
                currency = str(entry["currency"]).upper()
                totals[currency] = totals.get(currency, Decimal(0)) + from_minor(
                    int(entry["amount"]), currency
                )
            return totals

        return Balance(
            available=per_currency(_field(balance, "available")),
            pending=per_currency(_field(balance, "pending")),
        )

    def payout_fetch(self, *, account_id: str, payout_id: str) -> PayoutState:
        payout = self._call(
            self._client().v1.payouts.retrieve,
            payout_id,
            options={"stripe_account": account_id},
        )
        currency = str(payout["currency"]).upper()
        arrival = _field(payout, "arrival_date")
        return PayoutState(
            payout_id=payout["id"],
            amount=from_minor(int(payout["amount"]), currency),
            currency=currency,
            status=str(payout["status"]),
            arrival_date=datetime.fromtimestamp(int(arrival), tz=UTC).date()
            if arrival
            else None,
            failure_message=str(_field(payout, "failure_message") or ""),
        )

    # --- Disputes ------------------------------------------------------------------
    def dispute_fetch(self, *, dispute_id: str) -> DisputeState:
        dispute = self._call(self._client().v1.disputes.retrieve, dispute_id)
        currency = str(dispute["currency"]).upper()
        details = _field(dispute, "evidence_details")
        due = _field(details, "due_by") if details else None
        return DisputeState(
            dispute_id=dispute["id"],
            provider_payment_id=_id(_field(dispute, "payment_intent")),
            amount=from_minor(int(dispute["amount"]), currency),
            currency=currency,
            reason=str(_field(dispute, "reason") or ""),
            status=str(dispute["status"]),
            evidence_due_by=datetime.fromtimestamp(int(due), tz=UTC) if due else None,
        )

    def transfer_reverse(
        self, *, payment: Payment, amount: Decimal, idempotency_key: str
    ) -> None:
        intent = self._call(
            self._client().v1.payment_intents.retrieve,
            payment.provider_payment_id,
            params={"expand": ["latest_charge"]},
        )
        transfer = _id(_field(_field(intent, "latest_charge"), "transfer"))
        self._call(
            self._client().v1.transfers.reversals.create,
            transfer,
            params={"amount": to_minor(amount, payment.currency)},
            options={"idempotency_key": f"distribly-{idempotency_key}"},
        )

    def earnings_fetch(self, *, payment: Payment) -> ChargeEarnings:
        client = self._client()
        intent = self._call(
            client.v1.payment_intents.retrieve,
            payment.provider_payment_id,
            params={"expand": ["latest_charge"]},
        )
        charge = _field(intent, "latest_charge")
        currency = str(charge["currency"]).upper()
        gross = int(charge["amount"])
        refunded = int(_field(charge, "amount_refunded") or 0)
        fee = transferred = 0
        if _field(charge, "application_fee"):
            app_fee = self._call(
                client.v1.application_fees.retrieve, _id(charge["application_fee"])
            )
            fee = int(app_fee["amount"]) - int(_field(app_fee, "amount_refunded") or 0)
        if _field(charge, "transfer"):
            transfer = self._call(client.v1.transfers.retrieve, _id(charge["transfer"]))
            transferred = int(transfer["amount"]) - int(
                _field(transfer, "amount_reversed") or 0
            )
        return ChargeEarnings(
            gross=from_minor(gross, currency),
            refunded=from_minor(refunded, currency),
            platform_fee=from_minor(fee, currency),
            seller_net=from_minor(transferred - fee, currency),
        )

    def fraud_warning_fetch(self, *, warning_id: str) -> FraudWarning:
        warning = self._call(
            self._client().v1.radar.early_fraud_warnings.retrieve, warning_id
        )
        return FraudWarning(
            warning_id=warning["id"],
            provider_payment_id=_id(_field(warning, "payment_intent")),
            actionable=bool(_field(warning, "actionable")),
            fraud_type=str(_field(warning, "fraud_type") or ""),
        )

    def dispute_evidence(
        self, *, dispute_id: str, evidence: dict[str, str], submit: bool
    ) -> None:
        self._call(
            self._client().v1.disputes.update,
            dispute_id,
            params={"evidence": evidence, "submit": submit},
        )


def _verified(request: HttpRequest, secret: str) -> ProviderEvent:
    header = request.headers.get("Stripe-Signature", "")
    if not header:
        raise InvalidWebhook("missing Stripe-Signature header")
    if not secret:
        raise InvalidWebhook("no signing secret configured for this endpoint")
    try:
        event = stripe.Webhook.construct_event(request.body, header, secret)
    except (ValueError, stripe.SignatureVerificationError) as e:
        raise InvalidWebhook(str(e)) from e
    return ProviderEvent(
        event_id=event["id"],
        type=event["type"],
        object_id=_id(event["data"]["object"]),
        account=str(_field(event, "account") or ""),
    )


def _account_state(account: Any) -> AccountState:
    requirements = _field(account, "requirements")
    due = _field(requirements, "currently_due") if requirements else None
    return AccountState(
        account_id=account["id"],
        details_submitted=bool(_field(account, "details_submitted")),
        charges_enabled=bool(_field(account, "charges_enabled")),
        payouts_enabled=bool(_field(account, "payouts_enabled")),
        currently_due=tuple(str(d) for d in due or ()),
        disabled_reason=str(
            (_field(requirements, "disabled_reason") if requirements else "") or ""
        ),
    )


def _our_refund_id(metadata: Any) -> int | None:
    value = getattr(metadata, REFUND_METADATA, None) if metadata else None
    return int(value) if value and str(value).isdigit() else None
