from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from codes.importing.text import mask
from codes.models import Code

from .models import LedgerEntry, Order, Refund

# The platform's fee on Sales: what sales and refunds moved, not what the platform
# lost to a dispute (that is no fee, and not the seller's business).
FEE_ROWS = ~Q(kind=LedgerEntry.Kind.DISPUTE)
ALL_ROWS = Q()
SALE_STATUSES = [
    Order.Status.FULFILLED,
    Order.Status.REFUNDED,
    Order.Status.PAID,
    Order.Status.HELD,
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


def sales_totals(qs: QuerySet[Order]) -> list[dict[str, Any]]:
    """Per currency: gross, refunded, then from the ledger the platform fee and the
    net to the seller (after fees, refunds and lost disputes). Two queries."""
    zero = Decimal("0")
    ledger: dict[str, dict[str, Any]] = {
        r["currency"]: dict(r)
        for r in LedgerEntry.objects.filter(order__in=qs.values("pk"))
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
        .only("id", "order_id", "status", "seller_id")
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


def refunded_code_ids(order: Order) -> set[int]:
    """The order's codes that a refund paid back."""
    ids: set[int] = set()
    for code_ids in order.refunds.filter(status=Refund.Status.SUCCEEDED).values_list(
        "code_ids", flat=True
    ):
        ids.update(code_ids)
    return ids


@dataclass(frozen=True)
class BuyerCode:
    """A code on its buyer's order page: the value, or only a masked one once
    cancelled, with whether a refund paid it back or the seller's reason why not."""

    code: Code
    value: str
    cancelled: bool
    refunded: bool
    reason: str


def buyer_codes(order: Order) -> list[BuyerCode]:
    """The codes of an order for its buyer. A cancelled (refunded, revoked) code shows
    masked: enough to recognise it, not to use it."""
    refunded = refunded_code_ids(order)
    result = []
    for code in (
        Code.objects.filter(order_id=order.pk)
        .exclude(status=Code.Status.RESERVED)
        .order_by("id")
    ):
        cancelled = code.status == Code.Status.CANCELLED
        value = code.reveal()
        result.append(
            BuyerCode(
                code=code,
                value=mask(value) if cancelled else value,
                cancelled=cancelled,
                refunded=code.pk in refunded,
                reason=code.cancel_reason if cancelled else "",
            )
        )
    return result


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
