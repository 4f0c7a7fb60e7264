"""Reads of the buyer's vault: My purchases (every code they hold) and the order
list that a Find my codes link opens.

Code values are decrypted only for the rows of the page being shown, never for
a whole account, and searching never looks at them (they are encrypted at rest).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from codes.importing.text import mask
from codes.models import Code

from .models import Claim, Order
from .selectors import claim_can_open, orders_for_buyer, refunded_by_order

OS = Order.Status
# Orders whose codes the buyer can read (Order.has_codes).
SHOWN = (OS.FULFILLED, OS.REFUNDED)
# Paid or about to be, codes not shown yet: the vault shows their state instead.
WAITING = (OS.PENDING, OS.PAID, OS.HELD, OS.BACKORDERED)
# Find my codes: orders the buyer paid for (a pending, expired or failed checkout
# holds nothing worth a link).
PAID = (OS.PAID, OS.HELD, OS.BACKORDERED, OS.FULFILLED, OS.REFUNDED)


class CodeState:
    """What the vault says about a code (kept apart from Code.Status: "sold" reads
    "delivered" to its buyer)."""

    DELIVERED = "delivered"
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"


def _search(query: str) -> Q:
    """Product title, seller name or order reference: never code values."""
    reference = query.lstrip("#").strip()
    return (
        Q(listing__title__icontains=query)
        | Q(seller__display_name__icontains=query)
        | Q(reference__icontains=reference or query)
    )


def vault_orders(*, user: Any, query: str = "") -> QuerySet[Order]:
    """The signed-in buyer's orders (orders_for_buyer), narrowed by a search."""
    orders: QuerySet[Order] = orders_for_buyer(user=user)
    if query:
        orders = orders.filter(_search(query))
    return orders


def vault_codes(orders: QuerySet[Order]) -> QuerySet[Code]:
    """The codes of `orders` that their buyer can read, newest order first.

    Order ids grow with creation time, so ordering by the code's `order_id` is
    newest first without a join (codes keep a plain order id, no foreign key),
    and runs on the `code_order_idx` index.
    """
    return (
        Code.objects.filter(order_id__in=orders.filter(status__in=SHOWN).values("pk"))
        .exclude(status=Code.Status.RESERVED)
        .order_by("-order_id", "id")
    )


def vault_waiting(orders: QuerySet[Order]) -> list[Order]:
    """Orders still without codes to show (being paid, checked, or waiting for
    stock): the vault shows their state."""
    return list(orders.filter(status__in=WAITING).select_related("listing", "seller"))


@dataclass(frozen=True)
class VaultCode:
    """One code in the vault: its value (masked once cancelled), its order, and
    what became of it."""

    code: Code
    order: Order
    value: str
    state: str
    refunded: bool
    reason: str
    expires_at: datetime | None
    # Whole days until expiry, rounded up (0 once expired); None: no expiry.
    days_left: int | None
    # A problem the buyer reported with this code, or whether they still can.
    claim: Claim | None = None
    can_report: bool = False

    @property
    def expired(self) -> bool:
        return self.days_left == 0

    @property
    def cancelled(self) -> bool:
        return self.state == CodeState.CANCELLED


def _days_left(expires_at: datetime | None, now: datetime) -> int | None:
    if expires_at is None:
        return None
    return max(0, math.ceil((expires_at - now).total_seconds() / 86400))


def vault_rows(
    codes: list[Code],
    *,
    now: datetime | None = None,
    orders: dict[int, Order] | None = None,
) -> list[VaultCode]:
    """A page of vault codes with their orders: three queries, whatever the page
    holds (two when the caller has the `orders` already). Decrypts exactly these
    codes; the caller records that they were shown
    (services.delivery.orders_page_viewed)."""
    now = now or timezone.now()
    order_ids = sorted({c.order_id for c in codes if c.order_id is not None})
    if orders is None:
        orders = Order.objects.select_related("listing", "seller").in_bulk(order_ids)
    refunded = refunded_by_order(order_ids)
    claims = {
        c.code_id: c for c in Claim.objects.filter(code_id__in=[c.pk for c in codes])
    }
    rows = []
    for code in codes:
        if code.order_id is None:
            continue
        order = orders[code.order_id]
        value = code.reveal()
        if code.status == Code.Status.CANCELLED:
            state, value = CodeState.CANCELLED, mask(value)
        elif code.status == Code.Status.REDEEMED:
            state = CodeState.REDEEMED
        else:
            state = CodeState.DELIVERED
        # A cancelled code no longer runs out: it already stopped working.
        expires_at = order.expires_at if state != CodeState.CANCELLED else None
        rows.append(
            VaultCode(
                code=code,
                order=order,
                value=value,
                state=state,
                refunded=code.pk in refunded[order.pk],
                reason=code.cancel_reason if state == CodeState.CANCELLED else "",
                expires_at=expires_at,
                days_left=_days_left(expires_at, now),
                claim=claims.get(code.pk),
                can_report=code.pk not in claims
                and claim_can_open(order=order, code=code),
            )
        )
    return rows


def order_codes(order: Order) -> list[VaultCode]:
    """The codes of one order for its buyer's order page, as the vault shows them:
    a cancelled (refunded, revoked, replaced) code masked, enough to recognise it
    and not to use it."""
    return vault_rows(
        list(
            Code.objects.filter(order_id=order.pk)
            .exclude(status=Code.Status.RESERVED)
            .order_by("id")
        ),
        orders={order.pk: order},
    )


def orders_for_email(*, email: str) -> QuerySet[Order]:
    """Find my codes: the paid orders placed with this email, newest first."""
    return (
        Order.objects.filter(email=email.strip().lower(), status__in=PAID)
        .select_related("listing", "seller")
        .order_by("-created_at")
    )
