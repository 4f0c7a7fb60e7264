"""Earnings: sellers' payout accounts, the platform fee and our own ledger.

Every sale is a destination charge: the buyer's money goes to the seller's payout
account and the platform keeps its fee (`platform_fee`). The ledger records each
movement of an order's money, split between the platform and the seller, in the
same transaction as the change that causes it (sale, refund, dispute lost).
"""

from __future__ import annotations

import secrets
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from distribly.accounts.models import PayoutAccount
from distribly.currency import decimals, quantize
from sales.models import Dispute, LedgerEntry, Order, Payment, Payout, Refund
from sales.payments import get_provider
from sales.payments.base import AccountState, Balance, PayoutState

LE = LedgerEntry.Kind


def platform_fee(amount: Decimal, currency: str) -> Decimal:
    """PLATFORM_FEE_PERCENT of the amount plus the currency's fixed part, rounded
    half up to the currency's minor unit (whole units for JPY), never more than
    the amount itself."""
    percent = amount * settings.PLATFORM_FEE_PERCENT / 100
    fixed = settings.PLATFORM_FEE_FIXED.get(currency.upper(), Decimal(0))
    return min(amount, quantize(percent + fixed, currency))


def _share(part: Decimal, of: Decimal, total: Decimal, currency: str) -> Decimal:
    """`total` * part / of, rounded half up to the minor unit."""
    if not of:
        return Decimal(0)
    step = Decimal(1).scaleb(-decimals(currency))
    return (total * part / of).quantize(step, rounding=ROUND_HALF_UP)


def _entry(
    order: Order, kind: str, *, gross: Decimal, seller_net: Decimal, **link: Any
) -> LedgerEntry:
    """One ledger row of `order`; the platform's part is what the seller's is not."""
    return LedgerEntry.objects.create(
        order=order,
        seller_id=order.seller_id,
        kind=kind,
        currency=order.currency,
        gross=gross,
        platform_fee=gross - seller_net,
        seller_net=seller_net,
        **link,
    )


def ledger_sale(order: Order) -> None:
    """The order's money came in. Inside the confirming transaction; once."""
    try:
        with transaction.atomic():
            _entry(
                order,
                LE.SALE,
                gross=order.amount,
                seller_net=order.amount - order.platform_fee,
            )
    except IntegrityError:
        pass  # recorded before (the one-sale-per-order constraint)


def ledger_refund(order: Order, refund: Refund) -> None:
    """After `order.refunded_amount` counts `refund`. Money went back to the buyer: the seller's share comes back from them
    (the transfer is reversed) and the fee too when REFUND_PLATFORM_FEE is on, in
    proportion to the refund."""
    # Cumulative, so that the parts add up to the whole fee: this refund gives back
    # the fee share of everything refunded so far less what was given back before.
    after = order.refunded_amount
    fee_back = (
        _share(after, order.amount, order.platform_fee, order.currency)
        - _share(
            after - refund.amount, order.amount, order.platform_fee, order.currency
        )
        if settings.REFUND_PLATFORM_FEE
        else Decimal(0)
    )
    _entry(
        order,
        LE.REFUND,
        gross=-refund.amount,
        seller_net=-(refund.amount - fee_back),
        refund=refund,
    )


def dispute_seller_share(order: Order, dispute: Dispute) -> Decimal:
    """What a lost dispute takes from the seller: the disputed amount, but never more
    than the part of the order not refunded already (a bank may take back a payment
    that was partly refunded; the platform bears the difference)."""
    return max(Decimal(0), min(dispute.amount, order.amount - order.refunded_amount))


def ledger_dispute_lost(order: Order, dispute: Dispute) -> None:
    """A lost dispute: the bank took the money back, from the seller's share (the
    transfer is reversed by as much); the provider's dispute fee is the platform's."""
    _entry(
        order,
        LE.DISPUTE,
        gross=-dispute.amount,
        seller_net=-dispute_seller_share(order, dispute),
        dispute=dispute,
    )


