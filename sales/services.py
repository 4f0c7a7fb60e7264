"""Checkout, payment confirmation, delivery, stock alerts and refunds.

A code reaches a buyer only after the provider confirms payment (invariant 2);
every confirmation, expiry and refund is idempotent and safe under concurrency
(the order row is the lock). Provider calls and email happen outside
transactions; tasks are queued on commit, and an outbox (Delivery rows) plus a
sweep means a lost queue message never loses an email.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.exceptions import OutOfStock
from codes.services import (
    codes_allocate,
    codes_cancel,
    codes_emit_sold,
    codes_mark_sold,
    codes_release,
)
from codes.webhooks import webhook_emit
from listings.models import Listing
from listings.services import listing_sync_stock

from . import emails
from .exceptions import OrderError, RefundError
from .models import Delivery, Order, Payment, Refund
from .payments import get_provider
from .payments.base import PaymentError

logger = logging.getLogger(__name__)

# Stripe Checkout sessions must live at least 30 minutes; the reservation matches.
RESERVATION = timedelta(minutes=31)
STALE_SENDING = timedelta(minutes=10)
STALE_PENDING_DELIVERY = timedelta(minutes=2)
STALE_REFUND = timedelta(minutes=5)
OS = Order.Status


def _enqueue(task: Any, *args: Any) -> None:
    """Queue a task after commit. If the broker is down the row it works on stays
    pending and a periodic sweep queues it again: nothing is lost."""

    def send() -> None:
        try:
            task.delay(*args)
        except Exception as e:  # kombu OperationalError, redis ConnectionError, …
            logger.warning(
                "could not queue %s%s (%s); the sweep will retry",
                task.name,
                args,
                type(e).__name__,
            )

    transaction.on_commit(send)


# --- Checkout --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    payment: Payment


def order_place(
    *,
    listing_id: int,
    quantity: int,
    email: str,
    buyer: Any = None,
    language: str = "en",
) -> PlacedOrder:
    """Create a pending order and reserve its codes, in one transaction.

    Raises OutOfStock (nothing is written) or OrderError.
    """
    with transaction.atomic():
        listing = Listing.objects.get(pk=listing_id)
        if listing.status != Listing.Status.ACTIVE:
            raise OrderError(_("Sorry, this item is not on sale right now."))
        if not 1 <= quantity <= listing.max_per_order:
            raise OrderError(
                _("You can buy between 1 and %(max)d at a time.")
                % {"max": listing.max_per_order}
            )
        order = Order.objects.create(
            listing=listing,
            seller_id=listing.seller_id,
            buyer=buyer if buyer is not None and buyer.is_authenticated else None,
            email=email.strip().lower(),
            language=language,
            quantity=quantity,
            unit_price=listing.price,
            amount=listing.price * quantity,
            currency=listing.currency,
            reserved_until=timezone.now() + RESERVATION,
        )
        codes_allocate(
            listing_id=listing.pk,
            order_id=order.pk,
            quantity=quantity,
            reserved_until=order.reserved_until,
        )
        payment = Payment.objects.create(
            order=order,
            provider=settings.PAYMENT_PROVIDER,
            amount=order.amount,
            currency=order.currency,
        )
    return PlacedOrder(order, payment)


def checkout_start(*, placed: PlacedOrder, success_url: str, cancel_url: str) -> str:
    """Open the provider's payment page; returns where to send the buyer.

    If the provider cannot be reached the reservation is released at once.
    """
    provider = get_provider(placed.payment.provider)
    try:
        checkout = provider.start_checkout(
            payment=placed.payment,
            order=placed.order,
            success_url=success_url,
            cancel_url=cancel_url,
        )
    except PaymentError:
        payment_fail(payment_id=placed.payment.pk)
        raise
    Payment.objects.filter(pk=placed.payment.pk).update(
        provider_ref=checkout.provider_ref, status=Payment.Status.PENDING
    )
    return checkout.url


# --- Payment events (the same services for the dev page, webhooks and reconcile) ------


def _locked(payment_id: int) -> tuple[Payment, Order]:
    """Lock a payment and its order (always in this order: no deadlocks)."""
    payment = (
        Payment.objects.select_related("order")
        .select_for_update(of=("self", "order"))
        .get(pk=payment_id)
    )
    return payment, payment.order


def payment_confirm(*, payment_id: int, provider_payment_id: str = "") -> Order:
    """The provider confirmed the money: sell the reserved codes and deliver them.

    Idempotent and race-free: the payment and order rows are locked, a confirmed
    payment is a no-op, and codes are only sold once (their order_id never
    changes after sale). If the reservation was released meanwhile (expiry), fresh
    codes are allocated; if none remain, the order is refunded automatically.
    """
    from .tasks import order_deliver, order_fulfilled, order_refund_auto

    with transaction.atomic():
        payment, order = _locked(payment_id)
        if payment.status == Payment.Status.CONFIRMED:
            return order
        payment.status = Payment.Status.CONFIRMED
        payment.confirmed_at = now = timezone.now()
        payment.provider_payment_id = provider_payment_id or payment.provider_payment_id
        payment.save(update_fields=["status", "confirmed_at", "provider_payment_id"])
        if order.status in (OS.PAID, OS.FULFILLED, OS.REFUNDED):
            # A second payment for a settled order: staff refund it from admin.
            logger.warning("order %s: extra payment %s confirmed", order.pk, payment.pk)
            return order
        # While an order is pending, exactly its quantity of codes is reserved for it
        # (reserved with the order, released only with a status change under this
        # lock). An expired or failed order holds none: it gets fresh codes, if any remain.
        if order.status != OS.PENDING:
            try:
                with transaction.atomic():
                    codes_allocate(
                        listing_id=order.listing_id,
                        order_id=order.pk,
                        quantity=order.quantity,
                        reserved_until=now,
                    )
            except OutOfStock:
                order.status = OS.PAID
                order.paid_at = now
                order.note = (
                    "Sold out before the payment arrived: refunded automatically."
                )
                order.save(update_fields=["status", "paid_at", "note"])
                _enqueue(order_refund_auto, order.pk)
                return order
        if codes_mark_sold(order_id=order.pk) != order.quantity:
            # the invariant above broke: roll everything back rather than sell wrong
            raise RuntimeError(
                f"order {order.pk}: reserved codes do not match its quantity"
            )
        order.status = OS.FULFILLED
        order.paid_at = order.fulfilled_at = now
        order.save(update_fields=["status", "paid_at", "fulfilled_at"])
        # Outbox rows in this transaction: the buyer's email and the seller's code.sold
        # webhooks survive a broker outage (the sweeps queue them again).
        delivery = Delivery.objects.create(order=order)
        codes_emit_sold(
            order_id=order.pk, seller_id=order.seller_id, buyer_email=order.email
        )
        _enqueue(order_deliver, delivery.pk)
        _enqueue(order_fulfilled, order.pk)
    return order


def order_after_fulfilment(*, order_id: int) -> None:
    """After a sale commits: sold-out and low-stock checks (the stock sweep repeats
    them for any listing whose message was lost)."""
    order = Order.objects.only("listing_id").get(pk=order_id)
    listing_stock_alerts(listing_id=order.listing_id)


def listings_stock_sweep() -> list[int]:
    """Active listings with nothing left for sale: run the stock check that a lost
    queue message would have run (invariant 4 holds again within minutes)."""
    from codes.models import Code

    for_sale = Code.objects.filter(
        listing_id=OuterRef("pk"), status=Code.Status.AVAILABLE, approved=True
    )
    ids = list(
        Listing.objects.filter(status=Listing.Status.ACTIVE)
        .exclude(Exists(for_sale))
        .values_list("pk", flat=True)[:500]
    )
    for listing_id in ids:
        listing_stock_alerts(listing_id=listing_id)
    return ids


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
            codes_release(order_id=order.pk)
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
        payment_confirm(
            payment_id=payment.pk, provider_payment_id=status.provider_payment_id
        )
    elif status.state == "expired":
        payment_expire(payment_id=payment.pk)
    elif status.state == "failed":
        payment_fail(payment_id=payment.pk)
    return status.state


# --- Delivery ----------------------------------------------------------------------------


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
        from .tasks import order_deliver

        _enqueue(order_deliver, delivery.pk)
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
    from .tasks import order_deliver

    for delivery_id in ids:
        order_deliver.delay(delivery_id)
    return ids


# --- Stock alerts --------------------------------------------------------------------------


def listing_stock_alerts(*, listing_id: int) -> list[str]:
    """After a sale: sold-out deactivation and alerts, each sent once per crossing."""
    sent: list[str] = []
    with transaction.atomic():
        listing = listing_sync_stock(listing_id=listing_id)
        available: int = listing.available  # type: ignore[attr-defined]
        if (
            listing.previous_status == Listing.Status.ACTIVE
            and listing.status == Listing.Status.SOLD_OUT
        ):  # type: ignore[attr-defined]
            sent.append("sold_out")
        threshold = listing.low_stock_threshold
        if (
            threshold is not None
            and 0 < available < threshold
            and not listing.low_stock_alerted
        ):
            Listing.objects.filter(pk=listing.pk).update(low_stock_alerted=True)
            sent.append("low_stock")
        from .tasks import email_stock_alert

        for kind in sent:
            _enqueue(email_stock_alert, listing.pk, kind, available)
            webhook_emit(
                seller_id=listing.seller_id,
                event=f"listing.{kind}",
                data={
                    "listing": {"id": listing.pk, "title": listing.title},
                    "available": available,
                    "threshold": threshold,
                },
            )
    return sent


# --- Refunds -------------------------------------------------------------------------------


def _refundable_codes(order: Order) -> list[int]:
    from codes.models import Code

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
        from .tasks import email_refund_notices

        _enqueue(email_refund_notices, refund.pk)
    return refund


def payment_refunded_externally(*, provider_name: str, object_id: str) -> Refund | None:
    """A refund made in the provider's dashboard (Stripe `charge.refunded`).

    Compares the charge's refunded total with what we know (pending refunds
    included, so our own refunds are never counted twice) and cancels as many
    units, newest first, as the extra amount pays for.
    """
    info = get_provider(provider_name).fetch_charge_refunds(object_id=object_id)
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


def orders_for_buyer(*, user: Any) -> Any:
    """My purchases: orders placed while signed in, or to one of the user's verified emails."""
    from allauth.account.models import EmailAddress

    emails_ = EmailAddress.objects.filter(user=user, verified=True).values_list(
        "email", flat=True
    )
    return (
        Order.objects.filter(Q(buyer=user) | Q(email__in=[e.lower() for e in emails_]))
        .exclude(status=OS.PENDING, reserved_until__lt=timezone.now())
        .select_related("listing")
        .order_by("-created_at")
    )
