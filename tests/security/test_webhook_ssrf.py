"""Seller webhooks connect to the address that was checked (issue 11, "Webhook SSRF
by DNS rebinding").

Before: the URL check resolved the host, then the HTTP client resolved it again to
connect, so a DNS server answering a public address first and loopback second
sent our request inside the network; the delivery log then showed the seller the
internal error text (a port-scan oracle). The resolver below answers exactly
that way; the connection itself is recorded and refused, so no traffic leaves
this process."""

from __future__ import annotations

import socket

import pytest

from codes.exceptions import WebhookURLError
from codes.models import WebhookDelivery, WebhookEndpoint
from codes.webhooks.delivery import WebhookSendError, webhook_emit, webhook_send
from codes.webhooks.signing import check_url

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.216.34"


@pytest.fixture
def rebinding_dns(monkeypatch):
    answers = iter([PUBLIC, "127.0.0.1", "127.0.0.1", "127.0.0.1"])
    asked: list[str] = []

    def resolve(host, port, *args, **kwargs):
        asked.append(host)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return asked


@pytest.fixture
def connections(monkeypatch):
    """Every outgoing connection attempt, refused without touching the network."""
    attempts: list[tuple[str, int]] = []

    def create_connection(address, *args, **kwargs):
        attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts


def _delivery(seller) -> WebhookDelivery:
    WebhookEndpoint.objects.create(
        seller=seller, url="https://hooks.attacker.example/x", secret="whsec_x"
    )
    delivery = webhook_emit(seller_id=seller.pk, event="webhook.test", data={})
    assert delivery is not None
    return delivery


def test_the_request_goes_to_the_checked_address_not_a_second_answer(
    settings, seller, rebinding_dns, connections
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = _delivery(seller)
    with pytest.raises(WebhookSendError):
        webhook_send(delivery_id=delivery.pk)
    assert connections == [(PUBLIC, 443)]
    assert rebinding_dns == ["hooks.attacker.example"]  # resolved once, by the check


def test_the_seller_sees_no_system_error_text(
    settings, seller, rebinding_dns, connections
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = _delivery(seller)
    with pytest.raises(WebhookSendError):
        webhook_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert "Connection refused" not in delivery.last_error
    assert "111" not in delivery.last_error
    assert "127.0.0.1" not in delivery.last_error


def test_a_host_that_now_resolves_inside_is_refused_without_naming_the_address(
    settings, seller, monkeypatch, connections
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = _delivery(seller)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))
        ],
    )
    with pytest.raises(WebhookSendError):
        webhook_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert connections == []
    assert "private or internal address" in delivery.last_error
    assert "10.0.0.7" not in delivery.last_error


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::7f00:1]/x",  # NAT64 of 127.0.0.1
        "https://[::ffff:10.0.0.1]/x",  # IPv4-mapped private address
        "https://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
    ],
)
def test_internal_ipv4_inside_ipv6_is_refused(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(WebhookURLError):
        check_url(url)


def test_every_checked_address_is_tried_in_turn(
    settings, seller, monkeypatch, connections
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = _delivery(seller)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.35", port)),
        ],
    )
    with pytest.raises(WebhookSendError):
        webhook_send(delivery_id=delivery.pk)
    assert connections == [(PUBLIC, 443), ("93.184.216.35", 443)]
