"""Confirming, failing and expiring payments: reservations expire, a late payment gets
fresh codes or a refund, and a payment is confirmed once however often it is told."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from codes.models import Code
from sales.models import Delivery, Order
from sales.services import checkout
from sales.services.payments import orders_expire_reservations, payment_confirm

pytestmark = pytest.mark.django_db


def test_abandoned_checkout_returns_codes_to_stock_after_expiry(
    active_listing, buy, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=2)
    order = buy(listing, quantity=2, pay=False)
    assert orders_expire_reservations() == 0  # not due yet
    Order.objects.filter(pk=order.pk).update(
        reserved_until=timezone.now() - timedelta(seconds=1)
    )
    assert orders_expire_reservations() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert (
        Code.objects.filter(
            listing=listing, status="available", order_id__isnull=True
        ).count()
        == 2
    )


def test_payment_after_expiry_allocates_fresh_codes(
    client, active_listing, buy, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=3)
    order = buy(listing, quantity=2, pay=False)
    Order.objects.filter(pk=order.pk).update(
        reserved_until=timezone.now() - timedelta(seconds=1)
    )
    orders_expire_reservations()
    with django_capture_on_commit_callbacks(execute=True):
        payment_confirm(payment_id=order.payments.get().pk)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Code.objects.filter(order_id=order.pk, status="sold").count() == 2


def test_payment_after_expiry_with_no_stock_left_is_refunded_and_both_sides_told(
    active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=1)
    late = buy(listing, quantity=1, email="late@example.com", pay=False)
    Order.objects.filter(pk=late.pk).update(
        reserved_until=timezone.now() - timedelta(seconds=1)
    )
    orders_expire_reservations()
    buy(listing, quantity=1, email="quick@example.com")  # takes the last code
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payment_confirm(payment_id=late.payments.get().pk)
    late.refresh_from_db()
    assert late.status == Order.Status.REFUNDED
    assert late.refunded_amount == late.amount
    assert not Code.objects.filter(order_id=late.pk).exists()
    to = {m.to[0]: m for m in mailoutbox}
    assert "sold out before your payment" in to["late@example.com"].body
    assert listing.seller.email in to


def test_repeated_confirmation_sells_once_and_emails_once(
    active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=5)
    order = buy(listing, quantity=1)
    sold = set(Code.objects.filter(order_id=order.pk).values_list("id", flat=True))
    deliveries = [m for m in mailoutbox if m.to == ["buyer@example.com"]]
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            payment_confirm(payment_id=order.payments.get().pk)
    assert (
        set(Code.objects.filter(order_id=order.pk).values_list("id", flat=True)) == sold
    )
    assert [m for m in mailoutbox if m.to == ["buyer@example.com"]] == deliveries
    assert Delivery.objects.filter(order=order).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_concurrently_allocates_once(
    active_listing, settings, client
):
    listing = active_listing(codes=5)
    placed = checkout.order_place(
        listing_id=listing.pk, quantity=2, email="c@example.com"
    )
    barrier = threading.Barrier(5)

    def confirm(_):
        try:
            barrier.wait()
            payment_confirm(payment_id=placed.payment.pk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(confirm, range(5)))
    assert Code.objects.filter(order_id=placed.order.pk, status="sold").count() == 2
    assert Delivery.objects.filter(order=placed.order).count() == 1
