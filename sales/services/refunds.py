"""Refunds: through the provider that took the money, once, then the codes cancelled.

Provider calls happen outside transactions: a Refund row is written first
(pending, its id the idempotency key), the provider is called, then the result
is recorded under the order's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.models import Code
from codes.services.allocation import codes_cancel
from codes.services.validation import code_cancel_by_id
from distribly.errors import FieldError
from distribly.tasks import enqueue, enqueue_on_commit
from sales.exceptions import RefundError
from sales.models import Claim, Order, Payment, Refund
from sales.payments import get_provider
from sales.payments.base import ChargeRefunds, PaymentError, ProviderRefund
from sales.selectors import refunded_code_ids
from sales.services.earnings import ledger_refund

STALE_REFUND = timedelta(minutes=5)
# Stripe keeps idempotency keys for 24 hours: resuming later could refund twice.
REFUND_GIVE_UP = timedelta(hours=12)
OS = Order.Status
REFUND_AUTO_TASK = "sales.tasks.order_refund_auto"
# Who may refund a paid order that has no codes (it found none in stock).
NO_CODES_SOURCES = (Refund.Source.AUTOMATIC, Refund.Source.FRAUD)
REFUND_RESUME_TASK = "sales.tasks.refund_resume"
REFUND_NOTICES_TASK = "sales.tasks.email_refund_notices"
CODE_CANCELLED_TASK = "sales.tasks.email_code_cancelled"


def _refundable_codes(order: Order) -> list[int]:
    return list(
        Code.objects.filter(order_id=order.pk, status__in=Code.SOLD_STATUSES)
        .order_by("id")
        .values_list("id", flat=True)
    )


def order_refund(
    *,
    order: Order,
    code_ids: list[int] | None = None,
    by: Any = None,
    source: str = Refund.Source.SELLER,
    reason: str = "",
    unrefunded_cancelled: bool = False,
) -> Refund:
    """Refund an order or some of its units through its provider and cancel the codes.

    With `unrefunded_cancelled`, `code_ids` may also name codes cancelled without a
    refund (a reported code the seller then revoked): they are paid back too.

    One provider refund per request, even when it is repeated: a pending refund
    blocks others on the same order (a stale one is resumed instead), and the
    provider call carries the refund's id as idempotency key, so a retry after a
    crash cannot refund twice.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        pending = order.refunds.filter(status=Refund.Status.PENDING).first()
        if pending is None:
            refund = _refund_new(
                order,
                code_ids=code_ids,
                by=by,
                source=source,
                reason=reason,
                unrefunded_cancelled=unrefunded_cancelled,
            )
        elif pending.created_at > timezone.now() - STALE_REFUND:
            raise RefundError(_("A refund of this order is already in progress."))
    if pending is not None:
        return refund_resume(refund_id=pending.pk)
    return _refund_call(refund)


def _refund_new(
    order: Order,
    *,
    code_ids: list[int] | None,
    by: Any,
    source: str,
    reason: str,
    unrefunded_cancelled: bool = False,
) -> Refund:
    refundable = _refundable_codes(order)
    if unrefunded_cancelled and code_ids:
        refunded = refunded_code_ids(order)
        refundable += [
            pk
            for pk in Code.objects.filter(
                order_id=order.pk, id__in=code_ids, status=Code.Status.CANCELLED
            ).values_list("id", flat=True)
            if pk not in refunded
        ]
    # No codes to cancel: a paid order that found none (the automatic refund), or a
    # backorder still waiting for its codes (any refund).
    without_codes = not refundable and (
        (order.status == OS.PAID and source in NO_CODES_SOURCES)
        or order.status == OS.BACKORDERED
    )
    if without_codes:
        wanted: list[int] = []
        amount = order.amount - order.refunded_amount
    else:
        if order.status not in (OS.FULFILLED, OS.REFUNDED, OS.HELD):
            raise RefundError(_("Only a paid order with codes can be refunded."))
        wanted = (
            refundable if code_ids is None else [i for i in code_ids if i in refundable]
        )
        if not wanted:
            raise RefundError(_("Those codes are already refunded or cancelled."))
        amount = min(
            order.unit_price * len(wanted), order.amount - order.refunded_amount
        )
    if amount <= 0:
        raise RefundError(_("This order is already refunded in full."))
    payment = order.payments.filter(status=Payment.Status.CONFIRMED).first()
    if payment is None:
        raise RefundError(_("This order has no confirmed payment to refund."))
    return Refund.objects.create(
        order=order,
        payment=payment,
        amount=amount,
        code_ids=wanted,
        quantity=len(wanted),
        source=source,
        reason=reason[:300],
        created_by=by
        if by is not None and getattr(by, "is_authenticated", False)
        else None,
    )


