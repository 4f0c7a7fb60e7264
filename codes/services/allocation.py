"""Allocation: the only writer of a code's sale lifecycle (DESIGN "Allocation").

available → reserved (codes_allocate, in the buyer's checkout transaction) →
sold (codes_mark_sold, on payment) → cancelled (codes_cancel, refund or
revocation); reserved → available (codes_release, expiry or failure).

Each function moves the listing's stock counters (`listing_stock_move`) by the
rows its UPDATE really changed, in the same transaction, after the codes: the
counter row's lock is then held only from there to commit.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from codes.exceptions import OutOfStock
from codes.models import Code, WebhookDelivery, WebhookEndpoint
from codes.webhooks.delivery import webhook_emit, webhook_emit_cancelled
from listings.services import listing_stock_move


def allocation_candidates(*, listing_id: int, quantity: int) -> QuerySet[Code, int]:
    """The ids `codes_allocate` locks: the listing's first `quantity` codes for sale,
    skipping rows other buyers hold. Walks the partial index `code_for_sale_idx`
    (tests EXPLAIN this very queryset)."""
    return (
        Code.objects.for_sale()
        .filter(listing_id=listing_id)
        .order_by("id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:quantity]
    )


def codes_allocate(
    *, listing_id: int, order_id: int, quantity: int, reserved_until: datetime
) -> list[int]:
    """Reserve `quantity` codes for sale of a listing for an order. Returns their ids.

    Must run inside the caller's transaction (sales.services.checkout.order_place or a
    payment confirmation). Picks candidates with `FOR UPDATE SKIP LOCKED` over the
    partial index of codes for sale, so concurrent buyers never queue behind each
    other, then claims them with a conditional UPDATE and checks the count: on
    SQLite, where FOR UPDATE is a no-op, IMMEDIATE transactions plus that check
    keep a code from being reserved twice. Raises OutOfStock (the caller's
    transaction then rolls back).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("codes_allocate must run inside a transaction")
    ids = list(allocation_candidates(listing_id=listing_id, quantity=quantity))
    if len(ids) < quantity:
        raise OutOfStock()
    updated = Code.objects.filter(id__in=ids, status=Code.Status.AVAILABLE).update(
        status=Code.Status.RESERVED,
        order_id=order_id,
        reserved_until=reserved_until,
        status_changed_at=timezone.now(),
    )
    if updated != quantity:  # somebody else claimed one between our read and write
        raise OutOfStock()
    listing_stock_move(listing_id=listing_id, available=-quantity, reserved=quantity)
    return ids


def codes_release(*, listing_id: int, order_id: int) -> int:
    """Return an order's reserved (never sold) codes of `listing_id` to stock.
    Idempotent."""
    released = Code.objects.filter(
        order_id=order_id, status=Code.Status.RESERVED
    ).update(
        status=Code.Status.AVAILABLE,
        order_id=None,
        reserved_until=None,
        status_changed_at=timezone.now(),
    )
    listing_stock_move(listing_id=listing_id, available=released, reserved=-released)
    return released


def codes_mark_sold(*, listing_id: int, order_id: int) -> int:
    """Turn an order's reservations (codes of `listing_id`) into sales. Returns how
    many were sold now.

    The caller holds the order's lock, which every release of a reservation also
    takes, so the reserved codes cannot change under it.
    """
    now = timezone.now()
    sold = Code.objects.filter(order_id=order_id, status=Code.Status.RESERVED).update(
        status=Code.Status.SOLD, reserved_until=None, sold_at=now, status_changed_at=now
    )
    listing_stock_move(listing_id=listing_id, reserved=-sold, sold=sold)
    return sold


def codes_allocate_sold(*, listing_id: int, order_id: int, quantity: int) -> list[int]:
    """Sell `quantity` more codes of a listing to an already-paid order: a
    replacement for a code that did not work, or a backorder filled. The same
    race-free path as a sale (codes_allocate, then the sale of exactly those
    codes); raises OutOfStock. Must run inside the caller's transaction."""
    now = timezone.now()
    ids = codes_allocate(
        listing_id=listing_id, order_id=order_id, quantity=quantity, reserved_until=now
    )
    sold = Code.objects.filter(id__in=ids, status=Code.Status.RESERVED).update(
        status=Code.Status.SOLD, reserved_until=None, sold_at=now, status_changed_at=now
    )
    if sold != quantity:  # cannot happen: we hold these rows' locks
        raise RuntimeError(f"order {order_id}: allocated codes changed under us")
    listing_stock_move(listing_id=listing_id, reserved=-sold, sold=sold)
    return ids


def codes_cancel(
    *, order_id: int, code_ids: list[int] | None = None, reason: str = ""
) -> list[int]:
    """Cancel sold or redeemed codes of an order (refund, revocation). They are never
    sold again, and the seller's webhook hears `code.cancelled` for each. Returns the
    ids cancelled now; already-cancelled ones are skipped."""
    qs = Code.objects.filter(order_id=order_id, status__in=Code.SOLD_STATUSES)
    if code_ids is not None:
        qs = qs.filter(id__in=code_ids)
    # The codes' rows only: FOR UPDATE over the join would lock the listing too,
    # and every buyer's new order (its foreign key) would wait for it.
    codes = list(
        qs.select_for_update(of=("self",)).select_related("listing").order_by("id")
    )
    now = timezone.now()
    Code.objects.filter(id__in=[c.pk for c in codes]).update(
        status=Code.Status.CANCELLED, status_changed_at=now, cancel_reason=reason[:300]
    )
    if codes:
        listing_stock_move(
            listing_id=codes[0].listing_id,
            sold=-len(codes),
            redeemed=-sum(c.status == Code.Status.REDEEMED for c in codes),
        )
    # One query for the sellers without a webhook endpoint (most): no event to queue.
    if (
        codes
        and WebhookEndpoint.objects.filter(
            seller_id=codes[0].seller_id, active=True
        ).exists()
    ):
        for code in codes:
            webhook_emit_cancelled(code=code, reason=reason)
    return [c.pk for c in codes]


def codes_emit_sold(
    *, order_id: int, order_reference: str, seller_id: int, buyer_email: str
) -> int:
    """Tell the seller's webhook about each code sold to an order (`code.sold`).

    One query when the seller has no webhook endpoint (most sellers): this runs
    inside every payment confirmation.
    """
    if not WebhookEndpoint.objects.filter(seller_id=seller_id, active=True).exists():
        return 0
    announced = WebhookDelivery.objects.filter(
        event="code.sold", code__order_id=order_id
    ).values("code_id")
    codes = list(
        Code.objects.filter(order_id=order_id, status=Code.Status.SOLD)
        .exclude(id__in=announced)  # safe to run twice
        .select_related("listing")
    )
    for code in codes:
        webhook_emit(
            seller_id=code.seller_id,
            event="code.sold",
            code=code,
            data={
                "listing": {"id": code.listing_id, "title": code.listing.title},
                "order_id": order_id,
                "order_reference": order_reference,
                "buyer_email": buyer_email,
                "sold_at": code.sold_at.isoformat() if code.sold_at else None,
            },
        )
    return len(codes)
