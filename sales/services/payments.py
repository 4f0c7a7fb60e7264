"""Payment outcomes: confirm (sell and deliver), fail, expire, reconcile.

The same services serve the dev payment page, the provider's webhooks and
`reconcile_payments`. A code reaches a buyer only after the provider confirms
payment (invariant 2); every outcome is idempotent and race-free: the payment
and its order are locked, always in that order.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from codes.exceptions import OutOfStock
from codes.services.allocation import (
    codes_allocate,
    codes_mark_sold,
    codes_release,
)
from distribly.tasks import enqueue_on_commit
from listings.services import listing_stock_deferred
from sales.models import Order, Payment
from sales.payments import get_provider
from sales.payments.base import ProviderStatus

from .backorders import order_backorder
from .earnings import ledger_sale
from .fraud import hold_reason, order_deliver_codes, order_hold
from .refunds import REFUND_AUTO_TASK
from .stock import stock_check_due

logger = logging.getLogger(__name__)

OS = Order.Status


def _locked(payment_id: int) -> tuple[Payment, Order]:
    """Lock a payment and its order (always in this order: no deadlocks)."""
    payment = (
        Payment.objects.select_related("order")
        .select_for_update(of=("self", "order"))
        .get(pk=payment_id)
    )
    return payment, payment.order


def payment_confirm(*, payment_id: int, status: ProviderStatus | None = None) -> Order:
    """The provider confirmed the money: sell the reserved codes and deliver them,
    or hold them for checking when the payment looks risky (sales.services.fraud).

    Idempotent and race-free: the payment and order rows are locked, a confirmed
    payment is a no-op, and codes are only sold once (their order_id never
    changes after sale). If the reservation was released meanwhile (expiry), fresh
    codes are allocated; if none remain, the order is refunded automatically.
    `status` is what the provider said about the payment (its id, risk, card).
    """
    status = status or ProviderStatus(state="paid")
    with transaction.atomic(), listing_stock_deferred():
        payment, order = _locked(payment_id)
        if payment.status == Payment.Status.CONFIRMED:
            return order
        payment.status = Payment.Status.CONFIRMED
        payment.confirmed_at = now = timezone.now()
        payment.provider_payment_id = (
            status.provider_payment_id or payment.provider_payment_id
        )
        payment.risk_level = status.risk_level
        payment.card_fingerprint = status.card_fingerprint
        payment.save(
            update_fields=[
                "status",
                "confirmed_at",
                "provider_payment_id",
                "risk_level",
                "card_fingerprint",
            ]
        )
        if order.status in (
            OS.PAID,
            OS.FULFILLED,
            OS.REFUNDED,
            OS.HELD,
            OS.BACKORDERED,
        ):
            # A second payment for a settled order: staff refund it from admin.
            logger.warning("order %s: extra payment %s confirmed", order.pk, payment.pk)
            return order
        # While an order is pending, exactly its quantity of codes is reserved for it
        # (reserved with the order, released only with a status change under this
        # lock). An expired or failed order holds none: it gets fresh codes, if any remain.
        late = order.status != OS.PENDING
        if late and not _allocate_again(order, now):
            return order
        if (
            codes_mark_sold(listing_id=order.listing_id, order_id=order.pk)
            != order.quantity
        ):
            # the invariant above broke: roll everything back rather than sell wrong
            raise RuntimeError(
                f"order {order.pk}: reserved codes do not match its quantity"
            )
        order.paid_at = now
        ledger_sale(order)
        # A late payment's allocation has not moved the counter yet (deferred to
        # the commit): it always gets the check.
        if late or stock_check_due(listing_id=order.listing_id):
            enqueue_on_commit("sales.tasks.order_fulfilled", order.pk)
        reason = hold_reason(order=order, payment=payment)
        if reason:
            order_hold(order=order, reason=reason)
        else:
            order_deliver_codes(order=order)
    return order


def _allocate_again(order: Order, now: datetime) -> bool:
    """Fresh codes for a late payment. False if none remain: the order waits for codes
    when its listing takes backorders, else it is refunded automatically."""
    try:
        with transaction.atomic():
            codes_allocate(
                listing_id=order.listing_id,
                order_id=order.pk,
                quantity=order.quantity,
                reserved_until=now,
            )
    except OutOfStock:
        ledger_sale(order)
        if order.listing.allow_backorders:
            order_backorder(order=order, now=now)
            return False
        order.status = OS.PAID
        order.paid_at = now
        order.note = "Sold out before the payment arrived: refunded automatically."
        order.save(update_fields=["status", "paid_at", "note"])
        enqueue_on_commit(REFUND_AUTO_TASK, order.pk)
        return False
    return True


def _payment_end(payment_id: int, payment_status: str, order_status: str) -> Order:
    """A payment that will not arrive: mark it, and release a still-pending order's codes.

    A paid, fulfilled or refunded order is never touched (events may come late).
    """
    with transaction.atomic():
        payment, order = _locked(payment_id)
        if payment.status in (Payment.Status.CREATED, Payment.Status.PENDING):
            payment.status = payment_status
            payment.save(update_fields=["status"])
        if order.status == OS.PENDING:
            codes_release(listing_id=order.listing_id, order_id=order.pk)
            order.status = order_status
            order.save(update_fields=["status"])
    return order


def payment_fail(*, payment_id: int) -> Order:
    """The buyer declined or the payment failed: release the reservation."""
    return _payment_end(payment_id, Payment.Status.FAILED, OS.FAILED)


def payment_expire(*, payment_id: int) -> Order:
    """The payment session expired: release the reservation."""
    return _payment_end(payment_id, Payment.Status.EXPIRED, OS.EXPIRED)


def orders_expire_reservations() -> int:
    """Release the codes of pending orders whose reservation ran out (periodic)."""
    due = list(
        Order.objects.filter(
            status=OS.PENDING, reserved_until__lt=timezone.now()
        ).values_list("pk", flat=True)[:1000]
    )
    count = 0
    for order_id in due:
        for payment_id in Payment.objects.filter(order_id=order_id).values_list(
            "pk", flat=True
        ):
            if payment_expire(payment_id=payment_id).status == OS.EXPIRED:
                count += 1
                break
    return count


def payment_reconcile(*, payment: Payment) -> str:
    """Ask the provider for the truth about a payment, for missed webhooks."""
    status = get_provider(payment.provider).fetch_status(payment=payment)
    if status.state == "paid":
        payment_confirm(payment_id=payment.pk, status=status)
    elif status.state == "expired":
        payment_expire(payment_id=payment.pk)
    elif status.state == "failed":
        payment_fail(payment_id=payment.pk)
    return status.state
