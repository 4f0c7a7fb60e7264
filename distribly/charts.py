"""Server-rendered SVG charts: no JavaScript, no library, no CDN.

Each chart is one `<svg role="img">` named by its `<title>` and summed up in one
sentence by its `<desc>`, which is all a screen reader announces: the page must put
the numbers in a data table next to it. Every label is escaped by `format_html`;
`mark_safe` wraps only markup assembled here from `format_html` pieces. Colours
come from the stylesheet (`.chart` rules in site.css) through `currentColor`, never
from inline colours, so dark and forced-colours (high-contrast) modes keep working;
without any CSS the shapes still draw in the text colour. A `viewBox` makes the
chart scale to its container's width.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

Number = Decimal | int

WIDTH = 720
COLUMN_HEIGHT = 240
# Room for the y-axis labels on the left and the date labels below.
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 10, 26
BAR_ROW = 36  # height of one row of the horizontal bar chart
VALUE_ROOM = 110  # right of the longest bar: its value label
LABEL_CHARS = 70  # longer category labels are cut (the full one is in <title>)
# A step's leading digit: below 1.5 → 1, below 3 → 2, below 7 → 5, else 10.
NICE = ((Decimal("1.5"), 1), (Decimal(3), 2), (Decimal(7), 5))


def plain(value: Decimal) -> str:
    """1234.50 → "1,234.5": a tick label without exponent or trailing zeros."""
    return f"{value.normalize():,f}"


def nice_step(span: Decimal, *, integer: bool = False) -> Decimal:
    """A round step near `span`: 1, 2 or 5 times a power of ten (1 for nothing).

    Rounded to the nearest, not up (Heckbert's "nice numbers", Graphics Gems
    1990): rounding up to 100 for a span of 60 would leave half the chart empty.
    """
    if span <= 0:
        return Decimal(1)
    exponent = span.adjusted()
    mantissa = span.scaleb(-exponent)
    factor = next((m for limit, m in NICE if mantissa < limit), 10)
    # An exact integer for steps ≥ 1, so labels never read "1E+2".
    step = (
        Decimal(factor * 10**exponent)
        if exponent >= 0
        else Decimal(factor).scaleb(exponent)
    )
    return max(step, Decimal(1)) if integer else step


@dataclass(frozen=True)
class Axis:
    """A value axis from `low` to `high` (both multiples of `step`, 0 included)."""

    low: Decimal
    high: Decimal
    step: Decimal

    @classmethod
    def fit(
        cls, values: Iterable[Number], *, ticks: int = 4, integer: bool = False
    ) -> Axis:
        """Nice bounds around 0 and every value: 123.45 → 0…150 in steps of 50."""
        numbers = [Decimal(v) for v in values]
        top, bottom = max([Decimal(0), *numbers]), min([Decimal(0), *numbers])
        step = nice_step((top - bottom) / ticks, integer=integer)
        high = (top / step).to_integral_value(rounding=ROUND_CEILING) * step
        low = (bottom / step).to_integral_value(rounding=ROUND_FLOOR) * step
        return cls(low=low, high=high if high > low else low + step, step=step)

    def ticks(self) -> list[Decimal]:
        count = int((self.high - self.low) / self.step)
        return [self.low + i * self.step for i in range(count + 1)]

    def share(self, value: Number) -> float:
        """Where `value` lies between low (0.0) and high (1.0)."""
        return float((Decimal(value) - self.low) / (self.high - self.low))


def _join(parts: Iterable[SafeString]) -> SafeString:
    # Every part is the output of format_html (its arguments escaped).
    return mark_safe("".join(parts))  # noqa: S308


def _id(chart_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", chart_id) or "chart"


def _svg(
    *, chart_id: str, title: str, desc: str, height: int, body: SafeString
) -> SafeString:
    ident = _id(chart_id)
    return format_html(
        '<svg class="chart" id="{0}" viewBox="0 0 {1} {2}" width="100%" role="img" '
        'aria-labelledby="{0}-title {0}-desc" focusable="false" font-size="12" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<title id="{0}-title">{3}</title><desc id="{0}-desc">{4}</desc>{5}</svg>',
        ident,
        WIDTH,
        height,
        title,
        desc,
        body,
    )


def _f(value: float) -> str:
    return f"{value:.1f}"


# --- Columns: a daily series ----------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    axis: Axis
    slot: float  # width of one column's slot

    def y(self, value: Number) -> float:
        return TOP + (1 - self.axis.share(value)) * (COLUMN_HEIGHT - TOP - BOTTOM)

    def x(self, index: int) -> float:
        return LEFT + index * self.slot


def _grid(frame: _Frame, tick_text: Callable[[Decimal], str]) -> Iterable[SafeString]:
    for tick in frame.axis.ticks():
        y = _f(frame.y(tick))
        yield format_html(
            '<line class="{}" x1="{}" x2="{}" y1="{}" y2="{}" stroke="currentColor"/>'
            '<text class="chart-tick" x="{}" y="{}" text-anchor="end" '
            'fill="currentColor">{}</text>',
            "chart-zero" if tick == 0 else "chart-grid",
            LEFT,
            WIDTH - RIGHT,
            y,
            y,
            LEFT - 6,
            _f(frame.y(tick) + 4),
            tick_text(tick),
        )


def _columns(
    frame: _Frame,
    points: Sequence[tuple[str, Decimal]],
    value_text: Callable[[Decimal], str],
) -> Iterable[SafeString]:
    width = max(frame.slot * 0.7, 1.0)
    zero = frame.y(0)
    for index, (label, value) in enumerate(points):
        if not value:
            continue
        top, bottom = sorted((frame.y(value), zero))
        yield format_html(
            '<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="currentColor">'
            "<title>{}: {}</title></rect>",
            "chart-bar chart-negative" if value < 0 else "chart-bar",
            _f(frame.x(index) + (frame.slot - width) / 2),
            _f(top),
            _f(width),
            _f(max(bottom - top, 0.5)),
            label,
            value_text(value),
        )


def tick_indexes(count: int, ticks: int) -> list[int]:
    """`ticks` positions spread evenly over `count` points, first and last included."""
    if count <= ticks:
        return list(range(count))
    return sorted({round(k * (count - 1) / (ticks - 1)) for k in range(ticks)})


def _x_labels(frame: _Frame, labels: Sequence[str], ticks: int) -> Iterable[SafeString]:
    indexes = tick_indexes(len(labels), ticks)
    for index in indexes:
        anchor = (
            "start"
            if index == indexes[0]
            else "end"
            if index == indexes[-1]
            else "middle"
        )
        yield format_html(
            '<text class="chart-tick" x="{}" y="{}" text-anchor="{}" '
            'fill="currentColor">{}</text>',
            _f(frame.x(index) + frame.slot / 2),
            COLUMN_HEIGHT - 8,
            anchor,
            labels[index],
        )


def column_chart(
    points: Sequence[tuple[str, Number]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    value_text: Callable[[Decimal], str] = plain,
    tick_text: Callable[[Decimal], str] = plain,
    x_labels: Sequence[str] | None = None,
    x_ticks: int = 6,
) -> SafeString:
    """A column per point (a day), below the zero line when negative (refunds).

    `points` are (tooltip label, value); `x_labels`, one per point (default: the
    tooltip labels), of which `x_ticks` spread out are drawn under the axis. The
    value axis runs from a nice number below the smallest value (0 if none is
    negative) to a nice number above the largest.
    """
    values = [(label, Decimal(value)) for label, value in points]
    frame = _Frame(
        axis=Axis.fit(v for _, v in values),
        slot=(WIDTH - LEFT - RIGHT) / max(len(values), 1),
    )
    body = _join(
        [
            *_grid(frame, tick_text),
            *_columns(frame, values, value_text),
            *_x_labels(frame, x_labels or [label for label, _ in values], x_ticks),
        ]
    )
    return _svg(
        chart_id=chart_id, title=title, desc=desc, height=COLUMN_HEIGHT, body=body
    )


# --- Horizontal bars: categories ------------------------------------------------------


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _bar_row(
    index: int, label: str, value: Decimal, axis: Axis, text: str
) -> SafeString:
    top = 4 + index * BAR_ROW
    width = max(axis.share(max(value, Decimal(0))), 0.0) * (WIDTH - VALUE_ROOM)
    return format_html(
        '<g class="chart-row"><title>{}: {}</title>'
        '<text class="chart-label" x="0" y="{}" fill="currentColor">{}</text>'
        '<rect class="chart-bar" x="0" y="{}" width="{}" height="12" fill="currentColor"/>'
        '<text class="chart-value" x="{}" y="{}" fill="currentColor">{}</text></g>',
        label,
        text,
        top + 12,
        _cut(label),
        top + 18,
        _f(width),
        _f(width + 6),
        top + 29,
        text,
    )


def bar_chart(
    items: Sequence[tuple[str, Number]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    value_text: Callable[[Decimal], str] = plain,
    limit: int = 10,
) -> SafeString:
    """One horizontal bar per category (label above its bar, value after it), the
    `limit` largest first. For counts: negative values draw as empty bars."""
    top = sorted(
        ((label, Decimal(value)) for label, value in items),
        key=lambda item: -item[1],
    )[:limit]
    axis = Axis.fit((v for _, v in top), integer=True)
    body = _join(
        _bar_row(i, label, value, axis, value_text(value))
        for i, (label, value) in enumerate(top)
    )
    return _svg(
        chart_id=chart_id,
        title=title,
        desc=desc,
        height=8 + len(top) * BAR_ROW,
        body=body,
    )
