"""Reads about listings. Stock counts come from `ListingStock`, kept with the codes in
the same transactions; `listing_stock_counted` counts the codes themselves (DESIGN
invariant 4), for the reconcile task and the tests that hold the two equal."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from .models import (
    CODE_FOR_SALE,
    ExchangeRate,
    Listing,
    ListingRevision,
    ListingStock,
    WaitlistEntry,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# Counted through the reverse relation `Listing.codes` (listings does not import codes).
FOR_SALE = Q(**{f"codes__{name}": value for name, value in CODE_FOR_SALE.items()})
# Held by a checkout in progress: back to available if it is abandoned.
RESERVED = Q(codes__status="reserved")
SOLD = Q(codes__status__in=["sold", "redeemed"])
REDEEMED = Q(codes__status="redeemed")
# The waitlist line: confirmed entries not yet picked for a "back in stock" email.
WAITLIST_LINE = Q(confirmed_at__isnull=False, notified_at__isnull=True)
# Paid orders waiting for codes, through the reverse relation `Listing.orders`
# (listings does not import sales).
BACKORDERED = Q(orders__status="backordered")


def listing_stock(*, listing: Listing) -> int:
    """Available quantity: available codes of approved batches (the counter)."""
    return int(
        ListingStock.objects.filter(listing_id=listing.pk)
        .values_list("available", flat=True)
        .first()
        or 0
    )


def listing_stock_counted(*, listing_id: int) -> dict[str, int]:
    """The four counts from the codes themselves: one pass over the listing's codes
    (seconds at a million). For `listing_stock_reconcile` only; pages read the
    counters."""
    counts = (
        Listing.objects.filter(pk=listing_id)
        .annotate(**_COUNTED)
        .values(*ListingStock.COUNTS)
        .get()
    )
    return {name: int(counts[name]) for name in ListingStock.COUNTS}


def listing_backordered(*, listing: Listing) -> int:
    """Codes that paid backorders wait for (sales.Order "backordered"): they get new
    stock before anyone else. Through the reverse relation `Listing.orders`, with
    the status as a string, because listings does not import sales."""
    waiting = listing.orders.filter(status="backordered").aggregate(n=Sum("quantity"))
    return int(waiting["n"] or 0)


class StockCounts(TypedDict):
    available: int
    reserved: int
    sold: int
    redeemed: int


ListingWithCounts: TypeAlias = "WithAnnotations[Listing, StockCounts]"


_COUNTED = {
    "available": Count("codes", filter=FOR_SALE),
    "reserved": Count("codes", filter=RESERVED),
    "sold": Count("codes", filter=SOLD),
    "redeemed": Count("codes", filter=REDEEMED),
}


def stock_count(name: str) -> Coalesce:
    """One of the listing's stock counters, as an expression (0 without a row)."""
    return Coalesce(F(f"stock__{name}"), 0)


def listings_with_counts(qs: QuerySet[Listing]) -> QuerySet[ListingWithCounts]:
    """Annotate available / reserved / sold / redeemed from the counters: one join on
    the listing's primary key, whatever the number of codes."""
    return qs.annotate(
        available=stock_count("available"),
        reserved=stock_count("reserved"),
        sold=stock_count("sold"),
        redeemed=stock_count("redeemed"),
    )


class QueueCounts(TypedDict):
    waitlist: int
    backorders: int


# The waitlist size and the backorders each count in a subquery of its own: a
# second Count joined beside the codes would count the product of the two joins.
def _waitlist_size() -> Coalesce:
    line = (
        WaitlistEntry.objects.filter(WAITLIST_LINE, listing=OuterRef("pk"))
        .order_by()
        .values("listing")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(line), 0)


def _backorders() -> Subquery:
    return Subquery(
        Listing.objects.filter(pk=OuterRef("pk"))
        .order_by()
        .values("pk")
        .annotate(n=Count("orders", filter=BACKORDERED))
        .values("n")
    )


def listing_queue_counts(*, listing_id: int) -> QueueCounts:
    """A listing's waitlist size and orders waiting for codes (one query)."""
    counts = (
        Listing.objects.filter(pk=listing_id)
        .annotate(waitlist=_waitlist_size(), backorders=_backorders())
        .values("waitlist", "backorders")
        .get()
    )
    return QueueCounts(waitlist=counts["waitlist"], backorders=counts["backorders"])


class SellerCounts(StockCounts, QueueCounts):
    changes_in_review: bool


SellerListing: TypeAlias = "WithAnnotations[Listing, SellerCounts]"


def seller_listings(*, seller_id: int) -> QuerySet[SellerListing]:
    """Items I'm selling: counts, the waitlist and backorders, and whether edits
    wait for review, all in the page's one query."""
    in_review = ListingRevision.objects.filter(
        listing=OuterRef("pk"), status=ListingRevision.Status.PENDING
    )
    return (
        listings_with_counts(Listing.objects.filter(seller_id=seller_id))
        .annotate(
            changes_in_review=Exists(in_review),
            waitlist=_waitlist_size(),
            backorders=_backorders(),
        )
        .order_by("-created_at")
    )


def listing_pending_changes(*, listing: Listing) -> dict[str, Any]:
    """The changes of the listing's revision waiting for review ({} if none)."""
    revision = ListingRevision.objects.filter(
        listing=listing, status=ListingRevision.Status.PENDING
    ).first()
    return dict(revision.changes) if revision else {}


def seller_listing_choices(*, seller_id: int) -> list[tuple[int, str]]:
    """(id, title) of a seller's listings, for filter menus."""
    return list(
        Listing.objects.filter(seller_id=seller_id)
        .order_by("title")
        .values_list("pk", "title")
    )


RATES_CACHE_KEY = "exchange-rates"


def exchange_rates() -> dict[str, Decimal]:
    """1 EUR = rate, per currency; cached for ten minutes."""
    rates: dict[str, Decimal] | None = cache.get(RATES_CACHE_KEY)
    if rates is None:
        rates = {r.currency: r.rate for r in ExchangeRate.objects.all()}
        cache.set(RATES_CACHE_KEY, rates, 600)
    return rates


def waitlist_entry_by_token(*, token: str) -> WaitlistEntry | None:
    """The entry behind a confirm or leave link (None for an unknown token)."""
    return (
        WaitlistEntry.objects.select_related("listing__seller")
        .filter(token=token)
        .first()
    )
