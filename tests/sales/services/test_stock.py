"""Stock after a sale: sold out once, back on sale with new codes, low-stock alerts once
per crossing, and the sweep that catches up when the after-sale message was lost."""

from __future__ import annotations

import pytest

from codes import tasks as code_tasks
from codes.models import WebhookDelivery
from listings.models import Listing
from sales import tasks
from sales.services.checkout import order_place
from sales.services.payments import payment_confirm, payment_fail
from sales.services.stock import listings_stock_sweep

pytestmark = pytest.mark.django_db


def test_selling_out_deactivates_once_and_new_codes_bring_it_back(
    active_listing, buy, upload, approve, mailoutbox
):
    listing = active_listing(codes=2)
    mailoutbox.clear()
    buy(listing, quantity=1, email="a@example.com")
    buy(listing, quantity=1, email="b@example.com")
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT
    sold_out = [m for m in mailoutbox if "sold out" in m.subject]
    assert len(sold_out) == 1
    assert sold_out[0].to == [listing.seller.email]
    approve(batch=upload(listing, "RESTOCK-CODE-000001\n"))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE


def test_low_stock_alert_once_per_crossing(
    active_listing, buy, upload, approve, mailoutbox
):
    listing = active_listing(codes=5, low_stock_threshold=4)
    mailoutbox.clear()
    buy(listing, email="a@example.com")  # 4 left: not below 4
    buy(listing, email="b@example.com")  # 3 left: crossing
    buy(listing, email="c@example.com")  # 2 left: no repeat
    alerts = [m for m in mailoutbox if "left for" in m.subject]
    assert [m.subject for m in alerts] == [f'Only 3 codes left for "{listing.title}"']
    # 2 codes sold in the last 28 days, 3 left: about 42 days at that rate
    assert "At the current rate it sells out in about 42 days." in alerts[0].body
    approve(
        batch=upload(listing, "\n".join(f"TOPUP-CODE-{n:06}" for n in range(5)))
    )  # 7: re-armed
    buy(listing, email="d@example.com")
    buy(listing, email="e@example.com")
    buy(listing, email="f@example.com")
    buy(listing, email="g@example.com")  # 3 left: crossing again
    alerts = [m for m in mailoutbox if "left for" in m.subject]
    assert len(alerts) == 2


def test_broker_down_at_the_last_sale_the_sweep_still_marks_sold_out(
    client, active_listing, buy, monkeypatch, settings
):
    """With the after-sale message lost, the listing is sold out once the stock sweep runs,
    and the seller's code.sold webhook row was written with the sale (outbox)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    listing = active_listing(codes=1)
    client.force_login(listing.seller)
    client.post("/sell/webhooks/", {"url": "http://127.0.0.1:9/hook"})
    client.logout()

    def broker_down(*args, **kwargs):
        raise ConnectionError("Connection refused")

    monkeypatch.setattr(tasks.order_fulfilled_task, "delay", broker_down)
    monkeypatch.setattr(tasks.order_deliver_task, "delay", broker_down)
    monkeypatch.setattr(code_tasks.webhook_send_task, "delay", broker_down)
    buy(listing)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE  # the check never ran
    assert (
        WebhookDelivery.objects.filter(event="code.sold", status="pending").count() == 1
    )
    monkeypatch.undo()
    assert listings_stock_sweep() == [listing.pk]
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT
    assert listings_stock_sweep() == []


def test_a_sale_that_crosses_no_line_queues_one_message_the_last_one_two(
    active_listing, django_capture_on_commit_callbacks
):
    """The delivery email is queued for every sale; the stock check only when the
    sale may have crossed a line (sold out, low stock, backorders)."""
    listing = active_listing(codes=2, low_stock_threshold=1)
    queued = []
    for email in ("a@example.com", "b@example.com"):
        placed = order_place(listing_id=listing.pk, quantity=1, email=email)
        with django_capture_on_commit_callbacks() as callbacks:
            payment_confirm(payment_id=placed.payment.pk)
        queued.append(len(callbacks))
        with django_capture_on_commit_callbacks(execute=True):
            for callback in callbacks:
                callback()
    assert queued == [1, 2]  # 1 left (not under 1): delivery only; then sold out
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT


def test_a_late_payment_that_takes_the_last_code_queues_the_stock_check(
    active_listing, django_capture_on_commit_callbacks
):
    """A payment after its reservation expired allocates again; its counter move
    waits for the commit, so the check is queued whatever the counter says."""
    listing = active_listing(codes=1)
    placed = order_place(listing_id=listing.pk, quantity=1, email="late@example.com")
    payment_fail(payment_id=placed.payment.pk)  # the reservation is released
    with django_capture_on_commit_callbacks(execute=True):
        payment_confirm(payment_id=placed.payment.pk)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT
