"""Disputes (chargebacks): `open → won | lost`.

The event is a trigger: the dispute is re-fetched from the provider and our row
follows its state, so replayed or out-of-order events (closed before created, a
dispute on a refunded order) are harmless. Opening one emails the seller with the
code (so they can disable it) and stages evidence from our own records on the
provider's dispute, not submitted: staff review and submit it from the admin.
Losing one cancels the order's codes and records the loss in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from codes.models import Code
from codes.services.allocation import codes_cancel
from distribly.tasks import enqueue_on_commit
from sales.models import Delivery, Dispute, Order, OrderPageView, Payment, Refund
from sales.payments import get_provider
from sales.payments.base import DisputeState, PaymentError, ProviderEvent

from .earnings import dispute_seller_share, ledger_dispute_lost

STAGE_TASK = "sales.tasks.dispute_stage_evidence"
EMAIL_TASK = "sales.tasks.email_dispute"
RECOVER_TASK = "sales.tasks.dispute_recover"
CLOSED = {"won": Dispute.Status.WON, "lost": Dispute.Status.LOST}
DS = Dispute.Status


def dispute_effect(
    provider_name: str, event: ProviderEvent
) -> Callable[[], object] | None:
    """Re-fetch the dispute (no transaction open) and return its database effect."""
    state = get_provider(provider_name).dispute_fetch(dispute_id=event.object_id)
    payment = Payment.objects.filter(
        provider=provider_name, provider_payment_id=state.provider_payment_id
    ).first()
    if payment is None:
        return None
    return lambda: dispute_sync(order_id=payment.order_id, state=state)


def dispute_sync(*, order_id: int, state: DisputeState) -> Dispute:
    """Make our dispute match the provider's (idempotent)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        dispute, created = Dispute.objects.select_for_update().get_or_create(
            provider_dispute_id=state.dispute_id,
            defaults={
                "order": order,
                "amount": state.amount,
                "currency": state.currency,
                "reason": state.reason[:50],
                "evidence_due_by": state.evidence_due_by,
            },
        )
        if created:
            enqueue_on_commit(EMAIL_TASK, dispute.pk)
            enqueue_on_commit(STAGE_TASK, dispute.pk)
        outcome = CLOSED.get(state.status)
        if outcome is not None and dispute.status == DS.OPEN:
            _close(order, dispute, outcome)
    return dispute


def _close(order: Order, dispute: Dispute, outcome: str) -> None:
    dispute.status = outcome
    dispute.closed_at = timezone.now()
    dispute.save(update_fields=["status", "closed_at"])
    if outcome == DS.LOST:
        codes_cancel(order_id=order.pk, reason="The payment was disputed")
        ledger_dispute_lost(order, dispute)
        enqueue_on_commit(RECOVER_TASK, dispute.pk)
    enqueue_on_commit(EMAIL_TASK, dispute.pk)


def dispute_evidence(dispute: Dispute) -> dict[str, str]:
    """What our records say about the order, in the provider's evidence fields."""
    order = dispute.order
    delivered = (
        Delivery.objects.filter(order=order, status=Delivery.Status.SENT)
        .order_by("sent_at")
        .first()
    )
    views = list(OrderPageView.objects.filter(order=order).order_by("at")[:50])
    codes = list(Code.objects.filter(order_id=order.pk).order_by("id"))
    log = [
        f"{order.paid_at:%Y-%m-%d %H:%M:%S} UTC: paid (order {order.reference})"
        if order.paid_at
        else "",
        f"{delivered.sent_at:%Y-%m-%d %H:%M:%S} UTC: code(s) emailed to {order.email}"
        if delivered and delivered.sent_at
        else "",
        *(
            f"{v.at:%Y-%m-%d %H:%M:%S} UTC: order page with the code(s) shown to "
            f"{v.ip or 'unknown address'}"
            for v in views
        ),
        *(
            f"{c.redeemed_at:%Y-%m-%d %H:%M:%S} UTC: the seller's system recorded the "
            f"code as redeemed by {c.redeemed_by or 'an unnamed account'}"
            for c in codes
            if c.redeemed_at
        ),
    ]
    refunds = Refund.objects.filter(order=order, status=Refund.Status.SUCCEEDED)
    refunded = [
        f"{r.completed_at:%Y-%m-%d %H:%M:%S} UTC: refunded {r.amount} {order.currency}"
        for r in refunds.order_by("completed_at")
        if r.completed_at
    ]
    evidence = {
        "uncategorized_text": (
            "Already refunded to the buyer before the dispute:\n" + "\n".join(refunded)
            if refunded
            else ""
        ),
        "product_description": (
            f'{order.quantity} x "{order.listing.title}": a digital code '
            "delivered by email and on the order page."
        )[:20000],
        "customer_email_address": order.email,
        "service_date": f"{order.paid_at:%Y-%m-%d}" if order.paid_at else "",
        "access_activity_log": "\n".join(line for line in log if line)[:20000],
    }
    return {field: text for field, text in evidence.items() if text}


def dispute_stage(*, dispute_id: int, submit: bool = False) -> Dispute:
    """Put our evidence on the provider's dispute: staged for staff (`submit=False`),
    or sent to the bank by staff. Raises PaymentError."""
    dispute = Dispute.objects.select_related("order__listing").get(pk=dispute_id)
    evidence = dispute_evidence(dispute)
    payment = dispute.order.payments.filter(status=Payment.Status.CONFIRMED).first()
    if payment is None:
        raise PaymentError(
            "the disputed order has no confirmed payment", permanent=True
        )
    provider = get_provider(payment.provider)
    provider.dispute_evidence(
        dispute_id=dispute.provider_dispute_id, evidence=evidence, submit=submit
    )
    dispute.evidence = evidence
    fields = ["evidence"]
    if submit:
        dispute.evidence_submitted_at = timezone.now()
        fields.append("evidence_submitted_at")
    dispute.save(update_fields=fields)
    return dispute


def dispute_recover(*, dispute_id: int) -> bool:
    """A lost dispute comes out of the seller's share: reverse that much of the
    transfer to their account (once: the dispute's id is the idempotency key).
    Returns whether there was a transfer to reverse. Raises PaymentError."""
    dispute = Dispute.objects.select_related("order").get(pk=dispute_id)
    payment = dispute.order.payments.filter(status=Payment.Status.CONFIRMED).first()
    if dispute.status != DS.LOST or payment is None or not payment.destination:
        return False
    share = dispute_seller_share(dispute.order, dispute)
    if not share:
        return False
    get_provider(payment.provider).transfer_reverse(
        payment=payment, amount=share, idempotency_key=f"dispute-{dispute.pk}"
    )
    return True
