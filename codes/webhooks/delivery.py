"""Outgoing webhooks to a seller's URL: code.sold, code.cancelled, listing.sold_out,
listing.low_stock (and webhook.test).

Each event is a WebhookDelivery row (an outbox) written in the transaction that
caused it and sent by a task after commit, retried with exponential backoff for
about a day. Requests are signed `Distribly-Signature: t=<unix>,v1=<hex
HMAC-SHA256(secret, "t.body")>`. Code values are decrypted into the body only at
send time; rows never hold them.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import socket
import ssl
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.exceptions import CodesError, WebhookURLError
from codes.models import Code, WebhookDelivery, WebhookEndpoint
from distribly.tasks import enqueue, enqueue_on_commit

from .signing import Target, check_url, sign

logger = logging.getLogger(__name__)

SEND_TASK = "codes.tasks.webhook_send"
EVENTS = (
    "code.sold",
    "code.cancelled",
    "listing.sold_out",
    "listing.low_stock",
    "webhook.test",
)


class WebhookSendError(Exception):
    """A delivery attempt failed; the task retries it."""


def endpoint_set(*, seller: Any, url: str) -> WebhookEndpoint:
    check_url(url)
    endpoint, created = WebhookEndpoint.objects.get_or_create(
        seller=seller, defaults={"url": url, "secret": "whsec_" + secrets.token_hex(24)}
    )
    if not created:
        endpoint.url = url
        endpoint.active = True
        endpoint.save(update_fields=["url", "active"])
    return endpoint


def endpoint_disable(*, seller: Any) -> None:
    WebhookEndpoint.objects.filter(seller=seller).update(active=False)


def webhook_emit(
    *, seller_id: int, event: str, data: dict[str, Any], code: Code | None = None
) -> WebhookDelivery | None:
    """Queue an event for the seller's endpoint, if they have one (after commit)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    endpoint = WebhookEndpoint.objects.filter(seller_id=seller_id, active=True).first()
    if endpoint is None:
        return None
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=event, payload=data, code=code
    )
    enqueue_on_commit(SEND_TASK, delivery.pk)
    return delivery


def webhook_emit_cancelled(*, code: Code, reason: str) -> WebhookDelivery | None:
    """`code.cancelled` for a code just cancelled (refund, revocation): the seller's
    system should stop accepting it."""
    return webhook_emit(
        seller_id=code.seller_id,
        event="code.cancelled",
        code=code,
        data={
            "listing": {"id": code.listing_id, "title": code.listing.title},
            "reason": reason,
            "order_id": code.order_id,
        },
    )


def _body(delivery: WebhookDelivery) -> bytes:
    data = dict(delivery.payload)
    if delivery.code_id is not None:
        code = Code.objects.get(pk=delivery.code_id)
        data["code"] = code.reveal()
        data["code_id"] = code.pk
    return json.dumps(
        {
            "id": f"evt_{delivery.pk}",
            "type": delivery.event,
            "created": int(delivery.created_at.timestamp()),
            "data": data,
        },
        separators=(",", ":"),
    ).encode()


def _connect(target: Target, timeout: float | None) -> socket.socket:
    """A connection to the first checked address that answers, whatever DNS says now
    (no rebinding)."""
    error: OSError = OSError("no address to connect to")
    for address in target.addresses:
        try:
            return socket.create_connection((address, target.port), timeout)
        except OSError as e:
            error = e
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects only to the checked addresses."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target

    def connect(self) -> None:
        self.sock = _connect(self.target, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS; the certificate is checked against the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.target = target

    def connect(self) -> None:
        sock = _connect(self.target, self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST without following redirects (one could point inside our network)."""
    pinned = (
        _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    )
    connection = pinned(target, timeout=settings.WEBHOOK_TIMEOUT)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def webhook_send(*, delivery_id: int) -> bool:
    """Send one delivery. True when the seller's server answered 2xx.

    Raises WebhookSendError for a failed attempt (the task retries); claims the
    row first, so a duplicate task run sends nothing.
    """
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING
    ).update(status=WebhookDelivery.Status.SENDING, attempts=F("attempts") + 1)
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    status: int | None = None
    error = ""
    try:
        target = check_url(endpoint.url)  # again at send time: DNS may have changed
        body = _body(delivery)
        status = _post(
            target,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "Distribly-Webhooks/1",
                "Distribly-Event": delivery.event,
                "Distribly-Signature": sign(endpoint.secret, body),
            },
        )
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except WebhookURLError as e:
        error = e.message[:300]
    except (OSError, http.client.HTTPException) as e:
        # What failed, not the system's wording (no port-scan oracle for the seller).
        error = _("could not connect or no valid answer (%(kind)s)") % {
            "kind": type(e).__name__
        }
    ok = status is not None and 200 <= status < 300
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDelivery.Status.SENT if ok else WebhookDelivery.Status.PENDING,
        response_code=status,
        last_error="" if ok else error or f"HTTP {status}",
        delivered_at=timezone.now() if ok else None,
    )
    if not ok:
        raise WebhookSendError(error or f"HTTP {status}")
    return True


def webhook_give_up(*, delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).exclude(
        status=WebhookDelivery.Status.SENT
    ).update(status=WebhookDelivery.Status.FAILED)


def webhook_send_test(*, seller: Any) -> WebhookDelivery:
    endpoint = WebhookEndpoint.objects.filter(seller=seller, active=True).first()
    if endpoint is None:
        raise CodesError(_("Set your webhook URL first."))
    with transaction.atomic():
        delivery = webhook_emit(
            seller_id=seller.pk,
            event="webhook.test",
            data={"message": "A test event from Distribly: your endpoint works."},
        )
    if delivery is None:  # the endpoint was switched off meanwhile
        raise CodesError(_("Set your webhook URL first."))
    return delivery


def webhooks_sweep() -> list[int]:
    """Re-queue deliveries a dead worker left `sending`, or whose first message was lost."""
    now = timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING,
        updated_at__lt=now - timedelta(minutes=15),
    ).update(status=WebhookDelivery.Status.PENDING)
    ids = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            updated_at__lt=now - timedelta(minutes=5),
        )
        .filter(attempts=0)
        .values_list("pk", flat=True)[:500]
    )
    ids += list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            attempts__gt=0,
            updated_at__lt=now - timedelta(hours=7),
        ).values_list("pk", flat=True)[:500]
    )  # retries are at most 6 h apart: older than that means the retry message was lost
    for delivery_id in ids:
        enqueue(SEND_TASK, delivery_id)
    return ids
