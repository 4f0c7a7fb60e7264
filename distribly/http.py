"""Request types and typed view decorators shared by every app's views."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from allauth.account.decorators import (
    verified_email_required as _verified_email_required,
)
from django.conf import settings
from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from distribly.accounts.models import User

View = TypeVar("View", bound=Callable[..., Any])


class AuthenticatedRequest(HttpRequest):
    """A request behind a login decorator: `user` is a signed-in User, never anonymous."""

    user: User


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT = N proxies of
    ours in front, the address the outermost of them saw (N-th from the right of
    X-Forwarded-For; anything left of it was written by the client)."""
    count = settings.TRUSTED_PROXY_COUNT
    address: str = request.META.get("REMOTE_ADDR", "")
    if count:
        header: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [a.strip() for a in header.split(",") if a.strip()]
        if len(forwarded) >= count:
            address = forwarded[-count]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:  # malformed: no address rather than a forged one
        return None


def query_without(request: HttpRequest, *drop: str) -> str:
    """The request's query string (filters, page) without the keys in `drop`, for
    links that keep what the visitor chose: pagination, "back" links."""
    query = request.GET.copy()
    for key in drop:
        query.pop(key, None)
    return query.urlencode()


def client_network(address: str | None) -> str:
    """What per-client limits count by: the address, or for IPv6 its /64 (one
    subscriber gets a whole /64, so single addresses cost an attacker nothing)."""
    if not address:
        return ""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def verified_email_required(view: View) -> View:
    """allauth's decorator (signed in, with a verified email), typed for mypy."""
    decorated: View = _verified_email_required(view)
    return decorated


def private_page(response: HttpResponse) -> HttpResponse:
    """A page showing codes, or reached by a capability link (an order's token, a
    signed Find my codes link): never stored by a browser or proxy, and its URL
    never sent to other sites as a Referer. "same-origin", not "no-referrer": under
    no-referrer Chromium posts the page's own forms with `Origin: null`, which
    Django's CSRF check refuses."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response
