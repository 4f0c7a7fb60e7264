"""payment_event_process: every provider event applied once, never lost.

Through the real webhook view, the real `stripe` library and the fake Stripe
server; the failing effect is a real constraint error raised by the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from codes.models import Code
from sales.models import Order, WebhookEvent
from tests.fakes.stripe_server import FakeStripe, signed_event

pytestmark = pytest.mark.django_db
SECRET = "whsec_events"


@pytest.fixture
def stripe_fake(settings) -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        settings.PAYMENT_PROVIDER = "stripe"
        settings.STRIPE_SECRET_KEY = "sk_test_distribly"
        settings.STRIPE_WEBHOOK_SECRET = SECRET
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield fake


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Post a signed event the way Stripe does: a 5xx is an answer, not an exception."""
    stripe = Client(raise_request_exception=False)

    def post(event_type, obj, event_id):
        raw, signature = signed_event(event_type, obj, SECRET, event_id=event_id)
        with django_capture_on_commit_callbacks(execute=True):
            return stripe.post(
                reverse("sales:stripe-webhook"),
                raw,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature,
            )

    return post


@pytest.fixture
def pending_payment(client, active_listing, stripe_fake):
    listing = active_listing(codes=2)
    response = client.post(
        f"/items/{listing.pk}/buy/", {"quantity": 1, "email": "b@example.com"}
    )
    assert response.status_code == 302
    order = Order.objects.get(listing=listing)
    return order, order.payments.get()


@pytest.fixture
def deliveries_refused():
    """A real constraint error on every delivery insert (the outbox row payment_confirm writes)."""
    if connection.vendor == "postgresql":
        create = [
            "CREATE FUNCTION test_refuse_delivery() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'unique_violation'; END $$ "
            "LANGUAGE plpgsql",
            "CREATE TRIGGER test_refuse_delivery BEFORE INSERT ON sales_delivery "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_delivery()",
        ]
        drop = [
            "DROP TRIGGER test_refuse_delivery ON sales_delivery",
            "DROP FUNCTION test_refuse_delivery()",
        ]
    else:
        create = [
            "CREATE TRIGGER test_refuse_delivery BEFORE INSERT ON sales_delivery "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ]
        drop = ["DROP TRIGGER test_refuse_delivery"]

    def run(statements):
        with connection.cursor() as c:
            for sql in statements:
                c.execute(sql)

    run(create)
    return lambda: run(drop)


def test_a_failing_effect_rolls_the_event_back_and_answers_5xx_so_stripe_retries(
    stripe_fake, pending_payment, deliver, deliveries_refused
):
    order, payment = pending_payment
    session = stripe_fake.pay(payment.provider_ref)

    first = deliver("checkout.session.completed", session, "evt_effect_fails")

    assert first.status_code >= 500  # Stripe sends it again
    assert not WebhookEvent.objects.filter(event_id="evt_effect_fails").exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert Code.objects.filter(order_id=order.pk, status="reserved").count() == 1

    deliveries_refused()  # the cause is fixed; Stripe's retry arrives
    retry = deliver("checkout.session.completed", session, "evt_effect_fails")

    assert retry.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Code.objects.filter(order_id=order.pk, status="sold").count() == 1
    assert WebhookEvent.objects.get(event_id="evt_effect_fails").status == "processed"


def test_a_permanent_provider_error_is_recorded_for_staff_and_acknowledged(
    stripe_fake, pending_payment, deliver, user_factory
):
    order, payment = pending_payment
    session = stripe_fake.pay(payment.provider_ref)
    del stripe_fake.sessions[
        payment.provider_ref
    ]  # Stripe answers 404: retrying cannot help

    for _ in range(2):
        response = deliver("checkout.session.completed", session, "evt_gone")
        assert response.status_code == 200

    event = WebhookEvent.objects.get(event_id="evt_gone")
    assert event.status == WebhookEvent.Status.FAILED
    assert event.error
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING

    staff = Client()
    staff.force_login(user_factory(is_staff=True, is_superuser=True))
    page = staff.get(
        reverse("admin:sales_webhookevent_changelist"), {"status": "failed"}
    )
    assert "evt_gone" in page.content.decode()


def test_an_unknown_session_is_recorded_once_and_ignored(stripe_fake, deliver):
    obj = {"id": "cs_not_ours", "object": "checkout.session"}
    for _ in range(2):
        assert (
            deliver("checkout.session.completed", obj, "evt_not_ours").status_code
            == 200
        )
    assert WebhookEvent.objects.get(event_id="evt_not_ours").status == "ignored"


def test_a_transient_provider_failure_records_nothing_and_answers_503(
    stripe_fake, pending_payment, deliver
):
    _, payment = pending_payment
    session = stripe_fake.pay(payment.provider_ref)
    stripe_fake.fail_next = 10
    assert (
        deliver("checkout.session.completed", session, "evt_later").status_code == 503
    )
    assert not WebhookEvent.objects.exists()
