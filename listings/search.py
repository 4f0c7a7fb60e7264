"""Discovery reads: search, category pages and storefronts (DESIGN "Found").

What buyers can discover: listings on sale *or sold out* (status active or
sold_out) of an active seller who can sell now. Sold-out listings stay visible,
marked sold out, so a buyer can find them and join the waitlist; "In stock only"
hides them. Paused listings are left out: the seller took them off sale on purpose
(their product pages stay reachable by link). The home page, search, category pages,
storefronts and the sitemap all use `discoverable_listings()`.

Search on PostgreSQL is full-text search over the expression index of migration
0009 (title weight A, description B; the seller's name C), with web-search syntax
("quoted phrases", -exclusions, or) and accents ignored on both sides. When it finds
nothing, a trigram fallback (pg_trgm word similarity over title and seller name)
catches typos ("licnse" finds "licence"). On SQLite it is plain `icontains`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVectorField,
)
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _

from distribly.accounts.payouts import selling_sellers

from .models import Listing
from .selectors import stock_count

PAGE_SIZE = 24
DISCOVERABLE_STATUSES = (Listing.Status.ACTIVE, Listing.Status.SOLD_OUT)
# pg_trgm word similarity a query word needs with a title (or seller name) in the
# typo fallback. pg_trgm's own default (0.6) misses one-letter typos in short words
# ("licnse" vs "licence" scores 0.43); below 0.4 unrelated words start to match.
TRIGRAM_MIN = 0.4
# Words the typo fallback compares, at most: each one is a condition per row.
TRIGRAM_MAX_WORDS = 8
# Sellers whose name matches a query, at most (a word in that many names is too
# common to say anything; their listings still match by their own text).
SELLER_MATCHES_MAX = 200
# Codes sold per seller (the storefront): counted over all their codes, so cached.
CODES_SOLD_CACHE = 300


class Sort:
    RELEVANCE = "relevance"
    NEWEST = "newest"
    PRICE_LOW = "price_low"
    PRICE_HIGH = "price_high"
    BEST_SELLING = "best_selling"

    CHOICES = (
        (RELEVANCE, _("Relevance")),
        (NEWEST, _("Newest")),
        (PRICE_LOW, _("Price: low to high")),
        (PRICE_HIGH, _("Price: high to low")),
        (BEST_SELLING, _("Best-selling")),
    )


def category_slug(category: str) -> str:
    """The category's part of its page's URL (/c/licence-keys/): stable, from the value."""
    return category.replace("_", "-")


def category_from_slug(slug: str) -> str | None:
    value = slug.replace("-", "_")
    ok = value in Listing.Category.values and slug == category_slug(value)
    return value if ok else None


@dataclass(frozen=True)
class SearchFilters:
    """What a search asks for, typed (from a valid SearchForm or from code)."""

    query: str = ""
    category: str = ""
    platform: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool = False
    sort: str = ""

    @classmethod
    def from_form(cls, data: dict[str, Any], *, category: str = "") -> SearchFilters:
        return cls(
            query=(data.get("q") or "").strip(),
            category=category or data.get("category") or "",
            platform=data.get("platform") or "",
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            in_stock=bool(data.get("in_stock")),
            sort=data.get("sort") or "",
        )


def discoverable_listings() -> QuerySet[Listing]:
    """Listings buyers can find (see the module docstring), seller joined, with
    `in_stock` from the listing's stock counter (one join on its primary key)."""
    return (
        Listing.objects.filter(
            selling_sellers(),
            status__in=DISCOVERABLE_STATUSES,
            seller__is_active=True,
        )
        .select_related("seller")
        .annotate(
            in_stock=Case(
                When(_in_stock(), then=True),
                default=False,
                output_field=BooleanField(),
            )
        )
    )


def _in_stock() -> Q:
    """On sale with at least one code for sale (the stock counter)."""
    return Q(stock__available__gt=0, status=Listing.Status.ACTIVE)


def search_listings(
    *, filters: SearchFilters, seller_id: int | None = None
) -> QuerySet[Listing]:
    """Discoverable listings matching `filters` (and of one seller if given), in the
    order asked for: relevance by default when there is a query, else newest."""
    qs = discoverable_listings()
    if seller_id is not None:
        qs = qs.filter(seller_id=seller_id)
    qs = _apply_filters(qs, filters)
    words = _words(filters.query)
    if words:
        qs = (
            _postgres_match(qs, filters.query, words)
            if connection.vendor == "postgresql"
            else _sqlite_match(qs, filters.query, words)
        )
    return _order(qs, filters.sort, has_query=bool(words))


def _apply_filters(qs: QuerySet[Listing], f: SearchFilters) -> QuerySet[Listing]:
    if f.category:
        qs = qs.filter(category=f.category)
    if f.platform:
        qs = qs.filter(platform=f.platform)
    # Prices compare as stored, in each listing's own currency.
    if f.min_price is not None:
        qs = qs.filter(price__gte=f.min_price)
    if f.max_price is not None:
        qs = qs.filter(price__lte=f.max_price)
    if f.in_stock:
        qs = qs.filter(_in_stock())
    return qs


def _words(query: str) -> list[str]:
    """The query's words for matching, without web-search operators ("-word", or)."""
    words = re.findall(r"(?:^|(?<=\s))-\S*|\w+", query)
    return [w for w in words if not w.startswith("-") and w.lower() != "or"]


class Unaccent(Func):
    """The IMMUTABLE unaccent wrapper of migration 0009."""

    function = "public.listings_unaccent"
    output_field = TextField()


