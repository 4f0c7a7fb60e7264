"""Earnings overview (issue 12): the reads behind its charts and the stock forecast.

What the numbers mean (the page, its data tables and the low-stock email agree):

- *Net revenue of a day*: the sum of the seller's `LedgerEntry.seller_net` created
  that day in the current (site) timezone. Sales count positive on the day they were
  paid, refunds and lost disputes negative on the day they happened, so a day can
  be below zero.
- *Units sold*: codes of the seller's orders placed in the window that are still
  `sold` or `redeemed`. A refunded, revoked or disputed-and-lost code is `cancelled`
  and no longer counts; reserved (unpaid) codes never do. This is the number of
  codes buyers kept, not `Order.quantity`, which a partial refund does not lower.
- *Sales rate* (for the forecast): codes taken from stock by orders placed in the
  last 28 days, per day. Here a later refund still counts: its code was cancelled,
  not put back on sale, so it emptied the stock all the same.
- *Sells out in*: available codes now (`CODE_FOR_SALE`, invariant 4) divided by
  that rate, rounded down; `None` when nothing sold in 28 days, 0 ("today") when
  less than one day's sales are left.

Codes are reached through the seller's recent orders (`order_seller_created_idx`,
then `code_order_idx`), so these reads cost what the window sold, not what a
listing ever sold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from codes.models import Code
from listings.models import Listing
from listings.selectors import stock_count

from .models import LedgerEntry, Order

REVENUE_DAYS = 90
UNITS_DAYS = 90
RATE_DAYS = 28

KEPT = [*Code.SOLD_STATUSES]
# Taken from stock by a sale, whatever happened to the code afterwards.
TAKEN = [*KEPT, Code.Status.CANCELLED]


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the current timezone."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def window_days(days: int, *, today: date | None = None) -> list[date]:
    """The last `days` calendar days in the current timezone, today last."""
    today = today or timezone.localdate()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


# --- Net revenue per day ------------------------------------------------------------


@dataclass(frozen=True)
class DayAmount:
    day: date
    amount: Decimal


def ledger_currencies(*, seller_id: int) -> list[str]:
    """The currencies the seller has ledger entries in, ever (one chart each)."""
    return list(
        LedgerEntry.objects.filter(seller_id=seller_id)
        .order_by("currency")
        .values_list("currency", flat=True)
        .distinct()
    )


def _per_day(entries: QuerySet[LedgerEntry], days: int) -> dict[str, list[DayAmount]]:
    window = window_days(days)
    sums = (
        entries.filter(created_at__gte=day_start(window[0]))
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("currency", "day")
        .annotate(net=Sum("seller_net"))
        .order_by()
        .values_list("currency", "day", "net")
    )
    found: dict[str, dict[date, Decimal]] = {}
    for currency, day, net in sums:
        found.setdefault(currency, {})[day] = net
    return {
        currency: [DayAmount(day, amounts.get(day, Decimal(0))) for day in window]
        for currency, amounts in found.items()
    }


def net_per_day(
    *, seller_id: int, currency: str, days: int = REVENUE_DAYS
) -> list[DayAmount]:
    """Net to the seller per day in one currency, the last `days` days zero-filled,
    oldest first. One query."""
    entries = LedgerEntry.objects.filter(seller_id=seller_id, currency=currency)
    series = _per_day(entries, days).get(currency)
    return series or [DayAmount(day, Decimal(0)) for day in window_days(days)]


def net_per_day_by_currency(
    *, seller_id: int, currencies: Iterable[str], days: int = REVENUE_DAYS
) -> dict[str, list[DayAmount]]:
    """`net_per_day` for each of `currencies` (zero-filled when it has nothing in
    the window), in one query."""
    found = _per_day(LedgerEntry.objects.filter(seller_id=seller_id), days)
    zeros = [DayAmount(day, Decimal(0)) for day in window_days(days)]
    return {currency: found.get(currency, zeros) for currency in currencies}


# --- Units per listing --------------------------------------------------------------


@dataclass(frozen=True)
class ListingSales:
    listing_id: int
    title: str
    units: int  # kept by buyers, orders of the last UNITS_DAYS days
    taken: int  # taken from stock, orders of the last RATE_DAYS days


def _orders_since(since: datetime, **filters: int) -> QuerySet[Order, int]:
    """Ids of orders placed since `since`: the index-friendly way to recent codes."""
    return Order.objects.filter(created_at__gte=since, **filters).values_list(
        "pk", flat=True
    )


def sales_per_listing(*, seller_id: int) -> list[ListingSales]:
    """Units sold per listing (last 90 days) and codes taken from stock (last 28
    days), most units first. One query."""
    recent = _orders_since(
        timezone.now() - timedelta(days=RATE_DAYS), seller_id=seller_id
    )
    rows = (
        Code.objects.filter(
            seller_id=seller_id,
            order_id__in=_orders_since(
                day_start(window_days(UNITS_DAYS)[0]), seller_id=seller_id
            ),
            status__in=TAKEN,
        )
        .values("listing_id", "listing__title")
        .annotate(
            units=Count("pk", filter=Q(status__in=KEPT)),
            taken=Count("pk", filter=Q(order_id__in=recent)),
        )
        .order_by("-units", "listing__title", "listing_id")
    )
    return [
        ListingSales(r["listing_id"], r["listing__title"], r["units"], r["taken"])
        for r in rows
    ]


# --- Stock forecast -----------------------------------------------------------------


def days_until_sold_out(
    *, available: int, sold: int, window: int = RATE_DAYS
) -> int | None:
    """Days of stock left at `sold` units per `window` days, rounded down: None when
    nothing sold, 0 when it runs out within a day (or already has)."""
    if sold <= 0:
        return None
    return max(available, 0) * window // sold


def stock_forecast(*, listing_id: int, available: int) -> int | None:
    """For the low-stock email: in about how many days the listing sells out at the
    rate of its last 28 days (see `days_until_sold_out`). One query."""
    taken = Code.objects.filter(
        listing_id=listing_id,
        order_id__in=_orders_since(
            timezone.now() - timedelta(days=RATE_DAYS), listing_id=listing_id
        ),
        status__in=TAKEN,
    ).count()
    return days_until_sold_out(available=available, sold=taken)


@dataclass(frozen=True)
class Forecast:
    listing_id: int
    title: str
    available: int
    taken: int  # codes taken from stock in the last RATE_DAYS days

    @property
    def per_day(self) -> Decimal:
        return (Decimal(self.taken) / RATE_DAYS).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )

    @property
    def days(self) -> int | None:
        return days_until_sold_out(available=self.available, sold=self.taken)


def listing_forecasts(
    *, seller_id: int, sales: Sequence[ListingSales]
) -> list[Forecast]:
    """A forecast per active listing, soonest sell-out first, those without recent
    sales last. `sales` comes from `sales_per_listing`. One query, with the
    listings' stock counters."""
    listings = (
        Listing.objects.filter(seller_id=seller_id, status=Listing.Status.ACTIVE)
        .annotate(available=stock_count("available"))
        .order_by("title", "pk")
        .values_list("pk", "title", "available")
    )
    taken = {s.listing_id: s.taken for s in sales}
    forecasts = [
        Forecast(pk, title, count, taken.get(pk, 0)) for pk, title, count in listings
    ]
    return sorted(forecasts, key=lambda f: (f.days is None, f.days or 0))
