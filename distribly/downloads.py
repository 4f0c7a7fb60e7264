"""Streaming CSV downloads, shared by every app's export views."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

# Spreadsheet formula injection: a cell starting with one of these would be executed.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    filename: str,
    header: list[str],
    rows: Iterable[Iterable[object]],
    *,
    neutralise_cells: bool = True,
) -> StreamingHttpResponse:
    """A streamed CSV attachment, never cached. `neutralise_cells=False` keeps values
    exact (for code values a seller's system must read back as they are)."""
    writer = csv.writer(_Echo())

    def stream() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(
                [neutralise(c) for c in row] if neutralise_cells else list(row)
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
