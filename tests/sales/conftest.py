"""Fixtures for the sales tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def sold(
    active_listing: Callable[..., Any], buy: Callable[..., Any]
) -> tuple[Any, Any]:
    """(listing, order): two codes sold to a guest; the listing's title and the buyer's
    email start with "=" (a spreadsheet formula if exported carelessly)."""
    listing = active_listing(codes=4, title="=HYPERLINK(evil)")
    order = buy(listing, quantity=2, email="=cmd@example.com")
    return listing, order
