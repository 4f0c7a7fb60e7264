"""Reads about listings. Stock is always computed, never stored (DESIGN invariant 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from distribly.accounts.payouts import selling_sellers

from .models import CODE_FOR_SALE, ExchangeRate, Listing, ListingRevision

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# Counted through the reverse relation `Listing.codes` (listings does not import codes).
FOR_SALE = Q(**{f"codes__{name}": value for name, value in CODE_FOR_SALE.items()})
SOLD = Q(codes__status__in=["sold", "redeemed"])
REDEEMED = Q(codes__status="redeemed")


def listing_stock(*, listing: Listing) -> int:
    """Available quantity: available codes of approved batches."""
    return listing.codes.filter(**CODE_FOR_SALE).count()


class StockCounts(TypedDict):
    available: int
    sold: int
    redeemed: int


ListingWithCounts: TypeAlias = "WithAnnotations[Listing, StockCounts]"


def listings_with_counts(qs: QuerySet[Listing]) -> QuerySet[ListingWithCounts]:
    """Annotate available / sold / redeemed in the same query (no N+1)."""
    return qs.annotate(
        available=Count("codes", filter=FOR_SALE),
        sold=Count("codes", filter=SOLD),
        redeemed=Count("codes", filter=REDEEMED),
    )


class SellerCounts(StockCounts):
    changes_in_review: bool


SellerListing: TypeAlias = "WithAnnotations[Listing, SellerCounts]"


def seller_listings(*, seller_id: int) -> QuerySet[SellerListing]:
    """Items I'm selling: counts, and whether edits wait for review."""
    in_review = ListingRevision.objects.filter(
        listing=OuterRef("pk"), status=ListingRevision.Status.PENDING
    )
    return (
        listings_with_counts(Listing.objects.filter(seller_id=seller_id))
        .annotate(changes_in_review=Exists(in_review))
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


def public_listings() -> QuerySet[Listing]:
    return (
        Listing.objects.filter(
            selling_sellers(), status=Listing.Status.ACTIVE, seller__is_active=True
        )
        .select_related("seller")
        .annotate(available=Count("codes", filter=FOR_SALE))
        .order_by("-created_at")
    )


RATES_CACHE_KEY = "exchange-rates"


def exchange_rates() -> dict[str, Decimal]:
    """1 EUR = rate, per currency; cached for ten minutes."""
    rates: dict[str, Decimal] | None = cache.get(RATES_CACHE_KEY)
    if rates is None:
        rates = {r.currency: r.rate for r in ExchangeRate.objects.all()}
        cache.set(RATES_CACHE_KEY, rates, 600)
    return rates
