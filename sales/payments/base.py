from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from django.http import HttpRequest

if TYPE_CHECKING:
    from sales.models import Order, Payment, Refund

State = Literal["pending", "paid", "failed", "expired"]


class PaymentError(Exception):
    """A provider call failed. `permanent=False` means try again later."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class InvalidWebhook(Exception):
    """The request is not a genuine provider event (bad or missing signature)."""


@dataclass(frozen=True)
class Checkout:
    url: str
    provider_ref: str


@dataclass(frozen=True)
class ProviderStatus:
    state: State
    provider_payment_id: str = ""
    # Of a paid payment's charge: the provider's risk rating ("normal", "elevated",
    # "highest") and the card's fingerprint.
    risk_level: str = ""
    card_fingerprint: str = ""


@dataclass(frozen=True)
class FraudWarning:
    warning_id: str
    provider_payment_id: str
    actionable: bool
    fraud_type: str


@dataclass(frozen=True)
class ProviderEvent:
    event_id: str
    type: str
    object_id: str
    # Connect events: the seller's payout account the event is about.
    account: str = ""


@dataclass(frozen=True)
class AccountState:
    """A payout account as the provider reports it."""

    account_id: str
    details_submitted: bool
    charges_enabled: bool
    payouts_enabled: bool
    currently_due: tuple[str, ...] = ()
    disabled_reason: str = ""


@dataclass(frozen=True)
class Balance:
    """Per currency: money the seller can be paid now, and money on its way."""

    available: dict[str, Decimal]
    pending: dict[str, Decimal]


@dataclass(frozen=True)
class PayoutState:
    payout_id: str
    amount: Decimal
    currency: str
    status: str
    arrival_date: date | None
    failure_message: str = ""


@dataclass(frozen=True)
class RefundResult:
    refund_id: str


@dataclass(frozen=True)
class ProviderRefund:
    """One refund as the provider knows it. `our_id` is the Refund row that asked
    for it (from the refund's metadata), or None for a refund made elsewhere (the
    provider's dashboard)."""

    refund_id: str
    amount: Decimal
    status: str
    our_id: int | None = None

    @property
    def gives_money_back(self) -> bool:
        return self.status in ("succeeded", "pending", "requires_action")


@dataclass(frozen=True)
class ChargeRefunds:
    """Every refund of one payment, oldest first."""

    provider_payment_id: str
    refunds: tuple[ProviderRefund, ...]


@dataclass(frozen=True)
class DisputeState:
    dispute_id: str
    provider_payment_id: str
    amount: Decimal
    currency: str
    reason: str
    # The provider's status: needs_response, under_review, won, lost, …
    status: str
    evidence_due_by: datetime | None = None


@dataclass(frozen=True)
class ChargeEarnings:
    """How the provider split one payment: what the buyer paid and got back, the
    platform's fee net of fee refunds, and what reached the seller's account net of
    transfer reversals (and of the fee the account paid the platform)."""

    gross: Decimal
    refunded: Decimal
    platform_fee: Decimal
    seller_net: Decimal


class PaymentProvider(abc.ABC):
    identifier: str
    verbose_name: str

    @abc.abstractmethod
    def start_checkout(
        self, *, payment: Payment, order: Order, success_url: str, cancel_url: str
    ) -> Checkout:
        """Create the provider's payment page. Moves no money by itself."""

    @abc.abstractmethod
    def fetch_status(self, *, payment: Payment) -> ProviderStatus:
        """Re-fetch the real state of a payment from the provider."""

    def parse_webhook(self, request: HttpRequest) -> ProviderEvent:
        """Verify a webhook's signature and describe the event; raises InvalidWebhook."""
        raise InvalidWebhook(f"{self.identifier} sends no webhooks")

    @abc.abstractmethod
    def refund(self, *, refund: Refund) -> RefundResult:
        """Give `refund.amount` of its payment back. The refund's id is the
        idempotency key (a repeated call is one refund) and goes with the refund
        (so the provider's list of refunds says which of them are ours)."""

    def fetch_charge_refunds(self, *, object_id: str) -> ChargeRefunds:
        """The refunds of a charge (the object of a `charge.refunded` event)."""
        raise PaymentError(f"{self.identifier} has no charges", permanent=True)

    # --- Sellers' payout accounts (Connect) ---------------------------------------------
    @abc.abstractmethod
    def account_create(self, *, user: Any) -> AccountState:
        """Open a payout account for a seller (not yet able to receive anything)."""

    @abc.abstractmethod
    def account_link(
        self, *, account_id: str, refresh_url: str, return_url: str
    ) -> str:
        """A fresh, short-lived onboarding address (make one per click)."""

    @abc.abstractmethod
    def account_fetch(self, *, account_id: str) -> AccountState:
        """The payout account's state, from the provider."""

    @abc.abstractmethod
    def dashboard_link(self, *, account_id: str) -> str:
        """Where the seller manages their payout account (bank details, payouts)."""

    @abc.abstractmethod
    def balance_fetch(self, *, account_id: str) -> Balance:
        """The payout account's balance."""

    def payout_fetch(self, *, account_id: str, payout_id: str) -> PayoutState:
        raise PaymentError(f"{self.identifier} has no payouts", permanent=True)

    def dispute_fetch(self, *, dispute_id: str) -> DisputeState:
        raise PaymentError(f"{self.identifier} has no disputes", permanent=True)

    def dispute_evidence(
        self, *, dispute_id: str, evidence: dict[str, str], submit: bool
    ) -> None:
        """Stage evidence on a dispute (`submit=False`), or send it to the bank."""
        raise PaymentError(f"{self.identifier} has no disputes", permanent=True)

    def transfer_reverse(
        self, *, payment: Payment, amount: Decimal, idempotency_key: str
    ) -> None:
        """Take `amount` back from the seller's account (a lost dispute)."""
        raise PaymentError(f"{self.identifier} makes no transfers", permanent=True)

    def earnings_fetch(self, *, payment: Payment) -> ChargeEarnings:
        raise PaymentError(f"{self.identifier} keeps no balance", permanent=True)

    def fraud_warning_fetch(self, *, warning_id: str) -> FraudWarning:
        raise PaymentError(f"{self.identifier} has no fraud warnings", permanent=True)

    def parse_connect_webhook(self, request: HttpRequest) -> ProviderEvent:
        """Verify an event about a payout account (its own endpoint and secret)."""
        raise InvalidWebhook(f"{self.identifier} sends no Connect webhooks")

    def fetch_payment_refunds(self, *, payment: Payment) -> ChargeRefunds:
        """The refunds of a payment, as the provider knows them."""
        return ChargeRefunds(
            provider_payment_id=payment.provider_payment_id, refunds=()
        )
