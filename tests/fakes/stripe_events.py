"""Stripe's events: shaped like its published example, signed with its real scheme
(`Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>" keyed by the
endpoint's whsec_ secret>`), and delivered to a webhook endpoint over HTTP."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from .stripe_store import API_VERSION, FIXTURES, Obj, now

logger = logging.getLogger("tests.fakes.stripe")
ATTEMPTS = 3
TIMEOUT = 30


@dataclass(frozen=True)
class Emit:
    """An event something caused. `account` makes it a Connect event."""

    type: str
    obj: Obj
    account: str | None = None
    previous: Obj | None = None


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str


@dataclass(frozen=True)
class Delivery:
    event_id: str
    type: str
    url: str
    status: int | None  # None: never reached the endpoint


def build_event(
    event_type: str,
    obj: Obj,
    *,
    event_id: str | None = None,
    account: str | None = None,
    previous: Obj | None = None,
) -> Obj:
    event = copy.deepcopy(FIXTURES["event"])
    event.update(
        id=event_id or f"evt_test_{time.time_ns()}",
        type=event_type,
        created=now(),
        api_version=API_VERSION,
        pending_webhooks=1,
        data={"object": copy.deepcopy(obj)},
    )
    if previous is not None:
        event["data"]["previous_attributes"] = previous
    if account is not None:
        event["account"] = account
    return event


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    ts = now() if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256)
    return f"t={ts},v1={mac.hexdigest()}"


def signed_event(
    event_type: str,
    obj: Obj,
    secret: str,
    *,
    event_id: str | None = None,
    timestamp: int | None = None,
    account: str | None = None,
) -> tuple[bytes, str]:
    """An event shaped like Stripe's fixture and its Stripe-Signature header.
    `account` sets the top-level field of Connect events."""
    event = build_event(event_type, obj, event_id=event_id, account=account)
    body = json.dumps(event).encode()
    return body, sign(body, secret, timestamp)


def deliver(endpoint: Endpoint, event: Obj) -> int | None:
    """POST the event as Stripe does: the endpoint's HTTP status, or None when it
    could not be reached (after a few tries on connection errors)."""
    body = json.dumps(event).encode()
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(
            endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(body, endpoint.secret),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                status = int(response.status)
        except urllib.error.HTTPError as e:  # an answer, not a failure to deliver
            status = e.code
        except OSError as e:  # URLError, refused, reset, timed out
            logger.warning(
                "%s to %s: try %d: %s", event["type"], endpoint.url, attempt, e
            )
            time.sleep(0.2 * attempt)
            continue
        logger.info("%s %s to %s: %d", event["type"], event["id"], endpoint.url, status)
        return status
    logger.error("%s %s to %s: not delivered", event["type"], event["id"], endpoint.url)
    return None
