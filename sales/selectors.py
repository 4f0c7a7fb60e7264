from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from codes.models import Code, CodeReveal

from .models import Claim, Delivery, LedgerEntry, Order, OrderPageView, Refund

# The platform's fee on Sales: what sales and refunds moved, not what the platform
# lost to a dispute (that is no fee, and not the seller's business).
FEE_ROWS = ~Q(kind=LedgerEntry.Kind.DISPUTE)
ALL_ROWS = Q()
SALE_STATUSES = [
    Order.Status.FULFILLED,
    Order.Status.REFUNDED,
    Order.Status.PAID,
    Order.Status.HELD,
    Order.Status.BACKORDERED,
]


@dataclass(frozen=True)
class SalesFilters:
    listing_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def seller_sales(
    *, seller_id: int, filters: SalesFilters | None = None
) -> QuerySet[Order]:
    """Sales: a seller's paid orders, newest first, optionally filtered."""
    qs = Order.objects.filter(seller_id=seller_id, status__in=SALE_STATUSES)
    if filters is not None:
        if filters.listing_id:
            qs = qs.filter(listing_id=filters.listing_id)
        if filters.date_from:
            qs = qs.filter(created_at__date__gte=filters.date_from)
        if filters.date_to:
            qs = qs.filter(created_at__date__lte=filters.date_to)
    return (
        qs.select_related("listing")
        .prefetch_related("disputes")
        .order_by("-created_at")
    )


def sales_totals(*, seller_id: int, filters: SalesFilters) -> list[dict[str, Any]]:
    """Per currency, over the seller's sales these filters show: gross, refunded,
    then from the ledger the platform fee and the net to the seller (after fees,
    refunds and lost disputes). Two queries.

    Unfiltered, the ledger is read by its seller index: every ledger row is of a
    sale, so that is the same set, without matching each row against the seller's
    orders (160 ms of the page at 100,000 orders)."""
    zero = Decimal("0")
    qs = seller_sales(seller_id=seller_id, filters=filters)
    ledger_rows = (
        LedgerEntry.objects.filter(order__in=qs.values("pk"))
        if filters != SalesFilters()
        else LedgerEntry.objects.filter(seller_id=seller_id)
    )
    ledger: dict[str, dict[str, Any]] = {
        r["currency"]: dict(r)
        for r in ledger_rows.order_by()
        .values("currency")
        .annotate(fee=Sum("platform_fee", filter=FEE_ROWS), net=Sum("seller_net"))
    }
    rows = qs.values("currency").annotate(
        gross=Sum("amount"), refunded=Sum("refunded_amount")
    )
    return [
        {
            "currency": r["currency"],
            "gross": r["gross"] or zero,
            "refunded": r["refunded"] or zero,
            "fee": ledger.get(r["currency"], {}).get("fee") or zero,
            "net": ledger.get(r["currency"], {}).get("net") or zero,
        }
        for r in rows.order_by("currency")
    ]


@dataclass(frozen=True)
class SaleRow:
    """One order on Sales with its codes (no values: those need Show code)."""

    order: Order
    codes: list[Code]
    fee: Decimal = Decimal("0")
    net: Decimal = Decimal("0")


def sales_rows(orders: list[Order]) -> list[SaleRow]:
    """Sales rows for a page of orders: their codes in one query."""
    grouped: dict[int, list[Code]] = defaultdict(list)
    for code in (
        Code.objects.filter(order_id__in=[o.pk for o in orders])
        .exclude(status=Code.Status.RESERVED)
        .only("id", "order_id", "status", "seller_id", "seller_disabled_at")
        .order_by("id")
    ):
        if code.order_id is not None:
            grouped[code.order_id].append(code)
    money = ledger_by_order([o.pk for o in orders])
    return [
        SaleRow(order=o, codes=grouped[o.pk], fee=fee, net=net)
        for o in orders
        for fee, net in [money.get(o.pk, (Decimal("0"), Decimal("0")))]
    ]


def sale_code_position(*, code: Code) -> int:
    """Which of its order's codes this is (1-based), counted as Sales lists them."""
    return (
        Code.objects.filter(order_id=code.order_id, id__lte=code.pk)
        .exclude(status=Code.Status.RESERVED)
        .count()
    )


