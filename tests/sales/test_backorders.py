"""Backorders (opt-in per listing): a payment that finds no code waits in line, is
filled first paid first served when codes are approved, and is refunded past the
limit (DESIGN "After the sale")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from codes.importing.generator import GeneratorOptions
from codes.models import Code
from codes.services.batches import batch_create_generated
from listings.models import WaitlistEntry
from sales.models import LedgerEntry, Order, Payment, Refund
from sales.services import payments
from sales.services.backorders import backorders_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def late_payer(active_listing, buy, django_capture_on_commit_callbacks):
    """Orders whose payment arrives after the listing sold out, paid in the order
    given: pay_late(listing, (quantity, email), …) → the orders."""

    def pay_late(listing, *buyers):
        buyers = buyers or ((1, "late@example.com"),)
        orders = [buy(listing, quantity=q, email=e, pay=False) for q, e in buyers]
        for order in orders:  # their reservations ran out
            payments.payment_expire(payment_id=Payment.objects.get(order=order).pk)
        left = Code.objects.for_sale().filter(listing=listing).count()
        if left:
            buy(listing, quantity=left, email="quick@example.com")
        for order in orders:
            with django_capture_on_commit_callbacks(execute=True):
                payments.payment_confirm(payment_id=Payment.objects.get(order=order).pk)
            order.refresh_from_db()
        return orders

    return pay_late


@pytest.fixture
def restock(approve, django_capture_on_commit_callbacks):
    def run(listing, count):
        with django_capture_on_commit_callbacks(execute=True):
            batch = batch_create_generated(
                listing=listing, options=GeneratorOptions(count=count)
            )
        batch.refresh_from_db()
        approve(batch=batch)

    return run


def test_a_late_payment_waits_for_codes_and_is_filled_on_restock(
    client, active_listing, late_payer, restock, mailoutbox
):
    listing = active_listing(codes=2, allow_backorders=True)
    mailoutbox.clear()
    [order] = late_payer(listing)
    assert order.status == "backordered"
    assert order.backorder_until > timezone.now() + timedelta(days=6)
    assert LedgerEntry.objects.filter(order=order, kind="sale").count() == 1
    assert not Refund.objects.filter(order=order).exists()
    waiting = next(m for m in mailoutbox if m.to == ["late@example.com"])
    assert "on its way" in waiting.subject
    page = client.get(order.get_absolute_url()).content.decode()
    assert "your code is on its way" in page
    listing.refresh_from_db()
    assert listing.status == "sold_out"
    mailoutbox.clear()
    restock(listing, 3)
    order.refresh_from_db()
    assert order.status == "fulfilled"
    assert order.backorder_until is None
    [code] = Code.objects.filter(order_id=order.pk)
    assert code.status == "sold"
    delivery = next(m for m in mailoutbox if m.to == ["late@example.com"])
    assert code.reveal() in delivery.body
    assert Code.objects.for_sale().filter(listing=listing).count() == 2


def test_backorders_are_filled_first_paid_first_served(
    active_listing, late_payer, restock
):
    listing = active_listing(codes=3, allow_backorders=True)
    first, second = late_payer(
        listing, (1, "first@example.com"), (1, "second@example.com")
    )
    assert first.paid_at < second.paid_at
    restock(listing, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("fulfilled", "backordered")
    restock(listing, 1)
    second.refresh_from_db()
    assert second.status == "fulfilled"


def test_nobody_jumps_the_line(active_listing, late_payer, restock):
    listing = active_listing(codes=4, allow_backorders=True)
    big, small = late_payer(listing, (2, "big@example.com"), (1, "small@example.com"))
    restock(listing, 1)  # not enough for the head of the line
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.status, small.status) == ("backordered", "backordered")
    restock(listing, 2)
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.status, small.status) == ("fulfilled", "fulfilled")


def test_an_unfilled_backorder_is_refunded_at_the_limit(
    active_listing, late_payer, mailoutbox, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=1, allow_backorders=True)
    [order] = late_payer(listing)
    with django_capture_on_commit_callbacks(execute=True):
        backorders_sweep()
    order.refresh_from_db()
    assert order.status == "backordered"  # not yet
    Order.objects.filter(pk=order.pk).update(
        backorder_until=timezone.now() - timedelta(minutes=1)
    )
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        backorders_sweep()
    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.refunded_amount == order.amount
    refund = Refund.objects.get(order=order)
    assert refund.source == "automatic"
    mail = next(m for m in mailoutbox if m.to == ["late@example.com"])
    assert "no new codes" in mail.body


def test_without_backorders_a_late_payment_is_refunded_at_once(
    active_listing, late_payer
):
    listing = active_listing(codes=1)
    [order] = late_payer(listing)
    assert order.status == "refunded"


def test_the_seller_can_refund_a_waiting_backorder(
    client, active_listing, late_payer, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=1, allow_backorders=True)
    [order] = late_payer(listing)
    client.force_login(listing.seller)
    sales = client.get(reverse("sales:sales-list")).content.decode()
    assert "Waiting for your next codes" in sales
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("sales:sales-refund", args=[order.reference]))
    order.refresh_from_db()
    assert order.status == "refunded"


def test_restocked_codes_go_to_backorders_before_the_waitlist(
    client, active_listing, late_payer, restock, mailoutbox
):

    listing = active_listing(codes=1, allow_backorders=True)
    [order] = late_payer(listing)
    WaitlistEntry.objects.create(
        listing=listing, email="wait@example.com", confirmed_at=timezone.now()
    )
    mailoutbox.clear()
    restock(listing, 1)  # exactly the backorder: nobody else is told
    order.refresh_from_db()
    assert order.status == "fulfilled"
    assert not [m for m in mailoutbox if m.to == ["wait@example.com"]]
    restock(listing, 1)
    assert [m for m in mailoutbox if m.to == ["wait@example.com"]]


def test_new_buyers_never_take_the_codes_backorders_wait_for(
    client, active_listing, late_payer, restock
):
    listing = active_listing(codes=3, allow_backorders=True)
    [big] = late_payer(listing, (2, "big@example.com"))
    restock(listing, 1)
    listing.refresh_from_db()
    assert listing.status == "sold_out"  # the one code is the line's
    response = client.post(
        f"/items/{listing.pk}/buy/", {"quantity": 1, "email": "new@example.com"}
    )
    assert response.status_code == 302
    assert not Order.objects.filter(email="new@example.com").exists()
    restock(listing, 2)
    big.refresh_from_db()
    listing.refresh_from_db()
    assert big.status == "fulfilled"
    assert listing.status == "active"


def test_a_fraud_warned_or_risky_backorder_is_not_delivered(
    active_listing, late_payer, restock, settings
):
    listing = active_listing(codes=3, allow_backorders=True)
    warned, risky = late_payer(
        listing, (1, "warned@example.com"), (1, "risky@example.com")
    )
    Order.objects.filter(pk=warned.pk).update(fraud_warning_at=timezone.now())
    Payment.objects.filter(order=risky).update(risk_level="highest")
    restock(listing, 2)
    warned.refresh_from_db()
    risky.refresh_from_db()
    assert warned.status != "fulfilled"
    assert not Code.objects.filter(order_id=warned.pk, status="sold").exists()
    assert risky.status == "held"
