"""A local test provider: a page with Pay and Decline, no money moves.

It goes through the very same services as Stripe's webhook (sales.services.payments:
payment_confirm / payment_fail). Production refuses to start with it (settings.py, "Fail closed").
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from distribly.accounts.models import PayoutAccount
from sales.models import LedgerEntry, Payout

from .base import (
    AccountState,
    Balance,
    Checkout,
    PaymentProvider,
    ProviderStatus,
    RefundResult,
    State,
)

if TYPE_CHECKING:
    from sales.models import Order, Payment, Refund


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

    def refund(self, *, refund: Refund) -> RefundResult:
        return RefundResult(refund_id=f"dev_re_refund-{refund.pk}")

    # A simulated payout account: its "remote" state is our own row, which the
    # clearly labelled test onboarding page (sales:dev-onboard) completes; its
    # balance is worked out from our ledger.
    def account_create(self, *, user: Any) -> AccountState:
        return AccountState(
            account_id="dev_acct_" + secrets.token_hex(8),
            details_submitted=False,
            charges_enabled=False,
            payouts_enabled=False,
            currently_due=("external_account", "individual.dob"),
        )

    def account_link(
        self, *, account_id: str, refresh_url: str, return_url: str
    ) -> str:
        query = urlencode({"return": return_url})
        return f"{reverse('sales:dev-onboard', args=[account_id])}?{query}"

    def account_fetch(self, *, account_id: str) -> AccountState:
        row = PayoutAccount.objects.get(account_id=account_id)
        return AccountState(
            account_id=row.account_id,
            details_submitted=row.details_submitted,
            charges_enabled=row.charges_enabled,
            payouts_enabled=row.payouts_enabled,
            currently_due=tuple(row.currently_due),
            disabled_reason=row.disabled_reason,
        )

    def dashboard_link(self, *, account_id: str) -> str:
        return reverse("sales:dev-onboard", args=[account_id])

    def balance_fetch(self, *, account_id: str) -> Balance:
        row = PayoutAccount.objects.get(account_id=account_id)
        return ledger_balance(seller_id=row.user_id)


def ledger_balance(*, seller_id: int, pending_days: int = 7) -> Balance:
    """A balance worked out from our ledger, for the simulated (`dev`) payout
    account: net earnings of the last `pending_days` are pending; the rest, less
    payouts, is available."""
    entries = LedgerEntry.objects.filter(seller_id=seller_id)

    def net(qs: Any) -> dict[str, Decimal]:
        return dict(
            qs.values("currency")
            .annotate(net=Sum("seller_net"))
            .values_list("currency", "net")
        )

    available = net(entries)
    pending = net(
        entries.filter(created_at__gte=timezone.now() - timedelta(days=pending_days))
    )
    paid_out = dict(
        Payout.objects.filter(seller_id=seller_id)
        .exclude(status__in=[Payout.Status.FAILED, Payout.Status.CANCELED])
        .values("currency")
        .annotate(total=Sum("amount"))
        .values_list("currency", "total")
    )
    for currency in available.keys() | paid_out.keys():
        available[currency] = (
            available.get(currency, Decimal(0))
            - pending.get(currency, Decimal(0))
            - paid_out.get(currency, Decimal(0))
        )
    return Balance(available=available, pending=pending)
