"""Earnings → Overview: net revenue per day, units per item and the stock forecast.

Charts are SVG drawn here on the server (distribly.charts); each is followed by its
data table, which is what screen readers and browsers without CSS get.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from distribly.charts import bar_chart, column_chart
from distribly.currency import format_amount
from distribly.http import AuthenticatedRequest

from .overview import (
    REVENUE_DAYS,
    UNITS_DAYS,
    DayAmount,
    ListingSales,
    ledger_currencies,
    listing_forecasts,
    net_per_day_by_currency,
    sales_per_listing,
)

SUMMARY_DAYS = 30
TOP_LISTINGS = 10


@dataclass(frozen=True)
class Chart:
    """An SVG chart and the table of its numbers."""

    svg: SafeString
    caption: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Revenue:
    currency: str
    net_30: str
    net_90: str
    chart: Chart


def _revenue_desc(days: list[DayAmount], currency: str) -> str:
    total = format_amount(sum((d.amount for d in days), Decimal(0)), currency)
    best = max(days, key=lambda d: d.amount)
    if best.amount <= 0:
        return _(
            "Net revenue per day, last %(days)d days: total %(total)s, no sales."
        ) % {"days": len(days), "total": total}
    return _(
        "Net revenue per day, last %(days)d days: total %(total)s, best day %(best)s."
    ) % {"days": len(days), "total": total, "best": best.day.isoformat()}


def revenue_chart(days: list[DayAmount], currency: str) -> Chart:
    def money(value: Decimal) -> str:
        return format_amount(value, currency)

    svg = column_chart(
        [(d.day.isoformat(), d.amount) for d in days],
        chart_id=f"revenue-{currency}",
        title=_("Net revenue per day in %(currency)s") % {"currency": currency},
        desc=_revenue_desc(days, currency),
        value_text=money,
        x_labels=[date_format(d.day, "M j") for d in days],
    )
    rows = [[d.day.isoformat(), money(d.amount)] for d in days if d.amount]
    return Chart(
        svg=svg,
        caption=_(
            "Net to you per day in %(currency)s. Days without sales or refunds are left out."
        )
        % {"currency": currency},
        columns=[_("Date"), _("Net to you")],
        rows=rows,
    )


def _units_desc(sold: list[ListingSales]) -> str:
    if not sold:
        return ""
    desc = _(
        "Units sold per item, last %(days)d days: %(total)d in total, most: %(item)s (%(units)d)."
    ) % {
        "days": UNITS_DAYS,
        "total": sum(s.units for s in sold),
        "item": sold[0].title,
        "units": sold[0].units,
    }
    if len(sold) > TOP_LISTINGS:
        desc += " " + _(
            "The chart shows the %(count)d best-selling items; the table lists all."
        ) % {"count": TOP_LISTINGS}
    return desc


def units_chart(sales: list[ListingSales]) -> Chart:
    sold = [s for s in sales if s.units]
    svg = bar_chart(
        [(s.title, s.units) for s in sold],
        chart_id="units",
        title=_("Units sold per item, last %(days)d days") % {"days": UNITS_DAYS},
        desc=_units_desc(sold),
        limit=TOP_LISTINGS,
    )
    return Chart(
        svg=svg,
        caption=_("Units sold per item, last %(days)d days, refunded units left out.")
        % {"days": UNITS_DAYS},
        columns=[_("Item"), _("Units sold")],
        rows=[[s.title, str(s.units)] for s in sold],
    )


def _revenues(seller_id: int, currencies: list[str]) -> list[Revenue]:
    series = net_per_day_by_currency(
        seller_id=seller_id, currencies=currencies, days=REVENUE_DAYS
    )
    return [
        Revenue(
            currency=currency,
            net_30=format_amount(
                sum((d.amount for d in days[-SUMMARY_DAYS:]), Decimal(0)), currency
            ),
            net_90=format_amount(sum((d.amount for d in days), Decimal(0)), currency),
            chart=revenue_chart(days, currency),
        )
        for currency, days in series.items()
    ]


@login_required
def earnings_overview(request: AuthenticatedRequest) -> HttpResponse:
    """The signed-in seller's own numbers only (every read is by seller)."""
    seller_id = request.user.pk
    currencies = ledger_currencies(seller_id=seller_id)
    sales = sales_per_listing(seller_id=seller_id)
    context: dict[str, object] = {"has_sales": bool(currencies or sales)}
    if context["has_sales"]:
        context.update(
            revenues=_revenues(seller_id, currencies),
            units=units_chart(sales) if any(s.units for s in sales) else None,
            forecasts=listing_forecasts(seller_id=seller_id, sales=sales),
            revenue_days=REVENUE_DAYS,
            units_days=UNITS_DAYS,
        )
    return render(request, "sales/overview.html", context)
