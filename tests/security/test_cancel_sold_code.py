"""Cancelling a sold code from Validate a code or the API: the seller chooses on
the spot to refund the buyer or to give a reason the buyer reads (issue 11).
Before: the code was cancelled and the buyer's order stayed "fulfilled",
unrefunded, with nothing said."""

from __future__ import annotations

import pytest
from django.urls import reverse

from codes.importing.text import mask
from sales.models import Order, Refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def cancel(client, django_capture_on_commit_callbacks):
    def post(code, **data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("sales:code-cancel", args=[code.pk]), data)

    return post


def test_cancelling_with_a_refund_pays_the_buyer_back(
    client, sold_code, cancel, mailoutbox
):
    listing, order, code, value = sold_code()
    client.force_login(listing.seller)
    mailoutbox.clear()
    page = cancel(code, refund="yes").content.decode()
    assert "the buyer is refunded" in page
    code.refresh_from_db()
    order.refresh_from_db()
    assert code.status == "cancelled"
    assert order.status == Order.Status.REFUNDED
    assert Refund.objects.get(order=order).code_ids == [code.pk]
    assert any(m.to == [order.email] for m in mailoutbox)
    client.logout()
    buyer_page = client.get(order.get_absolute_url()).content.decode()
    assert "Cancelled (refunded)" in buyer_page
    assert value not in buyer_page


def test_cancelling_without_a_refund_needs_a_reason_the_buyer_reads(
    client, sold_code, cancel, mailoutbox
):
    listing, order, code, value = sold_code()
    client.force_login(listing.seller)
    page = cancel(code, refund="no").content.decode()
    assert "Tell the buyer why" in page
    code.refresh_from_db()
    assert code.status == "sold"

    mailoutbox.clear()
    cancel(code, refund="no", reason="Voucher used at the till on 3 May")
    code.refresh_from_db()
    order.refresh_from_db()
    assert code.status == "cancelled"
    assert order.status == Order.Status.FULFILLED
    assert not Refund.objects.exists()
    [mail] = [m for m in mailoutbox if m.to == [order.email]]
    assert "Voucher used at the till on 3 May" in mail.body
    assert mask(value) in mail.body
    assert value not in mail.body
    client.logout()
    buyer_page = client.get(order.get_absolute_url()).content.decode()
    assert "Cancelled by the seller" in buyer_page
    assert "Voucher used at the till on 3 May" in buyer_page


def test_the_api_revokes_with_a_refund_or_a_reason(
    client, sold_code, api_key_for, mailoutbox, django_capture_on_commit_callbacks
):
    listing, refunded_order, _code, refunded_value = sold_code()
    _listing, kept_order, _code2, revoked_value = sold_code(
        listing=listing, email="two@example.com"
    )
    key = api_key_for(listing.seller)

    def revoke(**body):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/api/v1/codes/revoke",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {key}",
            )

    assert revoke(code=refunded_value, refund=True).json()["status"] == "cancelled"
    refunded_order.refresh_from_db()
    assert refunded_order.status == Order.Status.REFUNDED

    mailoutbox.clear()
    assert revoke(code=revoked_value).json()["status"] == "cancelled"
    kept_order.refresh_from_db()
    assert kept_order.status == Order.Status.FULFILLED
    [mail] = [m for m in mailoutbox if m.to == ["two@example.com"]]
    assert "revoked by the seller" in mail.body