def orders_for_buyer(*, user: Any) -> Any:
    """My purchases: orders placed while signed in, or to one of the user's verified emails."""
    emails_ = EmailAddress.objects.filter(user=user, verified=True).values_list(
        "email", flat=True
    )
    return (
        Order.objects.filter(Q(buyer=user) | Q(email__in=[e.lower() for e in emails_]))
        .exclude(status=Order.Status.PENDING, reserved_until__lt=timezone.now())
        .select_related("listing")
        .order_by("-created_at")
    )


def refunded_by_order(order_ids: list[int]) -> dict[int, set[int]]:
    """Per order, the codes a refund paid back: one query for a page of orders."""
    refunded: dict[int, set[int]] = defaultdict(set)
    for order_id, code_ids in Refund.objects.filter(
        order_id__in=order_ids, status=Refund.Status.SUCCEEDED
    ).values_list("order_id", "code_ids"):
        refunded[order_id].update(code_ids)
    return refunded


def refunded_code_ids(order: Order) -> set[int]:
    """The order's codes that a refund paid back."""
    return refunded_by_order([order.pk])[order.pk]


def claim_window_end(*, order: Order, code: Code) -> datetime | None:
    """Until when the buyer can report this code: the listing's window from when it
    reached them (delivery, or the replacement's sale). None: it never did."""
    if order.fulfilled_at is None:
        return None
    start = max(order.fulfilled_at, code.sold_at or order.fulfilled_at)
    return start + timedelta(days=order.listing.claim_window_days)


def claim_can_open(*, order: Order, code: Code) -> bool:
    end = claim_window_end(order=order, code=code)
    return (
        order.has_codes
        and code.status in Code.SOLD_STATUSES
        and end is not None
        and timezone.now() < end
    )


def earnings_deductions(*, seller_id: int, limit: int = 50) -> QuerySet[LedgerEntry]:
    """What was taken back from the seller's earnings: refunds and lost disputes."""
    return (
        LedgerEntry.objects.filter(seller_id=seller_id)
        .exclude(kind=LedgerEntry.Kind.SALE)
        .select_related("order")
        .order_by("-created_at")[:limit]
    )


