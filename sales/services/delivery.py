"""Delivery emails: an outbox of Delivery rows, claimed and sent by a task, swept
when a queue message is lost. Email never blocks or undoes an allocation
(invariant 7): the buyer can always read their codes on the order page.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from distribly.tasks import enqueue, enqueue_on_commit
from sales import emails
from sales.exceptions import OrderError
from sales.models import Delivery, Order, OrderPageView

STALE_SENDING = timedelta(minutes=10)
STALE_PENDING_DELIVERY = timedelta(minutes=2)
DELIVER_TASK = "sales.tasks.order_deliver"


def order_deliver(*, delivery_id: int) -> bool:
    """Send one delivery email. Claims the row first, so two runs send once.

    Returns True if this call sent it. Errors leave the row `pending` for a retry
    (the task decides whether to retry) and are re-raised.
    """
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=Delivery.Status.PENDING
    ).update(
        status=Delivery.Status.SENDING,
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )
    if not claimed:
        return False
    delivery = Delivery.objects.select_related("order__listing__seller").get(
        pk=delivery_id
    )
    try:
        emails.delivery_message(delivery.order).send()
    except Exception as e:
        Delivery.objects.filter(pk=delivery_id).update(
            status=Delivery.Status.PENDING, last_error=type(e).__name__[:300]
        )
        raise
    Delivery.objects.filter(pk=delivery_id).update(
        status=Delivery.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def delivery_give_up(*, delivery_id: int, error: str) -> None:
    Delivery.objects.filter(pk=delivery_id).exclude(status=Delivery.Status.SENT).update(
        status=Delivery.Status.FAILED, last_error=error[:300]
    )


def order_resend(*, order: Order) -> Delivery:
    """The buyer asks for the email again."""
    if not order.has_codes:
        raise OrderError(_("There are no codes to send for this order yet."))
    with transaction.atomic():
        recent = order.deliveries.filter(
            created_at__gt=timezone.now() - timedelta(minutes=1)
        ).exists()
        if recent:
            raise OrderError(
                _("We sent this email less than a minute ago; please check your inbox.")
            )
        delivery = Delivery.objects.create(order=order)
        enqueue_on_commit(DELIVER_TASK, delivery.pk)
    return delivery


def deliveries_sweep() -> list[int]:
    """Queue deliveries whose task never ran (broker down) or whose worker died."""
    now = timezone.now()
    Delivery.objects.filter(
        status=Delivery.Status.SENDING, updated_at__lt=now - STALE_SENDING
    ).update(status=Delivery.Status.PENDING)
    ids = list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING, updated_at__lt=now - STALE_PENDING_DELIVERY
        ).values_list("pk", flat=True)[:500]
    )
    for delivery_id in ids:
        enqueue(DELIVER_TASK, delivery_id)
    return ids


def orders_page_viewed(*, order_ids: Iterable[int], ip: str | None) -> None:
    """The buyer's order page or My purchases showed these orders' codes: one
    OrderPageView per order (dispute evidence), in one INSERT."""
    OrderPageView.objects.bulk_create(
        OrderPageView(order_id=order_id, ip=ip or None) for order_id in order_ids
    )
