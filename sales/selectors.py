from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from codes.models import Code

from .forms import SALE_STATUSES
from .models import Order


def seller_sales(*, seller_id: int) -> QuerySet[Order]:
    return (
        Order.objects.filter(seller_id=seller_id, status__in=SALE_STATUSES)
        .select_related("listing")
        .order_by("-created_at")
    )


def sales_totals(qs: QuerySet[Order]) -> list[dict[str, Any]]:
    """Gross, refunded and net per currency, in one query."""
    rows = qs.values("currency").annotate(
        gross=Sum("amount"), refunded=Sum("refunded_amount")
    )
    return [
        {
            "currency": r["currency"],
            "gross": r["gross"] or Decimal("0"),
            "refunded": r["refunded"] or Decimal("0"),
            "net": (r["gross"] or Decimal("0")) - (r["refunded"] or Decimal("0")),
        }
        for r in rows.order_by("currency")
    ]


def codes_by_order(order_ids: list[int]) -> dict[int, list[Code]]:
    """The codes of several orders in one query (no values: those need Show code)."""
    grouped: dict[int, list[Code]] = defaultdict(list)
    for code in (
        Code.objects.filter(order_id__in=order_ids)
        .exclude(status=Code.Status.RESERVED)
        .only("id", "order_id", "status", "seller_id")
        .order_by("id")
    ):
        grouped[code.order_id].append(code)  # type: ignore[index]
    return grouped
