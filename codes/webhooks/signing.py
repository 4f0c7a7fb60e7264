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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Target:
    """Where a webhook goes: the URL's parts and the one address that was checked.

    The request connects to `address` itself (TLS still verifies `host`), so a
    second DNS answer can never send it somewhere else (DNS rebinding)."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]  # every one passed the check; tried in order


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global unicast, and so is any IPv4 address embedded in an IPv6 one
    (mapped, 6to4, NAT64, Teredo), which would otherwise slip through."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address.teredo:
            embedded.append(address.teredo[1])
        if address in NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return all(_public(v4) for v4 in embedded if v4 is not None)
    return True


def check_url(url: str) -> Target:
    """Refuse URLs we must not call: not http(s), or (in production) resolving to a
    private, loopback, link-local or otherwise internal address (SSRF). Returns the
    target with the address that passed the check."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookURLError(_("use an http:// or https:// address"))
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_URLS
    if not allow_private and parts.scheme != "https":
        raise WebhookURLError(_("use https://"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise WebhookURLError(
            _("%(host)s does not resolve") % {"host": parts.hostname}
        ) from e
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not allow_private and not all(_public(a) for a in addresses):
        # No address in the message: the seller's DNS must not learn what we reach.
        raise WebhookURLError(
            _(
                "%(host)s resolves to a private or internal address; "
                "webhooks can only go to public addresses"
            )
            % {"host": parts.hostname}
        )
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        path=f"{path}?{parts.query}" if parts.query else path,
        addresses=tuple(dict.fromkeys(str(a) for a in addresses)),
    )
