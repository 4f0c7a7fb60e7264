"""Keyset ("older / newer") pagination for long, newest-first lists.

Django's Paginator counts every row (`COUNT(*)`) and skips to deep pages with
OFFSET, both of which read the whole list: at 100,000 orders a seller's Sales page
paid for that on every view. A keyset page reads the rows it shows, plus one, from
the list's index, whatever the depth: `?older=<cursor>` shows the rows after a
cursor, `?newer=<cursor>` those before it. A cursor is the boundary row's
`created_at` (microseconds since the epoch) and primary key, so it stays right
while new rows arrive; a malformed one falls back to the first page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

T = TypeVar("T", bound=Model)

CURSOR = re.compile(r"^(-?\d{1,17})_(\d{1,19})$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_of(row: Any) -> str:
    """The cursor that pages from `row` (its created_at and primary key)."""
    micros = (row.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}_{row.pk}"


def _parse(value: str | None) -> tuple[datetime, int] | None:
    match = CURSOR.match(value or "")
    if match is None:
        return None
    try:
        when = EPOCH + timedelta(microseconds=int(match[1]))
    except OverflowError:
        return None
    return when, int(match[2])


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    object_list: list[T]
    older: str | None  # cursor of the next page down the list, if any
    newer: str | None  # cursor of the page above, if any

    @property
    def has_other_pages(self) -> bool:
        return bool(self.older or self.newer)


PAGE_KEYS = ("older", "newer", "page")  # dropped from links that keep the filters


def keyset_page(qs: QuerySet[T], request: HttpRequest, size: int) -> KeysetPage[T]:
    """One page of `qs` (newest first by `created_at`, then primary key) as the
    request's `older` / `newer` cursor asks. A cursor past either end of the list
    (rows deleted, a stale link) gives the first page rather than an empty one."""
    page = _page(
        qs,
        size,
        newer_than=_parse(request.GET.get("newer")),
        older_than=_parse(request.GET.get("older")),
    )
    if not page.object_list and (request.GET.get("newer") or request.GET.get("older")):
        return _page(qs, size, newer_than=None, older_than=None)
    return page


def _page(
    qs: QuerySet[T],
    size: int,
    *,
    newer_than: tuple[datetime, int] | None,
    older_than: tuple[datetime, int] | None,
) -> KeysetPage[T]:
    if newer_than is not None:
        when, pk = newer_than
        after = Q(created_at__gt=when) | Q(created_at=when, pk__gt=pk)
        rows = list(qs.filter(after).order_by("created_at", "pk")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(
            rows,
            older=cursor_of(rows[-1]) if rows else None,
            newer=cursor_of(rows[0]) if rows and more_newer else None,
        )
    if older_than is not None:
        when, pk = older_than
        qs = qs.filter(Q(created_at__lt=when) | Q(created_at=when, pk__lt=pk))
    rows = list(qs.order_by("-created_at", "-pk")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows,
        older=cursor_of(rows[-1]) if rows and more_older else None,
        newer=cursor_of(rows[0]) if rows and older_than is not None else None,
    )
