"""Earnings overview (issue 12): net revenue per day from the ledger, units per item,
the stock forecast, and the page with its charts and data tables."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from codes.models import Code
from sales.models import LedgerEntry, Order
from sales.overview import (
    days_until_sold_out,
    ledger_currencies,
    listing_forecasts,
    net_per_day,
    net_per_day_by_currency,
    sales_per_listing,
    stock_forecast,
)
from sales.services.refunds import order_refund

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def refund_code(django_capture_on_commit_callbacks):
    """Refund one code of an order through the refund service (dev provider)."""

    def run(order):
        code = Code.objects.filter(order_id=order.pk).order_by("pk").first()
        with django_capture_on_commit_callbacks(execute=True):
            order_refund(order=order, code_ids=[code.pk], by=order.seller)
        return code

    return run


def days_ago(n: int) -> datetime:
    return timezone.now() - timedelta(days=n)


def move_ledger(order, when: datetime, kind: str = "sale") -> None:
    LedgerEntry.objects.filter(order=order, kind=kind).update(created_at=when)


def move_order(order, when: datetime) -> None:
    Order.objects.filter(pk=order.pk).update(created_at=when)


# --- Net revenue per day ------------------------------------------------------------


def test_net_per_day_sums_the_ledger_per_day_zero_filled_for_90_days(
    active_listing, buy
):
    listing = active_listing(codes=6, price="10.00", currency="USD")
    buy(listing, quantity=2)  # net 19.00 (5 % platform fee)
    buy(listing)  # net 9.50
    earlier = buy(listing)
    move_ledger(earlier, days_ago(3))

    series = net_per_day(seller_id=listing.seller_id, currency="USD")

    assert len(series) == 90
    today = timezone.localdate()
    assert series[-1].day == today
    assert series[0].day == today - timedelta(days=89)
    assert [d.day for d in series] == sorted(d.day for d in series)
    amounts = {d.day: d.amount for d in series}
    assert amounts[today] == Decimal("28.50")
    assert amounts[today - timedelta(days=3)] == Decimal("9.50")
    assert sum(amounts.values()) == Decimal("38.00")
    assert sum(1 for d in series if d.amount) == 2


def test_entries_older_than_90_days_and_other_currencies_are_left_out(
    active_listing, buy
):
    usd = active_listing(codes=3, price="10.00", currency="USD")
    eur = active_listing(codes=3, price="4.00", currency="EUR", seller=usd.seller)
    old = buy(usd)
    move_ledger(old, days_ago(90))
    buy(eur)

    usd_series = net_per_day(seller_id=usd.seller_id, currency="USD")
    assert len(usd_series) == 90
    assert all(d.amount == 0 for d in usd_series)
    assert ledger_currencies(seller_id=usd.seller_id) == ["EUR", "USD"]
    both = net_per_day_by_currency(seller_id=usd.seller_id, currencies=["EUR", "USD"])
    assert both["EUR"][-1].amount == Decimal("3.80")
    assert sum(d.amount for d in both["USD"]) == 0


def test_a_refund_is_negative_on_the_day_it_happened(active_listing, buy, refund_code):
    listing = active_listing(codes=3, price="10.00")
    order = buy(listing, quantity=2)
    move_ledger(order, days_ago(2))
    refund_code(order)

    series = net_per_day(seller_id=listing.seller_id, currency="USD")
    assert series[-3].amount == Decimal("19.00")
    # 10.00 back to the buyer, of which the platform returns its 0.50 fee
    assert series[-1].amount == Decimal("-9.50")


def test_days_follow_the_current_timezone(active_listing, buy):
    listing = active_listing(codes=2, price="10.00")
    order = buy(listing)
    # 02:00 UTC three days ago is still the evening before in New York
    utc_day = (timezone.now() - timedelta(days=3)).date()
    at = datetime(
        utc_day.year, utc_day.month, utc_day.day, 2, tzinfo=zoneinfo.ZoneInfo("UTC")
    )
    move_ledger(order, at)

    utc = {
        d.day: d.amount
        for d in net_per_day(seller_id=listing.seller_id, currency="USD")
    }
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        new_york = {
            d.day: d.amount
            for d in net_per_day(seller_id=listing.seller_id, currency="USD")
        }
    assert utc[utc_day] == Decimal("9.50")
    assert new_york[utc_day] == 0
    assert new_york[utc_day - timedelta(days=1)] == Decimal("9.50")


# --- Units per listing and the forecast ---------------------------------------------


def test_units_sold_count_codes_kept_by_buyers_in_the_last_90_days(
    active_listing, buy, refund_code
):
    a = active_listing(codes=6, title="Alpha")
    b = active_listing(codes=3, title="Beta", seller=a.seller)
    first = buy(a, quantity=2)
    buy(a)
    buy(b)
    old = buy(b)
    move_order(old, days_ago(91))
    refund_code(first)

    sales = sales_per_listing(seller_id=a.seller_id)

    assert [(s.title, s.units, s.taken) for s in sales] == [
        ("Alpha", 2, 3),  # the refunded code no longer counts as sold…
        ("Beta", 1, 1),  # …nor an order from before the window
    ]


@pytest.mark.parametrize(
    ("available", "sold", "days"),
    [
        (10, 28, 10),  # one a day
        (10, 56, 5),
        (3, 2, 42),
        (5, 6, 23),  # 23.3 days, rounded down
        (1, 56, 0),  # less than a day left: "today"
        (0, 5, 0),
        (10, 0, None),  # nothing sold recently: no forecast
    ],
)
def test_forecast_arithmetic(available, sold, days):
    assert days_until_sold_out(available=available, sold=sold) == days


def test_stock_forecast_uses_the_sales_of_the_last_28_days(
    active_listing, buy, refund_code, django_assert_num_queries
):
    listing = active_listing(codes=10)
    order = buy(listing, quantity=2)
    refund_code(order)  # refunded, but its code left the stock all the same
    old = buy(listing)
    move_order(old, days_ago(29))
    with django_assert_num_queries(1):
        days = stock_forecast(listing_id=listing.pk, available=7)
    assert days == 7 * 28 // 2
    move_order(order, days_ago(30))
    assert stock_forecast(listing_id=listing.pk, available=7) is None


def test_forecasts_cover_active_listings_soonest_first(
    active_listing, listing_factory, buy
):
    slow = active_listing(codes=5, title="Slow")
    fast = active_listing(codes=3, title="Fast", seller=slow.seller)
    idle = active_listing(codes=4, title="Idle", seller=slow.seller)
    listing_factory(seller=slow.seller, title="Draft")  # not on sale
    buy(slow)
    buy(fast, quantity=2)

    forecasts = listing_forecasts(
        seller_id=slow.seller_id, sales=sales_per_listing(seller_id=slow.seller_id)
    )

    assert [(f.title, f.available, f.taken, f.days) for f in forecasts] == [
        ("Fast", 1, 2, 14),
        ("Slow", 4, 1, 112),
        ("Idle", 4, 0, None),
    ]
    assert (forecasts[0].per_day, forecasts[1].per_day) == (
        Decimal("0.07"),
        Decimal("0.04"),
    )
    assert idle.pk == forecasts[-1].listing_id


# --- The page -----------------------------------------------------------------------


def svg_of(html: str, chart_id: str) -> str:
    match = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', html, re.S)
    assert match, f"no chart {chart_id}"
    return match.group(0)


def test_the_page_needs_a_signed_in_user(client):
    response = client.get(reverse("sales:earnings"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_empty_state_before_the_first_sale(client, seller):
    client.force_login(seller)
    html = client.get(reverse("sales:earnings")).content.decode()
    assert "<h1>Earnings</h1>" in html
    assert "No sales yet" in html
    assert "<svg" not in html
    assert reverse("sales:sales-list") in html
    assert reverse("sales:payouts") in html


def test_the_page_shows_charts_each_with_its_data_table(client, active_listing, buy):
    listing = active_listing(codes=5, price="10.00", title="Game key")
    buy(listing, quantity=2)
    client.force_login(listing.seller)

    response = client.get(reverse("sales:earnings"))

    assert response.status_code == 200
    html = response.content.decode()
    today = timezone.localdate().isoformat()
    revenue = svg_of(html, "revenue-USD")
    assert 'role="img"' in revenue
    assert (
        f'<desc id="revenue-USD-desc">Net revenue per day, last 90 days: '
        f"total 19.00 USD, best day {today}.</desc>"
    ) in revenue
    units = svg_of(html, "units")
    assert "Units sold per item, last 90 days: 2 in total, most: Game key (2)." in units
    assert html.count("Show the data") == 2
    assert f'<th scope="row">{today}</th><td class="num">19.00 USD</td>' in html
    assert '<th scope="row">Game key</th><td class="num">2</td>' in html
    # summary: net to the seller, last 30 and 90 days
    assert (
        '<td>USD</td><td class="num">19.00 USD</td><td class="num">19.00 USD</td>'
        in html
    )
    # forecast: 3 left at 2 per 28 days
    assert "Sells out in" in html
    assert "about 42 days" in html
    assert reverse("sales:sales-list") in html
    assert reverse("sales:payouts") in html


def test_listing_titles_are_escaped_in_the_svg(client, active_listing, buy):
    listing = active_listing(codes=3, title="<script>alert(1)</script>")
    buy(listing)
    client.force_login(listing.seller)
    html = client.get(reverse("sales:earnings")).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg_of(html, "units")


def test_another_sellers_sales_never_appear(client, active_listing, buy, user_factory):
    mine = active_listing(codes=3, price="10.00", title="Mine")
    theirs = active_listing(codes=3, price="7.00", currency="GBP", title="Theirs")
    buy(mine)
    buy(theirs, quantity=2)
    client.force_login(mine.seller)
    html = client.get(reverse("sales:earnings")).content.decode()
    assert "Mine" in html
    assert "Theirs" not in html
    assert "GBP" not in html
    assert "13.30" not in html
    # and a seller with no sales of their own sees none of anybody's
    client.force_login(user_factory())
    html = client.get(reverse("sales:earnings")).content.decode()
    assert "No sales yet" in html
    assert "Mine" not in html


def test_query_count_does_not_grow_with_listings_or_currencies(
    client, active_listing, buy, django_assert_max_num_queries
):
    first = active_listing(codes=3, currency="USD")
    buy(first)
    client.force_login(first.seller)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("sales:earnings"))
    # counted now: the next request resets the connection's query log
    with_one_listing = len(one)
    client.logout()
    for currency in ["EUR", "GBP", "USD", "JPY"]:
        listing = active_listing(
            codes=3, currency=currency, price="10", seller=first.seller
        )
        buy(listing)
    client.force_login(first.seller)
    # session, user, currencies, revenue, units, forecast (+ savepoints on PostgreSQL)
    with django_assert_max_num_queries(with_one_listing):
        response = client.get(reverse("sales:earnings"))
    assert len(response.context["forecasts"]) == 5
    assert len(response.context["revenues"]) == 4
    assert with_one_listing <= 8