def _refund_call(refund: Refund) -> Refund:
    """Ask the provider for a pending refund (again: the same idempotency key)."""
    provider = get_provider(refund.payment.provider)
    try:
        result = provider.refund(refund=refund)
    except PaymentError as e:
        if e.permanent:  # never over a refund that succeeded meanwhile
            Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                status=Refund.Status.FAILED, error=str(e)[:300]
            )
        raise RefundError(
            _("The refund did not go through: %(reason)s") % {"reason": e}
        ) from e
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status == Refund.Status.PENDING:
            _refund_succeeded(order, refund, result.refund_id)
    return refund


def _refund_succeeded(order: Order, refund: Refund, provider_refund_id: str) -> None:
    """Record the money as given back and cancel the refund's codes.
    The caller holds the order's lock (then the refund's)."""
    if refund.code_ids:
        codes_cancel(order_id=order.pk, code_ids=refund.code_ids)
        # Every code asked for is cancelled now (by this refund, or before it
        # without a refund): the refund paid them back.
        refund.code_ids = list(
            Code.objects.filter(
                order_id=order.pk, id__in=refund.code_ids, status=Code.Status.CANCELLED
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
    refund.quantity = len(refund.code_ids)
    refund.status = Refund.Status.SUCCEEDED
    refund.provider_refund_id = provider_refund_id
    refund.completed_at = timezone.now()
    refund.error = ""
    refund.save()
    order.refunded_amount += refund.amount
    update = ["refunded_amount"]
    if order.refunded_amount >= order.amount:
        order.status = OS.REFUNDED
        update.append("status")
        # Whatever refunds came in between, a fully refunded order keeps no code.
        _cancel_refunded_units(order, refund)
    order.save(update_fields=update)
    ledger_refund(order, refund)
    claims_close_refunded(refund)
    enqueue_on_commit(REFUND_NOTICES_TASK, refund.pk)


def claims_close_refunded(refund: Refund) -> int:
    """A refund paid back a code a buyer reported (from Sales, the provider's
    dashboard, a claim's own Refund): its claim is closed as refunded, whoever
    answered. Under the order's lock, like every claim decision."""
    if not refund.code_ids:
        return 0
    return Claim.objects.filter(
        code_id__in=refund.code_ids,
        status__in=[
            Claim.Status.OPEN,
            Claim.Status.ESCALATED,
            Claim.Status.REFUNDING,
            Claim.Status.REJECTED,
        ],
    ).update(status=Claim.Status.REFUNDED, refund=refund, decided_at=timezone.now())


def payment_refunds_sync(*, provider_name: str, info: ChargeRefunds) -> list[Refund]:
    """Bring our refunds in line with the provider's list of a payment's refunds
    (Stripe `charge.refunded`, the pending-refund sweep, `reconcile_payments`), as
    the caller fetched it (`info`); no provider call here. Returns the refunds
    that succeeded now.

    Each provider refund is matched by its id, then by the Refund id in its
    metadata: ours completes our pending row (a call whose answer was lost). Any
    other is a refund made in the provider's dashboard and gets its own row, even
    while one of ours is pending (a pending row never hides a provider refund);
    a stale pending row of ours for the same amount that the provider never saw
    is taken to be the same refund, made by hand because ours kept failing.
    Codes are then cancelled for the refunded total: as many units as it pays
    for, and all of them once the whole order is refunded.
    """
    payment = Payment.objects.filter(
        provider=provider_name, provider_payment_id=info.provider_payment_id
    ).first()
    if payment is None:
        return []
    done: list[Refund] = []
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        rows = list(order.refunds.select_for_update().order_by("pk"))
        known = {r.provider_refund_id for r in rows if r.provider_refund_id}
        claimed = {pr.our_id for pr in info.refunds if pr.our_id}
        for found in info.refunds:
            if not found.gives_money_back or found.refund_id in known:
                continue
            refund = _ours(rows, found, claimed) or Refund.objects.create(
                order=order,
                payment=payment,
                amount=found.amount,
                source=Refund.Source.PROVIDER,
                reason="Refunded in the payment provider's dashboard",
            )
            _refund_succeeded(order, refund, found.refund_id)
            done.append(refund)
        if done:
            _cancel_refunded_units(order, done[-1])
    return done


def _ours(
    rows: list[Refund], found: ProviderRefund, claimed: set[int]
) -> Refund | None:
    pending = [r for r in rows if r.status == Refund.Status.PENDING]
    mine = next((r for r in pending if r.pk == found.our_id), None)
    if mine is not None or found.our_id is not None:
        return mine
    stale = timezone.now() - STALE_REFUND
    return next(
        (
            r
            for r in pending
            if r.pk not in claimed and r.amount == found.amount and r.created_at < stale
        ),
        None,
    )


def _cancel_refunded_units(order: Order, refund: Refund) -> None:
    """Cancel the units the refunded total pays for that are still sold (newest
    first), onto `refund`: all of them once the order is refunded in full."""
    refundable = _refundable_codes(order)
    if order.refunded_amount >= order.amount:
        due = len(refundable)
    else:
        units = (
            int(order.refunded_amount // order.unit_price) if order.unit_price else 0
        )
        already = len(refunded_code_ids(order))
        due = min(len(refundable), max(0, units - already))
    if not due:
        return
    cancelled = codes_cancel(order_id=order.pk, code_ids=refundable[-due:])
    refund.code_ids = [*refund.code_ids, *cancelled]
    refund.quantity = len(refund.code_ids)
    refund.save(update_fields=["code_ids", "quantity"])


def refund_resume(*, refund_id: int) -> Refund:
    """A refund still pending a while after it was asked for (its call kept failing,
    or the process died): look at the provider's refunds first (it may have gone
    through, or been made by hand), then ask again with the same idempotency key,
    or give up after REFUND_GIVE_UP (staff see it failed, the codes stay sold).
    Raises RefundError (PaymentError underneath) while the provider is unreachable."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund
    provider = get_provider(refund.payment.provider)
    try:
        info = provider.fetch_payment_refunds(payment=refund.payment)
    except PaymentError as e:
        raise RefundError(str(e)) from e
    payment_refunds_sync(provider_name=refund.payment.provider, info=info)
    refund.refresh_from_db()
    if refund.status != Refund.Status.PENDING:
        return refund
    if refund.created_at < timezone.now() - REFUND_GIVE_UP:
        refund.status = Refund.Status.FAILED
        refund.error = "Gave up: the payment provider did not take the refund in time."
        refund.save(update_fields=["status", "error"])
        return refund
    return _refund_call(refund)


def refunds_pending_sweep() -> list[int]:
    """Queue a resume for every refund pending longer than STALE_REFUND."""
    ids = list(
        Refund.objects.filter(
            status=Refund.Status.PENDING,
            created_at__lt=timezone.now() - STALE_REFUND,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:200]
    )
    for refund_id in ids:
        enqueue(REFUND_RESUME_TASK, refund_id)
    return ids


def order_refund_auto(*, order_id: int) -> Refund | None:
    """Refund a paid order that could not get its codes, and tell both sides."""
    order = Order.objects.get(pk=order_id)
    if order.status != OS.PAID:
        return None
    return order_refund(
        order=order,
        source=Refund.Source.AUTOMATIC,
        reason="Sold out before the payment arrived",
    )


def orders_refund_sweep() -> list[int]:
    """Paid orders that found no code and are still not refunded a while later: queue
    their automatic refund again (its queue message was lost, or every try failed)."""
    ids = list(
        Order.objects.filter(status=OS.PAID, paid_at__lt=timezone.now() - STALE_REFUND)
        .order_by("paid_at")
        .values_list("pk", flat=True)[:200]
    )
    for order_id in ids:
        enqueue(REFUND_AUTO_TASK, order_id)
    return ids


@dataclass(frozen=True)
class CodeCancellation:
    """A sold code the seller cancelled: refunded for (`refund`), or not, with a reason."""

    code: Code
    refund: Refund | None


def sold_code_cancel(
    *, code: Code, by: Any, refund: bool, reason: str
) -> CodeCancellation:
    """The seller cancels a code they sold (Validate a code, the API).

    They choose on the spot: refund the buyer for it (the refund cancels the code
    and tells the buyer), or keep the money and record a reason, which the buyer
    reads on their order page and in an email. A code nobody bought is simply
    withdrawn. Raises RefundError, FieldError (no reason) or CodesError.
    """
    reason = reason.strip()[:300]
    with transaction.atomic():
        # Decide on the code as it is now, locked: not on what the caller read.
        code = Code.objects.select_for_update(of=("self",)).get(pk=code.pk)
        sold = code.status in Code.SOLD_STATUSES
        order_id = code.order_id if sold else None
        if order_id is None or not refund:
            if order_id is not None and not reason:
                raise FieldError(
                    "reason",
                    _(
                        "Tell the buyer why their code is cancelled (they will read it), "
                        "or refund them."
                    ),
                )
            state = code_cancel_by_id(
                seller_id=code.seller_id, code_id=code.pk, reason=reason
            )
            if order_id is not None:
                enqueue_on_commit(CODE_CANCELLED_TASK, code.pk)
            return CodeCancellation(code=state.code, refund=None)
    # A refund calls the provider: outside the lock (order_refund locks the order).
    done = order_refund(
        order=Order.objects.get(pk=order_id),
        code_ids=[code.pk],
        by=by,
        reason=reason or "Cancelled by the seller",
    )
    # A refund already pending for the order was resumed instead of this one.
    if code.pk not in done.code_ids:
        raise RefundError(
            _("Another refund of this order was in progress; try again in a minute.")
        )
    code.refresh_from_db()
    return CodeCancellation(code=code, refund=done)