# --- Payout accounts ------------------------------------------------------------------


def payout_account_start(*, user: Any, refresh_url: str, return_url: str) -> str:
    """`Set up payouts`: the seller's payout account (opened on the first click) and a
    fresh onboarding address for it. Raises PaymentError."""
    provider = get_provider()
    account = PayoutAccount.objects.filter(user=user).first()
    if account is None or account.provider != provider.identifier:
        state = provider.account_create(user=user)
        account = payout_account_save(user=user, state=state)
    return provider.account_link(
        account_id=account.account_id, refresh_url=refresh_url, return_url=return_url
    )


def payout_account_save(*, user: Any, state: AccountState) -> PayoutAccount:
    account, _created = PayoutAccount.objects.update_or_create(
        user=user,
        defaults={
            "provider": get_provider().identifier,
            "account_id": state.account_id,
            "details_submitted": state.details_submitted,
            "charges_enabled": state.charges_enabled,
            "payouts_enabled": state.payouts_enabled,
            "currently_due": list(state.currently_due),
            "disabled_reason": state.disabled_reason,
        },
    )
    return account


def payout_account_refresh(*, account: PayoutAccount) -> PayoutAccount:
    """Copy the provider's state of the account (return page, `account.updated`)."""
    state = get_provider(account.provider).account_fetch(account_id=account.account_id)
    return payout_account_save(user=account.user, state=state)


def seller_balance(*, account: PayoutAccount) -> Balance:
    return get_provider(account.provider).balance_fetch(account_id=account.account_id)


def payout_record(*, seller_id: int, state: PayoutState) -> Payout:
    """A payout of the seller's account, as the provider reports it (`payout.*`)."""
    payout, _created = Payout.objects.update_or_create(
        provider_payout_id=state.payout_id,
        defaults={
            "seller_id": seller_id,
            "amount": state.amount,
            "currency": state.currency,
            "status": state.status,
            "arrival_date": state.arrival_date,
            "failure_message": state.failure_message[:300],
        },
    )
    return payout


def earnings_differences(*, payment: Payment) -> list[tuple[str, Decimal, Decimal]]:
    """(what, ledger, provider) for each figure of the payment's order where our
    ledger and the provider disagree. Raises PaymentError."""
    theirs = get_provider(payment.provider).earnings_fetch(payment=payment)
    entries = LedgerEntry.objects.filter(order_id=payment.order_id)
    zero = Decimal(0)
    sums = entries.aggregate(
        charged=Sum("gross", filter=Q(kind=LE.SALE), default=zero),
        refunded=Sum("gross", filter=Q(kind=LE.REFUND), default=zero),
        fee=Sum("platform_fee", filter=~Q(kind=LE.DISPUTE), default=zero),
        net=Sum("seller_net", default=zero),
    )
    figures = [
        ("charged", sums["charged"], theirs.gross),
        ("refunded", -sums["refunded"], theirs.refunded),
    ]
    if payment.destination:  # the split exists at the provider only then
        figures.append(("platform fee", sums["fee"], theirs.platform_fee))
        figures.append(("net to seller", sums["net"], theirs.seller_net))
    return [(what, ours, their) for what, ours, their in figures if ours != their]


def dev_payout_simulate(*, account: PayoutAccount) -> list[Payout]:
    """The `dev` provider's simulated account: pay out its whole available balance
    (a labelled test page button), so the Payouts page can be tried offline."""
    balance = get_provider(account.provider).balance_fetch(
        account_id=account.account_id
    )
    today = timezone.localdate()
    return [
        payout_record(
            seller_id=account.user_id,
            state=PayoutState(
                payout_id=f"dev_po_{secrets.token_hex(8)}",
                amount=amount,
                currency=currency,
                status=Payout.Status.PAID,
                arrival_date=today,
            ),
        )
        for currency, amount in sorted(balance.available.items())
        if amount > 0
    ]