class ListingDocument(Func):
    """The indexed search document: must stay the exact expression of
    `listing_search_idx` (migration 0009) or PostgreSQL stops using the index."""

    function = "public.listings_search_document"
    output_field = SearchVectorField()


class SellerDocument(Func):
    function = "public.listings_search_seller"
    output_field = SearchVectorField()


class _WordSimilarity(Func):
    """pg_trgm `word_similarity(word, text)`: how well `word` matches some word of
    `text` (Django's TrigramWordSimilarity, which its stubs type for str only)."""

    function = "word_similarity"
    output_field = FloatField()


def _postgres_match(
    qs: QuerySet[Listing], query: str, words: list[str]
) -> QuerySet[Listing]:
    tsquery = SearchQuery(
        Unaccent(Value(query)), search_type="websearch", config="simple"
    )
    # The sellers whose name matches, fetched first (a short query over the users'
    # names): with their ids as constants the planner ORs the GIN scan with the
    # seller index; as a subquery it misjudges the OR and scans every listing.
    seller_ids = list(
        get_user_model()
        .objects.alias(document=SellerDocument(F("display_name")))
        .filter(document=tsquery)
        .values_list("pk", flat=True)[:SELLER_MATCHES_MAX]
    )
    match = Q(document=tsquery)
    if seller_ids:
        match |= Q(seller_id__in=seller_ids)
    found = qs.alias(document=ListingDocument(F("title"), F("description"))).filter(
        match
    )
    if found.exists():
        rank = SearchRank(
            Func(
                ListingDocument(F("title"), F("description")),
                SellerDocument(F("seller__display_name")),
                template="(%(expressions)s)",
                arg_joiner=" || ",
                output_field=SearchVectorField(),
            ),
            tsquery,
        )
        return found.annotate(relevance=rank)
    return _trigram_match(qs, query, words)


def _trigram_match(
    qs: QuerySet[Listing], query: str, words: list[str]
) -> QuerySet[Listing]:
    """The typo fallback: every query word close to a word of the title or the
    seller's name. It scans the discoverable listings (no index can serve a
    threshold below pg_trgm's GUC without SET LOCAL in the evaluating transaction,
    which a lazy QuerySet cannot promise), but only when full-text search found
    nothing, and compares short strings only."""
    text = Unaccent(Concat(F("title"), Value(" "), F("seller__display_name")))
    conditions = Q()
    for i, word in enumerate(words[:TRIGRAM_MAX_WORDS]):
        name = f"trigram_{i}"
        qs = qs.alias(**{name: _WordSimilarity(Unaccent(Value(word)), text)})
        conditions &= Q(**{f"{name}__gte": TRIGRAM_MIN})
    return qs.filter(conditions).annotate(
        relevance=_WordSimilarity(Unaccent(Value(query)), text)
    )


def _sqlite_match(
    qs: QuerySet[Listing], query: str, words: list[str]
) -> QuerySet[Listing]:
    """Every word somewhere in the title, description or seller name."""
    for word in words:
        qs = qs.filter(
            Q(title__icontains=word)
            | Q(description__icontains=word)
            | Q(seller__display_name__icontains=word)
        )
    in_title = Q()
    in_description = Q()
    for word in words:
        in_title &= Q(title__icontains=word)
        in_description &= Q(description__icontains=word)
    return qs.annotate(
        relevance=Case(
            When(in_title, then=Value(3.0)),
            When(in_description, then=Value(2.0)),
            default=Value(1.0),
            output_field=FloatField(),
        )
    )


def _order(qs: QuerySet[Listing], sort: str, *, has_query: bool) -> QuerySet[Listing]:
    if not sort or (sort == Sort.RELEVANCE and not has_query):
        sort = Sort.RELEVANCE if has_query else Sort.NEWEST
    newest: list[str | Expression] = ["-created_at", "-pk"]
    if sort == Sort.RELEVANCE:
        return qs.order_by(F("relevance").desc(), *newest)
    if sort == Sort.PRICE_LOW:
        return qs.order_by("price", *newest)
    if sort == Sort.PRICE_HIGH:
        return qs.order_by("-price", *newest)
    if sort == Sort.BEST_SELLING:
        return qs.annotate(codes_sold=stock_count("sold")).order_by(
            "-codes_sold", *newest
        )
    return qs.order_by(*newest)


def category_counts() -> dict[str, int]:
    """Discoverable listings per category (one query), every category present."""
    rows = (
        discoverable_listings()
        .order_by()
        .values("category")
        .annotate(n=Count("pk"))
        .values_list("category", "n")
    )
    counts = dict.fromkeys(Listing.Category.values, 0)
    counts.update(dict(rows))
    return counts


def storefront_sellers() -> QuerySet[Any]:
    """Sellers with a storefront: active, able to sell, with at least one listing on
    the site (a product page that links to the storefront). Anyone else is a 404:
    a storefront must not reveal that an account exists."""
    on_site = Listing.objects.filter(
        seller=OuterRef("pk"), status__in=Listing.APPROVED_STATUSES
    )
    return (
        get_user_model()
        .objects.filter(selling_sellers(prefix=""), is_active=True)
        .filter(Exists(on_site))
    )


def seller_codes_sold(*, seller_id: int) -> int:
    """Codes a seller has sold (sold or redeemed), over all their listings; cached."""
    key = f"listings:codes-sold:{seller_id}"
    cached = cache.get(key)
    if cached is not None:
        return int(cached)
    counts = Listing.objects.filter(seller_id=seller_id).aggregate(n=Sum("stock__sold"))
    sold = int(counts["n"] or 0)
    cache.set(key, sold, CODES_SOLD_CACHE)
    return sold
