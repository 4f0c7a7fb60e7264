"""Outgoing webhook requests: the signature scheme and the URL guard (SSRF).

Requests are signed `Distribly-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"t.body")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from codes.exceptions import WebhookURLError


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(
        secret.encode(), f"{ts}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={ts},v1={mac}"


def check_url(url: str) -> None:
    """Refuse URLs we must not call: not http(s), or (in production) resolving to a
    private, loopback, link-local or otherwise internal address (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookURLError(_("use an http:// or https:// address"))
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return
    if parts.scheme != "https":
        raise WebhookURLError(_("use https://"))
    try:
        infos = socket.getaddrinfo(
            parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as e:
        raise WebhookURLError(
            _("%(host)s does not resolve") % {"host": parts.hostname}
        ) from e
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise WebhookURLError(
                _(
                    "%(host)s resolves to a private or internal address (%(address)s); "
                    "webhooks can only go to public addresses"
                )
                % {"host": parts.hostname, "address": address}
            )