def ledger_by_order(order_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """(platform fee, net to seller) per order, all movements included."""
    return {
        order_id: (fee, net)
        for order_id, fee, net in LedgerEntry.objects.filter(order_id__in=order_ids)
        .values("order_id")
        .annotate(fee=Sum("platform_fee", filter=FEE_ROWS), net=Sum("seller_net"))
        .values_list("order_id", "fee", "net")
    }


def with_earnings(qs: QuerySet[Order]) -> QuerySet[Order]:
    """Orders annotated with `fee` and `net` (to the seller) from the ledger."""

    def total(field: str, rows: Q = ALL_ROWS) -> Any:
        return Coalesce(
            Subquery(
                LedgerEntry.objects.filter(rows, order=OuterRef("pk"))
                .values("order")
                .annotate(total=Sum(field))
                .values("total")
            ),
            Decimal("0"),
            output_field=DecimalField(),
        )

    return qs.annotate(fee=total("platform_fee", FEE_ROWS), net=total("seller_net"))


# --- After the sale: claims and reputation ------------------------------------------

REPUTATION_CACHE = 600  # seconds: a product page need not count a seller's sales
# How far back a buyer's claims count towards the flag for claims against many sellers.
FLAG_PERIOD = timedelta(days=90)


@dataclass(frozen=True)
class Reputation:
    """A seller's delivered sales and how many had a problem upheld (replaced or
    refunded after a claim)."""

    sales: int
    upheld: int

    @property
    def shown(self) -> bool:
        return self.sales >= settings.REPUTATION_MIN_SALES

    @property
    def percent(self) -> Decimal:
        if not self.sales:
            return Decimal("0")
        return (Decimal(100) * self.upheld / self.sales).quantize(Decimal("0.1"))


def _delivered_orders() -> QuerySet[Order]:
    return Order.objects.filter(fulfilled_at__isnull=False)


def seller_reputation(*, seller_id: int) -> Reputation:
    """Cached for a few minutes: it counts all of a seller's orders."""
    key = f"sales:reputation:{seller_id}"
    cached = cache.get(key)
    if cached is not None:
        return Reputation(*cached)
    counts = (
        _delivered_orders()
        .filter(seller_id=seller_id)
        .aggregate(
            sales=Count("pk"),
            upheld=Count(
                "pk", filter=Q(claims__status__in=Claim.UPHELD), distinct=True
            ),
        )
    )
    reputation = Reputation(sales=counts["sales"] or 0, upheld=counts["upheld"] or 0)
    cache.set(key, (reputation.sales, reputation.upheld), REPUTATION_CACHE)
    return reputation


def sellers_above_claim_threshold() -> list[dict[str, Any]]:
    """Staff: sellers past REPUTATION_MIN_SALES sales whose share of sales with an
    upheld claim is at least REPUTATION_ALERT_PERCENT, worst first."""
    rows = (
        _delivered_orders()
        .values("seller", "seller__email")
        .annotate(
            sales=Count("pk", distinct=True),
            upheld=Count(
                "pk", filter=Q(claims__status__in=Claim.UPHELD), distinct=True
            ),
        )
        .filter(sales__gte=settings.REPUTATION_MIN_SALES, upheld__gt=0)
    )
    result: list[dict[str, Any]] = [
        {**row, "percent": Reputation(row["sales"], row["upheld"]).percent}
        for row in rows
    ]
    return sorted(
        (r for r in result if r["percent"] >= settings.REPUTATION_ALERT_PERCENT),
        key=lambda r: -r["percent"],
    )


def seller_claims(*, seller_id: int, status: str = "") -> QuerySet[Claim]:
    """Problems reported: a seller's claims, the ones waiting for them first."""
    qs = Claim.objects.filter(seller_id=seller_id)
    if status == "open":
        qs = qs.filter(status=Claim.Status.OPEN)
    return qs.select_related("order__listing").order_by(
        Case(When(status=Claim.Status.OPEN, then=0), default=1), "-created_at"
    )


@dataclass(frozen=True)
class ClaimEvidence:
    """What we know about the reported code, for the seller's (and staff's) decision."""

    delivered_at: datetime | None
    email_sent_at: datetime | None
    page_views: int
    first_view_at: datetime | None
    last_view_at: datetime | None
    code_status: str
    redeemed_at: datetime | None
    redeemed_by: str
    seller_reveals: list[CodeReveal]  # the first few
    seller_reveal_count: int
    buyer_claims: int
    buyer_sellers: int

    @property
    def buyer_flagged(self) -> bool:
        """The buyer reported problems to CLAIM_FLAG_SELLERS sellers or more lately."""
        return self.buyer_sellers >= settings.CLAIM_FLAG_SELLERS


def claim_evidence(claim: Claim) -> ClaimEvidence:
    order = claim.order
    views = OrderPageView.objects.filter(order=order).aggregate(
        n=Count("pk"), first=Min("at"), last=Max("at")
    )
    sent = (
        Delivery.objects.filter(order=order, status=Delivery.Status.SENT)
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    code = claim.code
    # The seller saw the value: Show code on this code, or a download of its whole
    # generated batch (recorded once for the batch, with no code).
    reveals = CodeReveal.objects.filter(
        Q(code=code)
        | Q(
            code__isnull=True,
            batch_id=code.batch_id,
            kind=CodeReveal.Kind.BATCH_DOWNLOAD,
        )
    )
    since = timezone.now() - FLAG_PERIOD
    others = Claim.objects.filter(email=claim.email, created_at__gte=since).aggregate(
        n=Count("pk"), sellers=Count("seller", distinct=True)
    )
    return ClaimEvidence(
        delivered_at=order.fulfilled_at,
        email_sent_at=sent,
        page_views=views["n"] or 0,
        first_view_at=views["first"],
        last_view_at=views["last"],
        code_status=code.get_status_display(),
        redeemed_at=code.redeemed_at,
        redeemed_by=code.redeemed_by,
        seller_reveals=list(reveals.order_by("at", "pk")[:20]),
        seller_reveal_count=reveals.count(),
        buyer_claims=others["n"] or 0,
        buyer_sellers=others["sellers"] or 0,
    )


def flagged_emails() -> QuerySet[Any, Any]:
    """Emails with claims against CLAIM_FLAG_SELLERS or more sellers lately (a subquery)."""
    return (
        Claim.objects.filter(created_at__gte=timezone.now() - FLAG_PERIOD)
        .values("email")
        .annotate(sellers=Count("seller", distinct=True))
        .filter(sellers__gte=settings.CLAIM_FLAG_SELLERS)
        .values("email")
    )
