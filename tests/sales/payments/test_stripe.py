"""Stripe through the real `stripe` library: API calls over HTTP to a local fake
server, webhooks signed with Stripe's scheme and verified by construct_event."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse

from codes.models import Code
from sales.models import Delivery, Order, Refund, WebhookEvent
from sales.payments.stripe import from_minor, to_minor
from tests.fakes.stripe_server import signed_event
from tests.sales.payments.conftest import SECRET, start_checkout

pytestmark = pytest.mark.django_db


def test_checkout_creates_a_stripe_session_in_minor_units(
    client, active_listing, stripe_fake
):
    listing = active_listing(codes=3, price="12.34", currency="EUR")
    order, payment, location = start_checkout(client, listing, quantity=2)
    [params] = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert location == stripe_fake.sessions[payment.provider_ref]["url"]
    assert params["mode"] == "payment"
    item = params["line_items"][0]
    assert item["price_data"] == {
        "currency": "eur",
        "unit_amount": "1234",
        "product_data": {"name": listing.title},
    }
    assert item["quantity"] == "2"
    assert params["metadata"]["order_id"] == str(order.pk)
    assert int(params["expires_at"]) == int(order.reserved_until.timestamp())
    assert params["customer_email"] == "card@example.com"
    assert order.status == Order.Status.PENDING
    assert Code.objects.filter(order_id=order.pk, status="reserved").count() == 2


def test_zero_decimal_currency_reaches_stripe_unscaled():
    assert to_minor(Decimal("1500"), "JPY") == 1500
    assert to_minor(Decimal("9.99"), "USD") == 999
    assert from_minor(1500, "jpy") == Decimal("1500.00")


def test_completed_event_fulfils_once_even_when_replayed_five_times(
    client, active_listing, stripe_fake, post_event, mailoutbox
):
    listing = active_listing(codes=3)
    order, payment, _ = start_checkout(client, listing)
    session = stripe_fake.pay(payment.provider_ref)
    mailoutbox.clear()
    for _ in range(5):
        response = post_event(
            "checkout.session.completed", session, event_id="evt_replayed"
        )
        assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Code.objects.filter(order_id=order.pk, status="sold").count() == 1
    assert [m.to for m in mailoutbox] == [["card@example.com"]]
    assert WebhookEvent.objects.filter(event_id="evt_replayed").count() == 1
    payment.refresh_from_db()
    assert payment.provider_payment_id == session["payment_intent"]

    # a *different* event for the same session (Stripe retries with new ids too) changes nothing
    post_event("checkout.session.completed", session)
    assert Code.objects.filter(order_id=order.pk).count() == 1
    assert Delivery.objects.filter(order=order).count() == 1


def test_the_event_is_only_a_trigger_the_session_is_refetched(
    client, active_listing, stripe_fake, post_event
):
    listing = active_listing(codes=2)
    order, payment, _ = start_checkout(client, listing)
    forged = dict(
        stripe_fake.sessions[payment.provider_ref],
        payment_status="paid",
        status="complete",
    )
    post_event(
        "checkout.session.completed", forged
    )  # validly signed, but Stripe says unpaid
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert not Code.objects.filter(order_id=order.pk, status="sold").exists()


def test_async_payment_succeeds_later(client, active_listing, stripe_fake, post_event):
    listing = active_listing(codes=2)
    order, payment, _ = start_checkout(client, listing)
    session = stripe_fake.pay(payment.provider_ref, payment_status="unpaid")
    post_event("checkout.session.completed", session)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    session = stripe_fake.pay(payment.provider_ref, payment_status="paid")
    post_event("checkout.session.async_payment_succeeded", session)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_async_payment_failure_releases_the_codes(
    client, active_listing, stripe_fake, post_event
):
    listing = active_listing(codes=2)
    order, payment, _ = start_checkout(client, listing)
    session = stripe_fake.pay(payment.provider_ref, payment_status="unpaid")
    post_event("checkout.session.async_payment_failed", session)
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED
    assert Code.objects.filter(listing=listing, status="available").count() == 2


def test_expired_after_completed_never_releases_a_sold_code(
    client, active_listing, stripe_fake, post_event
):
    listing = active_listing(codes=2)
    order, payment, _ = start_checkout(client, listing)
    session = stripe_fake.pay(payment.provider_ref)
    post_event("checkout.session.completed", session)
    post_event("checkout.session.expired", dict(session, status="expired"))
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Code.objects.filter(order_id=order.pk, status="sold").count() == 1


def test_expired_session_releases_the_reservation(
    client, active_listing, stripe_fake, post_event
):
    listing = active_listing(codes=2)
    order, payment, _ = start_checkout(client, listing)
    session = stripe_fake.expire(payment.provider_ref)
    post_event("checkout.session.expired", session)
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert Code.objects.filter(listing=listing, status="available").count() == 2


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong secret",
        "stale timestamp",
        "tampered body",
        "missing header",
        "garbage header",
    ],
)
def test_bad_signatures_are_refused_without_any_write(
    client, active_listing, stripe_fake, post_event, tamper
):
    listing = active_listing(codes=1)
    order, payment, _ = start_checkout(client, listing)
    session = stripe_fake.pay(payment.provider_ref)
    kwargs = {
        "wrong secret": {"secret": "whsec_wrong"},
        "stale timestamp": {"timestamp": int(time.time()) - 3600},
        "missing header": {"header": False},
        "garbage header": {"header": "t=1,v1=deadbeef"},
        "tampered body": {},
    }[tamper]
    if tamper == "tampered body":
        raw, sig = signed_event("checkout.session.completed", session, SECRET)
        response = client.post(
            reverse("sales:stripe-webhook"),
            raw.replace(b"complete", b"completE"),
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sig,
        )
    else:
        response = post_event("checkout.session.completed", session, **kwargs)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_stripe_outage_answers_503_so_stripe_retries(
    client, active_listing, stripe_fake, post_event
):
    listing = active_listing(codes=1)
    order, payment, _ = start_checkout(client, listing)
    session = stripe_fake.pay(payment.provider_ref)
    stripe_fake.fail_next = 10
    response = post_event(
        "checkout.session.completed", session, event_id="evt_retry_me"
    )
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()
    stripe_fake.fail_next = 0
    response = post_event(
        "checkout.session.completed", session, event_id="evt_retry_me"
    )
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_unknown_events_are_acknowledged(post_event, stripe_fake):
    assert (
        post_event(
            "customer.created", {"id": "cus_1", "object": "customer"}
        ).status_code
        == 200
    )


def test_checkout_when_stripe_is_down_releases_the_codes(
    client, active_listing, stripe_fake
):
    listing = active_listing(codes=2)
    stripe_fake.fail_next = 10
    response = client.post(
        f"/items/{listing.pk}/buy/",
        {"quantity": 2, "email": "x@example.com"},
        follow=True,
    )
    assert "couldn&#x27;t start the payment" in response.content.decode()
    assert Code.objects.filter(listing=listing, status="available").count() == 2
    assert Order.objects.get().status == Order.Status.FAILED


def test_seller_refund_goes_through_stripe_once_and_cancels_the_code(
    client,
    active_listing,
    stripe_fake,
    post_event,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing = active_listing(codes=3)
    order, payment, _ = start_checkout(client, listing, quantity=2)
    post_event("checkout.session.completed", stripe_fake.pay(payment.provider_ref))
    codes = list(Code.objects.filter(order_id=order.pk).order_by("id"))
    client.force_login(listing.seller)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("sales:sales-refund", args=[order.reference]), {"code": codes[0].pk}
        )
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(
            reverse("sales:sales-refund", args=[order.reference]),
            {"code": codes[0].pk},
            follow=True,
        )
    assert "already refunded" in again.content.decode()
    [refund_call] = stripe_fake.calls("POST", "/v1/refunds")
    refund = Refund.objects.get(order=order)
    assert refund_call == {
        "payment_intent": stripe_fake.sessions[payment.provider_ref]["payment_intent"],
        "amount": "999",
        "metadata": {"distribly_refund": str(refund.pk)},
    }
    codes[0].refresh_from_db()
    codes[1].refresh_from_db()
    assert (codes[0].status, codes[1].status) == ("cancelled", "sold")
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert str(order.refunded_amount) == "9.99"
    buyer_mail = next(m for m in mailoutbox if m.to == ["card@example.com"])
    seller_mail = next(m for m in mailoutbox if m.to == [listing.seller.email])
    assert "refunded 9.99" in buyer_mail.body
    assert codes[0].reveal() in seller_mail.body
    assert codes[1].reveal() not in seller_mail.body

    # Stripe then reports the refund we made: nothing more is cancelled
    charge = stripe_fake.charge_for(payment.provider_ref)
    post_event("charge.refunded", charge)
    codes[1].refresh_from_db()
    assert codes[1].status == "sold"
    assert Refund.objects.filter(order=order).count() == 1


def test_a_cancelled_code_is_never_sold_again(
    client,
    active_listing,
    stripe_fake,
    post_event,
    buy,
    settings,
    django_capture_on_commit_callbacks,
):
    listing = active_listing(codes=1)
    order, payment, _ = start_checkout(client, listing)
    post_event("checkout.session.completed", stripe_fake.pay(payment.provider_ref))
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("sales:sales-refund", args=[order.reference]))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    code = Code.objects.get(order_id=order.pk)
    assert code.status == "cancelled"
    listing.refresh_from_db()
    assert listing.status == "sold_out"
    response = client.post(
        f"/items/{listing.pk}/buy/",
        {"quantity": 1, "email": "next@example.com"},
        follow=True,
    )
    assert "sold out" in response.content.decode().lower()
    assert Code.objects.get(pk=code.pk).order_id == order.pk


def test_dashboard_refund_cancels_codes_through_charge_refunded(
    client, active_listing, stripe_fake, post_event, mailoutbox
):
    listing = active_listing(codes=3)
    order, payment, _ = start_checkout(client, listing, quantity=2)
    post_event("checkout.session.completed", stripe_fake.pay(payment.provider_ref))
    charge = stripe_fake.charge_for(payment.provider_ref)
    stripe_fake.dashboard_refund(charge["id"], 999)
    mailoutbox.clear()
    for _ in range(3):  # replays and duplicates
        post_event(
            "charge.refunded",
            stripe_fake.charge_for(payment.provider_ref),
            event_id="evt_dash",
        )
    post_event("charge.refunded", stripe_fake.charge_for(payment.provider_ref))
    assert Code.objects.filter(order_id=order.pk, status="cancelled").count() == 1
    assert Code.objects.filter(order_id=order.pk, status="sold").count() == 1
    [refund] = Refund.objects.filter(order=order)
    assert refund.source == Refund.Source.PROVIDER
    assert refund.provider_refund_id.startswith("re_test_")
    assert {m.to[0] for m in mailoutbox} == {"card@example.com", listing.seller.email}


def test_reconcile_payments_finds_missed_webhooks(
    client, active_listing, stripe_fake, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=2)
    order, payment, _ = start_checkout(client, listing)
    stripe_fake.pay(payment.provider_ref)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile_payments")
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_five_times_concurrently_allocates_and_emails_once(
    active_listing, stripe_fake, mailoutbox
):
    listing = active_listing(codes=3)
    client = Client()
    order, payment, _ = start_checkout(client, listing)
    body, header = signed_event(
        "checkout.session.completed",
        stripe_fake.pay(payment.provider_ref),
        SECRET,
        event_id="evt_concurrent",
    )
    barrier = threading.Barrier(5)
    mailoutbox.clear()

    def deliver(_):
        try:
            barrier.wait()
            return (
                Client()
                .post(
                    reverse("sales:stripe-webhook"),
                    body,
                    content_type="application/json",
                    HTTP_STRIPE_SIGNATURE=header,
                )
                .status_code
            )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(deliver, range(5)))
    assert statuses == [200] * 5
    assert Code.objects.filter(order_id=order.pk, status="sold").count() == 1
    assert Delivery.objects.filter(order=order).count() == 1
    assert WebhookEvent.objects.filter(event_id="evt_concurrent").count() == 1
    assert [m.to for m in mailoutbox] == [["card@example.com"]]
