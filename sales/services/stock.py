"""After a sale: sold-out deactivation and stock alerts, each once per crossing."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from codes.webhooks.delivery import webhook_emit
from distribly.tasks import enqueue_on_commit
from listings.models import Listing
from listings.selectors import stock_count
from listings.services import listing_sync_stock
from sales.models import Order


def stock_check_due(*, listing_id: int) -> bool:
    """Whether a sale of this listing may have crossed a line the stock check acts
    on: nothing left (sold out), under the low-stock threshold and not yet alerted,
    or a backorder line to keep. One read of the listing and its counter; most sales
    cross nothing and queue no message for it (the stock sweep repeats the check
    for any listing whose message was lost)."""
    row = (
        Listing.objects.filter(pk=listing_id)
        .annotate(available=stock_count("available"))
        .values(
            "available", "low_stock_threshold", "low_stock_alerted", "allow_backorders"
        )
        .first()
    )
    if row is None:
        return False
    return (
        row["available"] <= 0
        or row["allow_backorders"]
        or _low_stock_due(
            row["available"], row["low_stock_threshold"], row["low_stock_alerted"]
        )
    )


def _low_stock_due(available: int, threshold: int | None, alerted: bool) -> bool:
    """Under the seller's low-stock threshold (not sold out) and not yet alerted for
    this crossing: the one rule for the check and for the alert itself."""
    return threshold is not None and 0 < available < threshold and not alerted


def order_after_fulfilment(*, order_id: int) -> None:
    """After a sale commits: sold-out and low-stock checks (the stock sweep repeats
    them for any listing whose message was lost)."""
    order = Order.objects.only("listing_id").get(pk=order_id)
    listing_stock_alerts(listing_id=order.listing_id)


def listings_stock_sweep() -> list[int]:
    """Active listings with nothing left for sale: run the stock check that a lost
    queue message would have run (invariant 4 holds again within minutes)."""
    ids = list(
        Listing.objects.filter(status=Listing.Status.ACTIVE)
        .filter(Q(stock__isnull=True) | Q(stock__available__lte=0))
        .values_list("pk", flat=True)[:500]
    )
    for listing_id in ids:
        listing_stock_alerts(listing_id=listing_id)
    return ids


def listing_stock_alerts(*, listing_id: int) -> list[str]:
    """After a sale: sold-out deactivation and alerts, each sent once per crossing."""
    sent: list[str] = []
    with transaction.atomic():
        synced = listing_sync_stock(listing_id=listing_id)
        listing, available = synced.listing, synced.available
        if synced.sold_out_now:
            sent.append("sold_out")
        threshold = listing.low_stock_threshold
        if _low_stock_due(available, threshold, listing.low_stock_alerted):
            Listing.objects.filter(pk=listing.pk).update(low_stock_alerted=True)
            sent.append("low_stock")
        for kind in sent:
            enqueue_on_commit(
                "sales.tasks.email_stock_alert", listing.pk, kind, available
            )
            webhook_emit(
                seller_id=listing.seller_id,
                event=f"listing.{kind}",
                data={
                    "listing": {"id": listing.pk, "title": listing.title},
                    "available": available,
                    "threshold": threshold,
                },
            )
    return sent
