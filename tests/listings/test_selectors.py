"""Reads of the listings app."""

from __future__ import annotations

import pytest

from listings.selectors import listing_stock

pytestmark = pytest.mark.django_db


def test_available_quantity_counts_only_approved_unsold_codes(
    seller, listing_factory, upload, approve
):
    listing = listing_factory(seller=seller)
    first = upload(listing, "APPROVED-CODE-0001\nAPPROVED-CODE-0002\n")
    approve(listing=listing, batch=first)
    upload(listing, "PENDING-CODE-0003\n")
    assert listing_stock(listing=listing) == 2
