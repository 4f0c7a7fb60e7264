"""Server-rendered SVG charts: nice axes, negative columns, escaping, accessibility."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils.safestring import SafeString

from distribly.charts import Axis, bar_chart, column_chart, nice_step, tick_indexes

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # markup we just built


def days(values: list[str | int]) -> list[tuple[str, Decimal]]:
    start = date(2026, 8, 6)
    return [
        ((start + timedelta(days=i)).isoformat(), Decimal(v))
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("span", "step"),
    [
        ("30.86", "50"),
        ("60", "50"),  # the nearest, not the next: 100 would leave half the chart empty
        ("1", "1"),
        ("1.4", "1"),
        ("0.3", "0.5"),
        ("180", "200"),
        ("7", "10"),
        ("0", "1"),
    ],
)
def test_nice_step_is_one_two_or_five_times_a_power_of_ten(span, step):
    assert nice_step(Decimal(span)) == Decimal(step)
    assert str(nice_step(Decimal(span))) == step  # never "5E+1" in a label


@pytest.mark.parametrize(
    ("values", "low", "high", "step"),
    [
        (["123.45", "10"], "0", "150", "50"),
        (["123.45", "-20"], "-50", "150", "50"),
        ([0, 0], "0", "1", "1"),
        ([], "0", "1", "1"),
        (["-8"], "-8", "0", "2"),
    ],
)
def test_axis_bounds_are_nice_numbers_around_zero(values, low, high, step):
    axis = Axis.fit(Decimal(v) for v in values)
    assert (axis.low, axis.high, axis.step) == (
        Decimal(low),
        Decimal(high),
        Decimal(step),
    )
    assert axis.ticks()[0] == axis.low
    assert axis.ticks()[-1] == axis.high


def test_integer_axis_never_steps_below_one():
    assert Axis.fit([2], integer=True).step == 1


def test_tick_indexes_spread_evenly_and_include_both_ends():
    assert tick_indexes(90, 6) == [0, 18, 36, 53, 71, 89]
    assert tick_indexes(3, 6) == [0, 1, 2]


def test_column_chart_is_an_accessible_scalable_svg():
    svg = column_chart(
        days([0] * 88 + ["12.50", "3"]),
        chart_id="revenue-USD",
        title="Net revenue per day",
        desc="Net revenue per day, last 90 days: total 15.50 USD.",
    )
    assert isinstance(svg, SafeString)
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("viewBox") == "0 0 720 240"
    assert root.get("width") == "100%"
    assert root.get("aria-labelledby") == "revenue-USD-title revenue-USD-desc"
    assert root.find(f"{SVG}title").text == "Net revenue per day"
    assert root.find(f"{SVG}desc").text.endswith("total 15.50 USD.")
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 2  # zero days draw nothing
    assert [b.find(f"{SVG}title").text for b in bars] == [
        "2026-11-02: 12.5",
        "2026-11-03: 3",
    ]
    # colours only through CSS classes and currentColor
    assert "#" not in svg
    assert "style=" not in svg
    assert "<script" not in svg


def test_column_chart_draws_negative_days_below_the_zero_line():
    root = parse(
        column_chart(days(["40", "-10", "0"]), chart_id="c", title="t", desc="d")
    )
    zero = root.find(f"{SVG}line[@class='chart-zero']")
    zero_y = float(zero.get("y1"))
    sale, refund = root.findall(f"{SVG}rect")
    assert sale.get("class") == "chart-bar"
    assert refund.get("class") == "chart-bar chart-negative"
    assert float(sale.get("y")) + float(sale.get("height")) == pytest.approx(zero_y)
    assert float(refund.get("y")) == pytest.approx(zero_y)
    y_labels = [t.text for t in root.findall(f"{SVG}text") if t.get("x") == "58"]
    assert y_labels == ["-10", "0", "10", "20", "30", "40"]  # reaches below zero


def test_column_chart_labels_the_axis_with_a_few_dates():
    points = days([1] * 90)
    root = parse(
        column_chart(
            points,
            chart_id="c",
            title="t",
            desc="d",
            x_labels=[f"D{i}" for i in range(90)],
        )
    )
    texts = [t.text for t in root.findall(f"{SVG}text")]
    assert [t for t in texts if t.startswith("D")] == [
        "D0",
        "D18",
        "D36",
        "D53",
        "D71",
        "D89",
    ]


def test_every_label_is_escaped():
    evil = '<script>alert(1)</script>"&'
    svg = column_chart(
        [(evil, Decimal(1))], chart_id='x"><script>', title=evil, desc=evil
    ) + bar_chart([(evil, 3)], chart_id="units", title=evil, desc=evil)
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;" in svg
    parse(f"<div>{svg}</div>")  # still well-formed markup


def test_bar_chart_shows_the_largest_categories_first_up_to_the_limit():
    items = [(f"Item {i}", i) for i in range(1, 15)]
    root = parse(bar_chart(items, chart_id="units", title="t", desc="d", limit=10))
    assert root.get("role") == "img"
    assert root.get("viewBox") == f"0 0 720 {8 + 10 * 36}"
    labels = [
        t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-label"
    ]
    assert labels == [f"Item {i}" for i in range(14, 4, -1)]
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths == sorted(widths, reverse=True)
    assert max(widths) <= 720


def test_bar_chart_cuts_long_labels_and_keeps_the_full_one_in_the_tooltip():
    title = "A very long listing title " * 5
    root = parse(bar_chart([(title, 2)], chart_id="u", title="t", desc="d"))
    row = root.find(f"{SVG}g")
    assert row.find(f"{SVG}title").text == f"{title}: 2"
    label = row.find(f"{SVG}text").text
    assert label.endswith("…")
    assert len(label) == 70


def test_ids_are_made_safe_for_aria_references():
    root = parse(column_chart(days([1]), chart_id="net in €", title="t", desc="d"))
    assert root.get("id") == "net-in--"
    assert root.find(f"{SVG}title").get("id") == "net-in---title"
