from __future__ import annotations

import abc
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from django.http import HttpRequest

if TYPE_CHECKING:
    from sales.models import Order, Payment

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


@dataclass(frozen=True)
class ProviderEvent:
    event_id: str
    type: str
    object_id: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str


@dataclass(frozen=True)
class ChargeRefunds:
    provider_payment_id: str
    amount_refunded: Decimal
    refund_ids: tuple[str, ...]


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
    def refund(
        self, *, payment: Payment, amount: Decimal, idempotency_key: str
    ) -> RefundResult:
        """Give money back. The idempotency key makes a repeated call one refund."""

    def fetch_charge_refunds(self, *, object_id: str) -> ChargeRefunds:
        raise PaymentError(f"{self.identifier} has no charges", permanent=True)
