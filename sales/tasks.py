"""Thin Celery wrappers: take ids, load rows, call one service, decide retries.

Each task keeps the registered name it always had (queued messages and the beat
schedule use it); the functions end in `_task` so they never shadow a service.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from codes.models import Code
from distribly.accounts.models import User
from distribly.mail import TRANSIENT_EMAIL_ERRORS
from distribly.tasks import DB_ERRORS
from listings.models import Listing

from .emails import (
    backorder_waiting_message,
    claim_messages,
    code_cancelled_message,
    disable_reminder_message,
    dispute_message,
    refund_messages,
    stock_alert_message,
)
from .exceptions import ClaimError, RefundError
from .models import Claim, Dispute, Order, Refund
from .payments.base import PaymentError
from .services.backorders import backorders_fill, backorders_sweep
from .services.cancelled import codes_disable_remind
from .services.claims import claim_refund_unanswered, claims_unanswered_sweep
from .services.delivery import deliveries_sweep, delivery_give_up, order_deliver
from .services.disputes import dispute_recover, dispute_stage
from .services.fraud import (
    order_refund_fraud,
    orders_fraud_refund_sweep,
    orders_release_due,
)
from .services.payments import orders_expire_reservations
from .services.refunds import (
    order_refund_auto,
    orders_refund_sweep,
    refund_resume,
    refunds_pending_sweep,
)
from .services.stock import listings_stock_sweep, order_after_fulfilment
from .vault_tasks import *  # noqa: F403 - registers the vault's tasks with Celery

logger = logging.getLogger(__name__)


@shared_task(name="sales.tasks.order_deliver", bind=True, max_retries=8)
def order_deliver_task(self: Task[Any, None], delivery_id: int) -> None:
    try:
        order_deliver(delivery_id=delivery_id)
    except TRANSIENT_EMAIL_ERRORS + DB_ERRORS as e:
        if self.request.retries >= (self.max_retries or 0):
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


@shared_task(
    name="sales.tasks.order_fulfilled",
    autoretry_for=DB_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def order_fulfilled_task(order_id: int) -> None:
    """After a sale: sold-out and low-stock checks (idempotent)."""
    order_after_fulfilment(order_id=order_id)


@shared_task(
    name="sales.tasks.email_stock_alert",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_stock_alert_task(listing_id: int, kind: str, available: int) -> None:
    listing = Listing.objects.select_related("seller").get(pk=listing_id)
    stock_alert_message(listing, kind, available).send()


@shared_task(
    name="sales.tasks.email_refund_notices",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_refund_notices_task(refund_id: int) -> None:
    refund = Refund.objects.select_related("order__listing__seller").get(pk=refund_id)
    for message in refund_messages(refund):
        message.send()


@shared_task(name="sales.tasks.order_refund_auto", bind=True, max_retries=10)
def order_refund_auto_task(self: Task[Any, None], order_id: int) -> None:
    try:
        order_refund_auto(order_id=order_id)
    except RefundError as e:
        raise self.retry(
            exc=e, countdown=min(3600, 30 * 2**self.request.retries)
        ) from e


@shared_task(name="sales.tasks.refund_resume", bind=True, max_retries=6)
def refund_resume_task(self: Task[Any, None], refund_id: int) -> None:
    try:
        refund_resume(refund_id=refund_id)
    except RefundError as e:
        # Refused for good: the refund is marked failed (staff see it); else retry.
        if Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING).exists():
            raise self.retry(
                exc=e, countdown=min(1800, 60 * 2**self.request.retries)
            ) from e


@shared_task(name="sales.tasks.refunds_pending_sweep")
def refunds_pending_sweep_task() -> None:
    refunds_pending_sweep()


@shared_task(name="sales.tasks.orders_expire_reservations")
def orders_expire_reservations_task() -> None:
    orders_expire_reservations()


@shared_task(name="sales.tasks.deliveries_sweep")
def deliveries_sweep_task() -> None:
    deliveries_sweep()


@shared_task(name="sales.tasks.listings_stock_sweep")
def listings_stock_sweep_task() -> None:
    listings_stock_sweep()


@shared_task(name="sales.tasks.orders_refund_sweep")
def orders_refund_sweep_task() -> None:
    orders_refund_sweep()


@shared_task(
    name="sales.tasks.email_code_cancelled",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_code_cancelled_task(code_id: int) -> None:
    code = Code.objects.get(pk=code_id)
    if code.order_id is None:
        return
    order = Order.objects.select_related("listing__seller").get(pk=code.order_id)
    code_cancelled_message(code, order).send()


@shared_task(
    name="sales.tasks.email_dispute",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_dispute_task(dispute_id: int) -> None:
    dispute = Dispute.objects.select_related("order__listing__seller").get(
        pk=dispute_id
    )
    dispute_message(dispute).send()


@shared_task(name="sales.tasks.dispute_stage_evidence", bind=True, max_retries=8)
def dispute_stage_evidence_task(self: Task[Any, None], dispute_id: int) -> None:
    """Stage our evidence on the provider's dispute (not submitted)."""
    try:
        dispute_stage(dispute_id=dispute_id)
    except PaymentError as e:
        if e.permanent:
            logger.warning("dispute %s: evidence not staged: %s", dispute_id, e)
            return
        raise self.retry(
            exc=e, countdown=min(1800, 30 * 2**self.request.retries)
        ) from e


@shared_task(name="sales.tasks.order_refund_fraud", bind=True, max_retries=10)
def order_refund_fraud_task(self: Task[Any, None], order_id: int) -> None:
    """An early fraud warning: refund the order and cancel its codes."""
    try:
        order_refund_fraud(order_id=order_id)
    except RefundError as e:
        raise self.retry(
            exc=e, countdown=min(3600, 30 * 2**self.request.retries)
        ) from e


@shared_task(name="sales.tasks.orders_release_holds")
def orders_release_holds_task() -> None:
    """Held orders whose hold ran out; fraud-warned orders still to refund."""
    orders_release_due()
    orders_fraud_refund_sweep()


@shared_task(name="sales.tasks.dispute_recover", bind=True, max_retries=10)
def dispute_recover_task(self: Task[Any, None], dispute_id: int) -> None:
    """A lost dispute: take the amount back from the seller's account."""
    try:
        dispute_recover(dispute_id=dispute_id)
    except PaymentError as e:
        if e.permanent:
            logger.error("dispute %s: transfer not reversed: %s", dispute_id, e)
            return
        raise self.retry(
            exc=e, countdown=min(3600, 60 * 2**self.request.retries)
        ) from e


# --- After the sale: claims, backorders, cancelled codes ------------------------------


@shared_task(
    name="sales.tasks.email_claim",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_claim_task(claim_id: int, event: str) -> None:
    claim = Claim.objects.select_related("order__listing__seller", "replacement").get(
        pk=claim_id
    )
    for message in claim_messages(claim, event):
        message.send()


@shared_task(name="sales.tasks.claim_refund_unanswered", bind=True, max_retries=10)
def claim_refund_unanswered_task(self: Task[Any, None], claim_id: int) -> None:
    """A claim the seller left unanswered past its deadline: refund the code."""
    try:
        claim_refund_unanswered(claim_id=claim_id)
    except RefundError as e:
        raise self.retry(
            exc=e, countdown=min(3600, 30 * 2**self.request.retries)
        ) from e
    except ClaimError:
        pass  # answered meanwhile


@shared_task(name="sales.tasks.claims_unanswered_sweep")
def claims_unanswered_sweep_task() -> None:
    claims_unanswered_sweep()


@shared_task(
    name="sales.tasks.backorders_fill", autoretry_for=DB_ERRORS, retry_backoff=True
)
def backorders_fill_task(listing_id: int) -> None:
    backorders_fill(listing_id=listing_id)


@shared_task(name="sales.tasks.backorders_sweep")
def backorders_sweep_task() -> None:
    backorders_sweep()


@shared_task(
    name="sales.tasks.email_backorder_waiting",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_backorder_waiting_task(order_id: int) -> None:
    order = Order.objects.select_related("listing__seller").get(pk=order_id)
    if order.status == Order.Status.BACKORDERED:
        backorder_waiting_message(order).send()


@shared_task(name="sales.tasks.codes_disable_remind")
def codes_disable_remind_task() -> None:
    codes_disable_remind()


@shared_task(
    name="sales.tasks.email_disable_reminder",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_disable_reminder_task(seller_id: int, code_ids: str) -> None:
    codes = list(
        Code.objects.filter(
            pk__in=[int(i) for i in code_ids.split(",") if i],
            seller_id=seller_id,
            seller_disabled_at__isnull=True,
        )
        .select_related("listing")
        .order_by("pk")
    )
    if codes:
        seller = User.objects.get(pk=seller_id)
        disable_reminder_message(seller, codes).send()
