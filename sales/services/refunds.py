"""Refunds: through the provider that took the money, once, then the codes cancelled.

Provider calls happen outside transactions: a Refund row is written first
(pending, its id the idempotency key), the provider is called, then the result
is recorded under the order's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.models import Code
from codes.services.allocation import codes_cancel
from codes.services.validation import code_cancel_by_id
from distribly.errors import FieldError
from distribly.tasks import enqueue, enqueue_on_commit
from sales.exceptions import RefundError
from sales.models import Order, Payment, Refund
from sales.payments import get_provider
from sales.payments.base import ChargeRefunds, PaymentError

STALE_REFUND = timedelta(minutes=5)
OS = Order.Status
REFUND_AUTO_TASK = "sales.tasks.order_refund_auto"
CODE_CANCELLED_TASK = "sales.tasks.email_code_cancelled"


def _refundable_codes(order: Order) -> list[int]:
    return list(
        Code.objects.filter(
            order_id=order.pk, status__in=[Code.Status.SOLD, Code.Status.REDEEMED]
        )
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
) -> Refund:
    """Refund an order or some of its units through its provider and cancel the codes.

    One provider refund per request, even when it is repeated: a pending refund
    blocks others on the same order, and the provider call carries the refund's
    id as idempotency key, so a retry after a crash cannot refund twice.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        pending = order.refunds.filter(status=Refund.Status.PENDING).first()
        if pending is not None:
            if pending.created_at > timezone.now() - STALE_REFUND:
                raise RefundError(_("A refund of this order is already in progress."))
            refund = pending  # resume: same idempotency key, same provider refund
        else:
            refundable = _refundable_codes(order)
            if (
                order.status == OS.PAID
                and not refundable
                and source == Refund.Source.AUTOMATIC
            ):
                wanted: list[int] = []
                amount = order.amount - order.refunded_amount
            else:
                if order.status not in (OS.FULFILLED, OS.REFUNDED):
                    raise RefundError(
                        _("Only a paid order with codes can be refunded.")
                    )
                wanted = (
                    refundable
                    if code_ids is None
                    else [i for i in code_ids if i in refundable]
                )
                if not wanted:
                    raise RefundError(
                        _("Those codes are already refunded or cancelled.")
                    )
                amount = order.unit_price * len(wanted)
            payment = order.payments.filter(status=Payment.Status.CONFIRMED).first()
            if payment is None:
                raise RefundError(_("This order has no confirmed payment to refund."))
            refund = Refund.objects.create(
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
    provider = get_provider(refund.payment.provider)
    try:
        result = provider.refund(
            payment=refund.payment,
            amount=refund.amount,
            idempotency_key=f"refund-{refund.pk}",
        )
    except PaymentError as e:
        if e.permanent:
            Refund.objects.filter(pk=refund.pk).update(
                status=Refund.Status.FAILED, error=str(e)[:300]
            )
        raise RefundError(
            _("The refund did not go through: %(reason)s") % {"reason": e}
        ) from e
    return _refund_complete(refund_id=refund.pk, provider_refund_id=result.refund_id)


def _refund_complete(*, refund_id: int, provider_refund_id: str) -> Refund:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == Refund.Status.SUCCEEDED:
            return refund
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        cancelled = (
            codes_cancel(order_id=order.pk, code_ids=refund.code_ids)
            if refund.code_ids
            else []
        )
        refund.status = Refund.Status.SUCCEEDED
        refund.provider_refund_id = provider_refund_id
        refund.completed_at = timezone.now()
        refund.code_ids = cancelled
        refund.save()
        order.refunded_amount = F("refunded_amount") + refund.amount
        order.save(update_fields=["refunded_amount"])
        order.refresh_from_db()
        if order.refunded_amount >= order.amount:
            order.status = OS.REFUNDED
            order.save(update_fields=["status"])
        enqueue_on_commit("sales.tasks.email_refund_notices", refund.pk)
    return refund


def payment_refunded_externally(
    *, provider_name: str, info: ChargeRefunds
) -> Refund | None:
    """A refund made in the provider's dashboard (Stripe `charge.refunded`), as the
    caller re-fetched it from the provider (`info`); no provider call here.

    Compares the charge's refunded total with what we know (pending refunds
    included, so our own refunds are never counted twice) and cancels as many
    units, newest first, as the extra amount pays for.
    """
    payment = Payment.objects.filter(
        provider=provider_name, provider_payment_id=info.provider_payment_id
    ).first()
    if payment is None:
        return None
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        known = order.refunds.filter(
            status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]
        ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
        extra = info.amount_refunded - known
        if extra <= 0:
            return None
        known_ids = set(order.refunds.values_list("provider_refund_id", flat=True))
        new_ids = [r for r in info.refund_ids if r not in known_ids]
        refundable = _refundable_codes(order)
        units = (
            min(len(refundable), int(extra // order.unit_price))
            if order.unit_price
            else 0
        )
        refund = Refund.objects.create(
            order=order,
            payment=payment,
            amount=extra,
            code_ids=refundable[len(refundable) - units :] if units else [],
            quantity=units,
            source=Refund.Source.PROVIDER,
            reason="Refunded in the payment provider's dashboard",
        )
    return _refund_complete(
        refund_id=refund.pk, provider_refund_id=new_ids[0] if new_ids else ""
    )


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
        sold = code.status in (Code.Status.SOLD, Code.Status.REDEEMED)
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
