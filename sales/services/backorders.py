"""Backorders (opt-in per listing, DESIGN "After the sale"): a paid order that found
no code waits in line, first paid first served, and is filled when codes are
approved; unfilled after BACKORDER_DAYS it is refunded automatically.

`backordered → fulfilled` (filled) or `backordered → paid → refunded` (too late).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from codes.exceptions import OutOfStock
from codes.services.allocation import codes_allocate_sold
from distribly.tasks import enqueue, enqueue_on_commit
from sales.models import Order, Payment, Refund

from .fraud import hold_reason, order_deliver_codes, order_hold
from .refunds import REFUND_AUTO_TASK

OS = Order.Status
FILL_TASK = "sales.tasks.backorders_fill"
WAITING_EMAIL_TASK = "sales.tasks.email_backorder_waiting"
WAITLIST_TASK = "listings.tasks.waitlist_notify"


def order_backorder(*, order: Order, now: datetime) -> None:
    """Inside the confirming transaction (the order locked): paid, no code yet; the
    buyer is told it is on its way."""
    order.status = OS.BACKORDERED
    order.paid_at = now
    order.backorder_until = now + timedelta(days=settings.BACKORDER_DAYS)
    order.save(update_fields=["status", "paid_at", "backorder_until"])
    enqueue_on_commit(WAITING_EMAIL_TASK, order.pk)


def backorders_fill(*, listing_id: int) -> list[int]:
    """Fill a listing's backorders from its stock, oldest payment first. Stops at the
    first order the stock cannot fill whole (nobody jumps the line), then tells the
    waitlist about what is left. Returns the ids of the orders filled."""
    filled: list[int] = []
    line = Order.objects.filter(listing_id=listing_id, status=OS.BACKORDERED)
    for order_id in line.order_by("paid_at", "pk").values_list("pk", flat=True)[:500]:
        outcome = _fill(order_id)
        if outcome is None:
            break  # not enough codes for the head of the line: everyone waits
        if outcome:
            filled.append(order_id)
    else:  # the line is served: whatever is left is for everyone
        enqueue(WAITLIST_TASK, listing_id)
    return filled


def _fill(order_id: int) -> bool | None:
    """Give one backorder its codes: True; None when there are not enough; False
    when it is not waiting any more or is passed over (being refunded, or reported
    as fraud: its refund ends it). A risky one gets its codes held, as at payment
    (sales.services.fraud)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if (
            order.status != OS.BACKORDERED
            or order.fraud_warning_at is not None
            or order.refunds.filter(status=Refund.Status.PENDING).exists()
        ):
            return False
        try:
            with transaction.atomic():
                codes_allocate_sold(
                    listing_id=order.listing_id,
                    order_id=order.pk,
                    quantity=order.quantity,
                )
        except OutOfStock:
            return None
        order.backorder_until = None
        order.save(update_fields=["backorder_until"])
        payment = order.payments.filter(status=Payment.Status.CONFIRMED).first()
        reason = hold_reason(order=order, payment=payment) if payment else ""
        if reason:
            order_hold(order=order, reason=reason)
        else:
            order_deliver_codes(order=order)
        enqueue_on_commit("sales.tasks.order_fulfilled", order.pk)
    return True


def backorders_expire() -> list[int]:
    """Backorders still unfilled at their limit: refunded automatically."""
    ids = []
    due = Order.objects.filter(
        status=OS.BACKORDERED, backorder_until__lt=timezone.now()
    ).values_list("pk", flat=True)[:200]
    for order_id in list(due):
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            if order.status != OS.BACKORDERED:
                continue
            order.status = OS.PAID  # paid, no codes: the automatic refund takes it
            order.note = "No new codes arrived in time: refunded automatically."
            order.save(update_fields=["status", "note"])
            enqueue_on_commit(REFUND_AUTO_TASK, order.pk)
            ids.append(order_id)
    return ids


def backorders_sweep() -> list[int]:
    """Periodic: refund overdue backorders, then queue a fill for every listing with
    a line (an approval's message may have been lost)."""
    backorders_expire()
    listing_ids = list(
        Order.objects.filter(status=OS.BACKORDERED)
        .values_list("listing_id", flat=True)
        .distinct()[:500]
    )
    for listing_id in listing_ids:
        enqueue(FILL_TASK, listing_id)
    return listing_ids
