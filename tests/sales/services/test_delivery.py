"""Email is retried, never blocks or undoes an allocation, and is sent once (invariant 7)."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from typing import ClassVar

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from codes.models import Code
from distribly.celery import app
from sales import tasks
from sales.models import Delivery, Order
from sales.services.delivery import deliveries_sweep

pytestmark = pytest.mark.django_db


class FlakyBackend(LocmemBackend):
    """Refuses the first `failures` sends like an SMTP server that is down, and
    records whether the buyer's code was already sold at each attempt."""

    failures = 0
    attempts = 0
    sold_at_attempt: ClassVar[list[int]] = []

    def send_messages(self, messages):
        FlakyBackend.attempts += 1
        FlakyBackend.sold_at_attempt.append(Code.objects.filter(status="sold").count())
        if FlakyBackend.attempts <= FlakyBackend.failures:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky_mail(settings):
    # Eager mode re-runs a task that calls self.retry() only when errors are not
    # propagated: that is how the retries happen in-process here.
    app.conf.task_eager_propagates = False
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.attempts = 0
    FlakyBackend.failures = 0
    FlakyBackend.sold_at_attempt = []
    return FlakyBackend


@pytest.fixture
def listing_ready(active_listing):
    listing = active_listing(codes=2)
    mail.outbox.clear()
    return listing


def test_email_down_for_three_tries_the_code_is_sold_and_the_email_arrives_once(
    client, listing_ready, flaky_mail, buy
):
    flaky_mail.failures = 3
    order = buy(listing_ready)
    assert order.status == Order.Status.FULFILLED
    assert flaky_mail.sold_at_attempt == [1, 1, 1, 1]  # sold before the first attempt
    delivery = Delivery.objects.get(order=order)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 4)
    assert [m.to for m in mail.outbox] == [["buyer@example.com"]]
    code = Code.objects.get(order_id=order.pk)
    assert code.reveal() in mail.outbox[0].body


def test_email_down_for_good_leaves_the_sale_intact_and_the_code_on_the_order_page(
    client, listing_ready, flaky_mail, buy
):
    flaky_mail.failures = 1000
    order = buy(listing_ready)
    assert order.status == Order.Status.FULFILLED
    code = Code.objects.get(order_id=order.pk)
    assert code.status == "sold"
    delivery = Delivery.objects.get(order=order)
    assert delivery.status == Delivery.Status.FAILED
    assert "SMTPServerDisconnected" in delivery.last_error
    assert mail.outbox == []
    assert code.reveal() in client.get(order.get_absolute_url()).content.decode()


def test_broker_down_at_commit_the_sweep_sends_the_email_exactly_once(
    client, listing_ready, buy, monkeypatch
):
    """Redis unreachable when the order commits: the Delivery row waits (outbox);
    the periodic sweep sends it once the broker is back."""

    def broker_down(*args, **kwargs):
        raise ConnectionError(
            "Error 111 connecting to 127.0.0.1:6379. Connection refused."
        )

    monkeypatch.setattr(tasks.order_deliver_task, "delay", broker_down)
    order = buy(listing_ready)
    assert order.status == Order.Status.FULFILLED
    assert Delivery.objects.get(order=order).status == Delivery.Status.PENDING
    assert mail.outbox == []
    assert (
        Code.objects.get(order_id=order.pk).reveal()
        in client.get(order.get_absolute_url()).content.decode()
    )

    monkeypatch.undo()
    Delivery.objects.filter(order=order).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    deliveries_sweep()
    deliveries_sweep()  # a second sweep finds nothing to send
    assert [m.to for m in mail.outbox] == [["buyer@example.com"]]
    assert Delivery.objects.get(order=order).status == Delivery.Status.SENT


def test_a_delivery_claimed_by_a_dead_worker_is_sent_again(
    listing_ready, buy, monkeypatch
):
    monkeypatch.setattr(
        tasks.order_deliver_task, "delay", lambda *a: None
    )  # the message is lost
    order = buy(listing_ready)
    Delivery.objects.filter(order=order).update(
        status=Delivery.Status.SENDING,
        updated_at=timezone.now() - timedelta(minutes=30),
    )
    monkeypatch.undo()
    deliveries_sweep()  # resets the stale claim
    Delivery.objects.filter(order=order).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    deliveries_sweep()
    assert Delivery.objects.get(order=order).status == Delivery.Status.SENT
    assert len(mail.outbox) == 1
