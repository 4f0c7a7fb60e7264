"""Thin Celery wrappers: take ids, load rows, call one service, decide retries."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from listings.tasks import TRANSIENT_EMAIL_ERRORS

logger = logging.getLogger(__name__)
DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(bind=True, max_retries=8)
def order_deliver(self, delivery_id: int) -> None:  # type: ignore[no-untyped-def]
    from .services import delivery_give_up
    from .services import order_deliver as run

    try:
        run(delivery_id=delivery_id)
    except TRANSIENT_EMAIL_ERRORS + DB_ERRORS as e:
        if self.request.retries >= self.max_retries:
            delivery_give_up(
                delivery_id=delivery_id, error=f"gave up: {type(e).__name__}"
            )
            raise
        # Exponential backoff: 2, 4, 8 … seconds, capped at 10 minutes.
        raise self.retry(
            exc=e, countdown=min(600, 2 ** (self.request.retries + 1))
        ) from e
    except Exception as e:
        delivery_give_up(delivery_id=delivery_id, error=type(e).__name__)
        logger.exception("delivery %s failed permanently", delivery_id)
        raise


@shared_task(autoretry_for=DB_ERRORS, retry_backoff=True, max_retries=5)
def order_fulfilled(order_id: int) -> None:
    """After a sale: sold-out and low-stock checks (idempotent)."""
    from .services import order_after_fulfilment

    order_after_fulfilment(order_id=order_id)


@shared_task(
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS, retry_backoff=True, max_retries=8
)
def email_stock_alert(listing_id: int, kind: str, available: int) -> None:
    from listings.models import Listing

    from .emails import stock_alert_message

    listing = Listing.objects.select_related("seller").get(pk=listing_id)
    stock_alert_message(listing, kind, available).send()


@shared_task(
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS, retry_backoff=True, max_retries=8
)
def email_refund_notices(refund_id: int) -> None:
    from .emails import refund_messages
    from .models import Refund

    refund = Refund.objects.select_related("order__listing__seller").get(pk=refund_id)
    for message in refund_messages(refund):
        message.send()


@shared_task(bind=True, max_retries=10)
def order_refund_auto(self, order_id: int) -> None:  # type: ignore[no-untyped-def]
    from .exceptions import RefundError
    from .services import order_refund_auto as run

    try:
        run(order_id=order_id)
    except RefundError as e:
        raise self.retry(
            exc=e, countdown=min(3600, 30 * 2**self.request.retries)
        ) from e


@shared_task
def orders_expire_reservations() -> None:
    from .services import orders_expire_reservations as run

    run()


@shared_task
def deliveries_sweep() -> None:
    from .services import deliveries_sweep as run

    run()


@shared_task
def listings_stock_sweep() -> None:
    from .services import listings_stock_sweep as run

    run()
