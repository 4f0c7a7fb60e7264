"""The buyer's pages with the dev provider: buy, pay or decline, the order page and
its email, resend, and My purchases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from codes.models import Code
from listings.models import Listing
from sales.models import Delivery, Order, Payment

pytestmark = pytest.mark.django_db


def test_guest_buys_two_codes_and_gets_them_by_email_and_on_the_order_page(
    client, active_listing, buy, mailoutbox
):
    listing = active_listing(
        codes=5,
        instructions="Redeem at https://example.com/redeem <now>",
        restrictions="Leeds only",
    )
    mailoutbox.clear()
    order = buy(listing, quantity=2, email="Guest@Example.com")
    assert order.status == Order.Status.FULFILLED
    codes = list(Code.objects.filter(order_id=order.pk))
    assert len(codes) == 2
    assert {c.status for c in codes} == {"sold"}
    values = [c.reveal() for c in codes]

    page = client.get(order.get_absolute_url()).content.decode()
    assert all(v in page for v in values)
    assert 'href="https://example.com/redeem" rel="nofollow noopener"' in page
    assert "&lt;now&gt;" in page
    assert "Leeds only" in page

    [mail] = mailoutbox
    assert mail.to == ["guest@example.com"]
    assert all(v in mail.body for v in values)
    assert (
        "Redeem at https://example.com/redeem <now>" in mail.body
    )  # text part as written
    html = mail.alternatives[0][0]
    assert (
        '<a href="https://example.com/redeem" rel="nofollow noopener" target="_blank">'
        in html
    )
    assert "&lt;now&gt;" in html
    assert order.get_absolute_url() in mail.body
    assert not any(v in mail.subject for v in values)
    assert Delivery.objects.get(order=order).status == Delivery.Status.SENT


def test_no_code_before_payment_and_decline_releases_the_reservation(
    client, active_listing, buy, mailoutbox
):
    listing = active_listing(codes=3)
    mailoutbox.clear()
    order = buy(listing, quantity=2, pay=False)
    assert order.status == Order.Status.PENDING
    assert Code.objects.filter(order_id=order.pk, status="reserved").count() == 2
    page = client.get(order.get_absolute_url()).content.decode()
    assert "waiting for your payment" in page
    for code in Code.objects.filter(order_id=order.pk):
        assert code.reveal() not in page
    assert mailoutbox == []
    pay_url = f"/pay/test/{order.payments.get().provider_ref}/"
    client.post(pay_url, {"decision": "decline"})
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED
    assert Code.objects.filter(listing=listing, status="available").count() == 3


def test_sold_out_listing_takes_no_order(client, active_listing, buy):
    listing = active_listing(codes=1)
    buy(listing)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT
    response = client.post(
        f"/items/{listing.pk}/buy/",
        {"quantity": 1, "email": "late@example.com"},
        follow=True,
    )
    assert "sold out" in response.content.decode().lower()
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1


def test_quantity_is_limited_by_max_per_order_and_stock(client, active_listing):
    listing = active_listing(codes=10, max_per_order=3)
    response = client.post(
        f"/items/{listing.pk}/buy/",
        {"quantity": 4, "email": "b@example.com"},
        follow=True,
    )
    assert "You can buy up to 3 at a time." in response.content.decode()
    assert not Order.objects.exists()
    response = client.post(
        f"/items/{listing.pk}/buy/",
        {"quantity": 1, "email": "not-an-email"},
        follow=True,
    )
    assert "Enter a valid email address." in response.content.decode()


def test_buyer_can_resend_the_email(
    client, active_listing, buy, mailoutbox, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=2)
    order = buy(listing)
    Delivery.objects.filter(order=order).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    before = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{order.get_absolute_url()}resend/")
    assert len(mailoutbox) == before + 1
    response = client.post(f"{order.get_absolute_url()}resend/", follow=True)
    assert "less than a minute ago" in response.content.decode()


def test_my_purchases_lists_orders_of_my_verified_email(
    client, user_factory, active_listing, buy
):
    listing = active_listing(codes=3)
    mine = buy(listing, email="me@example.com")
    theirs = buy(listing, email="someone@example.com")
    client.force_login(user_factory("me@example.com"))
    page = client.get("/account/purchases/").content.decode()
    assert mine.get_absolute_url() in page
    assert theirs.token not in page


def test_order_page_needs_the_exact_token(client, active_listing, buy):
    order = buy(active_listing(codes=1))
    wrong = "y" if order.token.endswith("x") else "x"
    assert client.get(f"/orders/{order.token[:-1]}{wrong}/").status_code == 404
    assert client.get(f"/orders/{order.pk}/").status_code == 404
