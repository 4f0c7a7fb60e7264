"""Fraud hold with velocity rules: a held order is paid and its codes are sold to it,
but nothing is shown or emailed until staff release it or the hold runs out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from codes.models import Code, WebhookDelivery, WebhookEndpoint
from sales.models import Delivery, Order
from sales.services.fraud import order_release, orders_release_due
from tests.helpers import admin_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(settings):
    settings.FRAUD_VELOCITY_MAX_ORDERS = 2
    settings.FRAUD_VELOCITY_MAX_CODES = 10


def test_the_third_order_from_one_email_in_an_hour_is_held(
    strict, client, active_listing, buy, mailoutbox
):
    listing = active_listing(codes=5)
    buy(listing, email="fast@example.com")
    buy(listing, email="fast@example.com")
    mailoutbox.clear()
    held = buy(listing, email="fast@example.com")
    assert held.status == Order.Status.HELD
    assert "3 orders (3 codes) from this email" in held.hold_reason
    [code] = Code.objects.filter(order_id=held.pk)
    assert code.status == "sold"  # sold to this order: never sold again
    assert not Delivery.objects.filter(order=held).exists()
    assert mailoutbox == []
    page = client.get(held.get_absolute_url()).content.decode()
    assert "being checked" in page
    assert code.reveal() not in page
    # another email from the same network (the test client's address) is held too
    assert "from this network" in buy(listing, email="calm@example.com").hold_reason


def test_too_many_codes_at_once_is_held(strict, active_listing, buy):
    listing = active_listing(codes=12)
    listing.max_per_order = 11
    listing.save()
    assert buy(listing, quantity=11).status == Order.Status.HELD


def test_staff_release_delivers_the_codes(
    strict,
    client,
    active_listing,
    buy,
    user_factory,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing = active_listing(codes=5)
    for _ in range(3):
        held = buy(listing, email="fast@example.com")
    support = user_factory(is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    client.force_login(support)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_action(client, "sales_order", "release", [held.pk])
    held.refresh_from_db()
    assert held.status == Order.Status.FULFILLED
    [code] = Code.objects.filter(order_id=held.pk)
    assert [m.to for m in mailoutbox] == [["fast@example.com"]]
    assert code.reveal() in mailoutbox[0].body
    client.logout()
    assert code.reveal() in client.get(held.get_absolute_url()).content.decode()


def test_a_hold_runs_out_and_the_codes_are_delivered(
    strict, active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=5)
    for _ in range(3):
        held = buy(listing, email="fast@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_release_due() == []  # not yet
    Order.objects.filter(pk=held.pk).update(
        held_until=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_release_due() == [held.pk]
    held.refresh_from_db()
    assert held.status == Order.Status.FULFILLED
    assert Delivery.objects.filter(order=held).count() == 1


def test_a_held_order_shows_on_sales_for_its_seller(
    strict, client, active_listing, buy
):
    listing = active_listing(codes=5)
    for _ in range(3):
        held = buy(listing, email="fast@example.com")
    client.force_login(listing.seller)
    page = client.get(reverse("sales:sales-list")).content.decode()
    assert held.reference in page
    assert "Being checked" in page


def test_a_held_order_tells_the_sellers_webhook_only_when_released(
    strict, active_listing, buy, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    listing = active_listing(codes=5)
    WebhookEndpoint.objects.create(
        seller=listing.seller, url="http://127.0.0.1:9/hooks", secret="s" * 32
    )
    for _ in range(3):
        held = buy(listing, email="fast@example.com")
    sold = WebhookDelivery.objects.filter(event="code.sold", code__order_id=held.pk)
    assert not sold.exists()  # a seller's system must not provision it yet
    with django_capture_on_commit_callbacks(execute=True):
        order_release(order_id=held.pk)
    assert sold.count() == 1
