"""Refunds against Stripe's own list of a payment's refunds: cumulative amounts,
refunds made in the dashboard, our calls that failed or whose answer was lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from codes.models import Code
from codes.services.validation import code_verify
from sales.models import Order, Refund
from sales.services.refunds import refunds_pending_sweep
from tests.sales.payments.conftest import start_checkout

pytestmark = pytest.mark.django_db
STALE = timedelta(minutes=10)  # past the in-progress window of a pending refund


@pytest.fixture
def paid(client, active_listing, stripe_fake, post_event):
    """(order, payment, charge id): two codes at 19.00 bought by card."""

    def make(quantity=2):
        listing = active_listing(codes=4, price="19.00")
        order, payment, _ = start_checkout(client, listing, quantity=quantity)
        post_event("checkout.session.completed", stripe_fake.pay(payment.provider_ref))
        payment.refresh_from_db()
        return order, payment, stripe_fake.charge_for(payment.provider_ref)["id"]

    return make


@pytest.fixture
def stuck_refund(client, stripe_fake, django_capture_on_commit_callbacks):
    """The seller refunds (one code of) an order while every call to Stripe fails:
    the refund stays pending. `age` backdates it past the in-progress window."""

    def make(order, code=None, age=timedelta(0)):
        client.force_login(order.listing.seller)
        stripe_fake.fail_next = 50
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                reverse("sales:sales-refund", args=[order.reference]),
                {"code": code.pk} if code else {},
            )
        stripe_fake.fail_next = 0
        refund = Refund.objects.get(order=order)
        assert refund.status == Refund.Status.PENDING
        Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - age)
        refund.refresh_from_db()
        return refund

    return make


def statuses(order):
    return sorted(
        Code.objects.filter(order_id=order.pk).values_list("status", flat=True)
    )


def test_a_fully_refunded_order_keeps_no_valid_code(
    paid, stripe_fake, post_event, mailoutbox
):
    order, payment, charge = paid()
    stripe_fake.dashboard_refund(charge, 2850)
    post_event("charge.refunded", stripe_fake.charge_for(payment.provider_ref))
    assert statuses(order) == ["cancelled", "sold"]  # 28.50 pays for one unit

    mailoutbox.clear()
    stripe_fake.dashboard_refund(charge, 950)
    post_event("charge.refunded", stripe_fake.charge_for(payment.provider_ref))
    order.refresh_from_db()
    assert (order.status, str(order.refunded_amount)) == ("refunded", "38.00")
    assert statuses(order) == ["cancelled", "cancelled"]
    [last] = Code.objects.filter(order_id=order.pk).order_by("id")[:1]
    assert code_verify(seller_id=order.seller_id, value=last.reveal()).valid is False
    seller_mail = next(m for m in mailoutbox if m.to == [order.listing.seller.email])
    assert last.reveal() in seller_mail.body  # "Cancelled codes" lists it


def test_a_pending_refund_never_hides_a_dashboard_refund(
    paid, stripe_fake, post_event, stuck_refund, django_capture_on_commit_callbacks
):
    order, payment, charge = paid()
    ours = stuck_refund(order, Code.objects.filter(order_id=order.pk).first())

    stripe_fake.dashboard_refund(charge, 3800)  # staff refund everything by hand
    post_event("charge.refunded", stripe_fake.charge_for(payment.provider_ref))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert statuses(order) == ["cancelled", "cancelled"]
    assert Refund.objects.get(source=Refund.Source.PROVIDER).amount == 38

    # The sweep then retries ours: Stripe refuses (nothing left), it is not counted.
    Refund.objects.filter(pk=ours.pk).update(created_at=timezone.now() - STALE)
    with django_capture_on_commit_callbacks(execute=True):
        assert refunds_pending_sweep() == [ours.pk]
    ours.refresh_from_db()
    assert ours.status == Refund.Status.FAILED
    order.refresh_from_db()
    assert str(order.refunded_amount) == "38.00"


def test_a_stuck_refund_redone_by_hand_is_taken_as_the_same_refund(
    paid, stripe_fake, post_event, stuck_refund, django_capture_on_commit_callbacks
):
    order, payment, charge = paid()
    first = Code.objects.filter(order_id=order.pk).order_by("id").first()
    ours = stuck_refund(order, first, age=STALE)
    stripe_fake.dashboard_refund(charge, 1900)  # the same unit, by hand
    post_event("charge.refunded", stripe_fake.charge_for(payment.provider_ref))
    ours.refresh_from_db()
    assert ours.status == Refund.Status.SUCCEEDED
    assert Refund.objects.filter(order=order).count() == 1
    # the seller's choice of code holds, not "newest first"
    assert [
        c.status for c in Code.objects.filter(order_id=order.pk).order_by("id")
    ] == [
        "cancelled",
        "sold",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert refunds_pending_sweep() == []
    assert len(stripe_fake.calls("POST", "/v1/refunds")) == 1  # the failed try


def test_a_refund_whose_answer_was_lost_completes_from_stripes_list(
    paid, stuck_refund, django_capture_on_commit_callbacks, settings
):
    order, payment, _ = paid()
    ours = stuck_refund(order, Code.objects.filter(order_id=order.pk).order_by("id")[1])
    # The request had reached Stripe; only its answer was lost.
    stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    ).v1.refunds.create(
        params={
            "payment_intent": payment.provider_payment_id,
            "amount": 1900,
            "metadata": {"distribly_refund": str(ours.pk)},
        },
        options={"idempotency_key": f"distribly-refund-{ours.pk}"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile_payments")
    ours.refresh_from_db()
    assert ours.status == Refund.Status.SUCCEEDED
    assert [
        c.status for c in Code.objects.filter(order_id=order.pk).order_by("id")
    ] == [
        "sold",
        "cancelled",
    ]
    order.refresh_from_db()
    assert str(order.refunded_amount) == "19.00"


def test_a_refund_pending_past_the_give_up_time_fails_for_staff(
    paid, stuck_refund, django_capture_on_commit_callbacks
):
    order, _, _ = paid()
    ours = stuck_refund(order, age=timedelta(hours=13))
    with django_capture_on_commit_callbacks(execute=True):
        refunds_pending_sweep()
    ours.refresh_from_db()
    assert ours.status == Refund.Status.FAILED
    assert "Gave up" in ours.error
    assert statuses(order) == ["sold", "sold"]
