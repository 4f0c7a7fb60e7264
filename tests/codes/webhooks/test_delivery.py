"""Outgoing webhooks: signed events to a seller's URL, retried, logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from codes import tasks
from codes.models import Code, WebhookDelivery
from codes.webhooks.delivery import webhooks_sweep
from distribly.celery import app

pytestmark = pytest.mark.django_db


class Receiver:
    """A seller's endpoint on loopback that records requests; answers `fail_first` 500s first."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = 500 if len(receiver.requests) <= receiver.fail_first else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/distribly"
        threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        ).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]


def independent_verify(
    secret: str, header: str, body: bytes, tolerance: int = 300
) -> bool:
    """What a seller writes from our docs: no Distribly code involved."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(
        expected, parts["v1"]
    )


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    app.conf.task_eager_propagates = (
        False  # eager retries need this (see test_delivery_failures)
    )
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def hooked_seller(client, seller, receiver):
    client.force_login(seller)
    response = client.post(reverse("codes:webhooks"), {"url": receiver.url})
    assert response.status_code == 302
    client.logout()
    return seller


def test_code_sold_event_carries_the_code_and_a_verifiable_signature(
    hooked_seller, receiver, active_listing, buy
):
    listing = active_listing(codes=3, seller=hooked_seller)
    order = buy(listing, quantity=2, email="buyer@example.com")
    sold = [e for e in receiver.events() if e["type"] == "code.sold"]
    values = sorted(c.reveal() for c in Code.objects.filter(order_id=order.pk))
    assert sorted(e["data"]["code"] for e in sold) == values
    assert sold[0]["data"]["listing"] == {"id": listing.pk, "title": listing.title}
    assert sold[0]["data"]["buyer_email"] == "buyer@example.com"
    assert sold[0]["data"]["order_reference"] == order.reference
    secret = hooked_seller.webhook_endpoint.secret
    for headers, body in receiver.requests:
        assert independent_verify(secret, headers["Distribly-Signature"], body)
        assert not independent_verify(
            "whsec_wrong", headers["Distribly-Signature"], body
        )
    assert not independent_verify(
        secret,
        receiver.requests[0][0]["Distribly-Signature"],
        receiver.requests[0][1] + b" ",
    )
    # stored rows never hold the code
    assert not any("code" in d.payload for d in WebhookDelivery.objects.all())


def test_sold_out_and_low_stock_events(hooked_seller, receiver, active_listing, buy):
    listing = active_listing(codes=3, seller=hooked_seller, low_stock_threshold=3)
    buy(listing, email="a@example.com")
    buy(listing, email="b@example.com")
    buy(listing, email="c@example.com")
    types = [e["type"] for e in receiver.events()]
    assert types.count("listing.low_stock") == 1
    assert types.count("listing.sold_out") == 1
    low = next(e for e in receiver.events() if e["type"] == "listing.low_stock")
    assert "code" not in low["data"]
    assert low["data"]["available"] == 2


def test_refund_sends_code_cancelled(
    client,
    hooked_seller,
    receiver,
    active_listing,
    buy,
    django_capture_on_commit_callbacks,
):
    listing = active_listing(codes=2, seller=hooked_seller)
    order = buy(listing)
    client.force_login(hooked_seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("sales:sales-refund", args=[order.reference]))
    cancelled = [e for e in receiver.events() if e["type"] == "code.cancelled"]
    assert [e["data"]["code"] for e in cancelled] == [
        Code.objects.get(order_id=order.pk).reveal()
    ]


def test_failed_deliveries_are_retried_and_logged(
    client, hooked_seller, receiver, django_capture_on_commit_callbacks
):
    receiver.fail_first = 2
    client.force_login(hooked_seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("codes:webhook-test"))
    delivery = WebhookDelivery.objects.get(event="webhook.test")
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        "sent",
        3,
        200,
    )
    page = client.get(reverse("codes:webhooks")).content.decode()
    assert "webhook.test" in page
    assert "Delivered" in page


def test_a_dead_endpoint_gives_up_after_the_retries(
    client, seller, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    app.conf.task_eager_propagates = False
    retries = tasks.webhook_send_task.max_retries
    tasks.webhook_send_task.max_retries = 2
    try:
        client.force_login(seller)
        client.post(
            reverse("codes:webhooks"), {"url": "http://127.0.0.1:1/nothing-listens"}
        )
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("codes:webhook-test"))
    finally:
        tasks.webhook_send_task.max_retries = retries
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.last_error


def test_no_endpoint_means_no_deliveries(active_listing, buy):
    buy(active_listing(codes=2))
    assert not WebhookDelivery.objects.exists()


def test_sweep_requeues_a_delivery_left_sending_by_a_dead_worker(
    client, hooked_seller, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(
        tasks.webhook_send_task, "delay", lambda *a: None
    )  # the message is lost
    client.force_login(hooked_seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("codes:webhook-test"))
    WebhookDelivery.objects.update(
        status="sending", updated_at=timezone.now() - timedelta(hours=1)
    )
    monkeypatch.undo()
    webhooks_sweep()  # resets the stale claim
    WebhookDelivery.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    webhooks_sweep()
    assert WebhookDelivery.objects.get().status == "sent"
    assert len(receiver.requests) == 1
