"""Fraud hold: a risky paid order keeps its codes hidden until it is released.

Risky means the provider rated the payment's risk (FRAUD_HOLD_RISK_LEVELS), or the
order trips a velocity rule: more than FRAUD_VELOCITY_MAX_ORDERS orders or
FRAUD_VELOCITY_MAX_CODES codes from one email, card or network within
FRAUD_VELOCITY_WINDOW. A held order is paid and its codes are sold to it (never
sold twice, never back in stock), but neither emailed nor shown until staff
release it or FRAUD_HOLD passes without an early fraud warning. An early fraud
warning on a held or delivered order refunds it and cancels its codes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.services.allocation import codes_emit_sold
from distribly.tasks import enqueue, enqueue_on_commit
from sales.models import Delivery, Order, Payment, Refund
from sales.payments import get_provider
from sales.payments.base import ProviderEvent

from .delivery import DELIVER_TASK
from .refunds import order_refund

OS = Order.Status
FRAUD_REFUND_TASK = "sales.tasks.order_refund_fraud"
PAID_STATUSES = [OS.PAID, OS.FULFILLED, OS.HELD, OS.REFUNDED, OS.BACKORDERED]
# A fraud warning refunds these (codes or not).
WARNED_REFUNDABLE = [OS.HELD, OS.FULFILLED, OS.PAID, OS.BACKORDERED]


def hold_reason(*, order: Order, payment: Payment) -> str:
    """Why this just-paid order should be held, or "" to deliver it now."""
    if payment.risk_level in settings.FRAUD_HOLD_RISK_LEVELS:
        return f"The payment provider rated this payment's risk {payment.risk_level}."
    window = settings.FRAUD_VELOCITY_WINDOW
    recent = Order.objects.filter(
        status__in=PAID_STATUSES, paid_at__gte=timezone.now() - window
    ).exclude(pk=order.pk)
    rules: list[tuple[str, Q]] = [("email", Q(email=order.email))]
    if payment.card_fingerprint:
        rules.append(
            (
                "card",
                Q(
                    pk__in=Payment.objects.filter(
                        card_fingerprint=payment.card_fingerprint
                    ).values("order_id")
                ),
            )
        )
    if order.client_network:
        rules.append(("network", Q(client_network=order.client_network)))
    minutes = int(window.total_seconds() // 60)
    # At most FRAUD_VELOCITY_MAX_ORDERS earlier orders are read per rule: that many
    # already makes this one too many, and fewer are all there are. A busy address
    # (a shop's NAT) costs a few rows, not every order it paid this hour.
    cap = settings.FRAUD_VELOCITY_MAX_ORDERS
    for label, rule in rules:
        earlier = list(
            recent.filter(rule).order_by().values_list("quantity", flat=True)[:cap]
        )
        orders = len(earlier) + 1
        codes = sum(earlier) + order.quantity
        if (
            orders > settings.FRAUD_VELOCITY_MAX_ORDERS
            or codes > settings.FRAUD_VELOCITY_MAX_CODES
        ):
            return (
                f"{orders} orders ({codes} codes) from this {label} "
                f"in {minutes} minutes."
            )
    return ""


def order_hold(*, order: Order, reason: str) -> None:
    """Inside the confirming transaction: paid, codes sold, nothing delivered."""
    order.status = OS.HELD
    order.held_until = timezone.now() + settings.FRAUD_HOLD
    order.hold_reason = reason[:300]
    order.save(update_fields=["status", "paid_at", "held_until", "hold_reason"])


def order_deliver_codes(*, order: Order) -> None:
    """Inside a transaction holding the order's lock: fulfilled, and the buyer's
    email queued from an outbox row (the sweep sends it if the queue loses it)."""
    order.status = OS.FULFILLED
    order.fulfilled_at = timezone.now()
    order.save(update_fields=["status", "paid_at", "fulfilled_at"])
    delivery = Delivery.objects.create(order=order)
    # The seller's code.sold webhooks too (outbox rows): a seller's system that
    # provisions on them must not see a held order before it is released.
    codes_emit_sold(
        order_id=order.pk,
        order_reference=order.reference,
        seller_id=order.seller_id,
        buyer_email=order.email,
    )
    enqueue_on_commit(DELIVER_TASK, delivery.pk)


def order_release(*, order_id: int) -> bool:
    """Staff, or the hold running out: deliver a held order's codes. Never after an
    early fraud warning. Returns whether it was released now."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OS.HELD or order.fraud_warning_at is not None:
            return False
        order.hold_reason = ""
        order.save(update_fields=["hold_reason"])
        order_deliver_codes(order=order)
    return True


def orders_release_due() -> list[int]:
    """Release held orders whose hold ran out without an early fraud warning."""
    due = list(
        Order.objects.filter(
            status=OS.HELD,
            held_until__lt=timezone.now(),
            fraud_warning_at__isnull=True,
        ).values_list("pk", flat=True)[:500]
    )
    return [order_id for order_id in due if order_release(order_id=order_id)]


def fraud_warning_effect(
    provider_name: str, event: ProviderEvent
) -> Callable[[], object] | None:
    """`radar.early_fraud_warning.created`: re-fetched, then applied to its order."""
    warning = get_provider(provider_name).fraud_warning_fetch(
        warning_id=event.object_id
    )
    payment = Payment.objects.filter(
        provider=provider_name, provider_payment_id=warning.provider_payment_id
    ).first()
    if payment is None:
        return None
    return lambda: order_fraud_warning(order_id=payment.order_id)


def order_fraud_warning(*, order_id: int) -> None:
    """The card's issuer reported fraud: the order is never released, and it is
    refunded (a task: the refund calls the provider) and its codes cancelled."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.fraud_warning_at is not None:
            return
        order.fraud_warning_at = timezone.now()
        order.note = _("The card's issuer reported this payment as fraudulent.")
        order.save(update_fields=["fraud_warning_at", "note"])
        if order.status in WARNED_REFUNDABLE:
            enqueue_on_commit(FRAUD_REFUND_TASK, order.pk)


def order_refund_fraud(*, order_id: int) -> Refund | None:
    """Refund a fraud-warned order, until the provider refuses it for good (e.g. it is
    disputed meanwhile): then staff see the failed refund and nothing retries."""
    order = Order.objects.get(pk=order_id)
    if (
        order.status == OS.REFUNDED
        or order.refunded_amount >= order.amount
        or _fraud_refund_refused(order_id)
    ):
        return None
    return order_refund(
        order=order,
        source=Refund.Source.FRAUD,
        reason="Early fraud warning from the card's issuer",
    )


def orders_fraud_refund_sweep() -> list[int]:
    """Fraud-warned orders not refunded yet (their task was lost or kept failing)."""
    ids = list(
        Order.objects.filter(
            fraud_warning_at__lt=timezone.now() - timedelta(minutes=5),
            status__in=WARNED_REFUNDABLE,
        )
        .exclude(
            refunds__source=Refund.Source.FRAUD, refunds__status=Refund.Status.FAILED
        )
        .values_list("pk", flat=True)[:200]
    )
    for order_id in ids:
        enqueue(FRAUD_REFUND_TASK, order_id)
    return ids


def _fraud_refund_refused(order_id: int) -> bool:
    return Refund.objects.filter(
        order_id=order_id, source=Refund.Source.FRAUD, status=Refund.Status.FAILED
    ).exists()
