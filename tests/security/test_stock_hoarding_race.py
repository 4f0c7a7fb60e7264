"""Concurrent checkouts from one network cannot pass the cap together (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from codes.models import Code
from sales.exceptions import CheckoutLimited
from sales.services.checkout import CheckoutClient, order_place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_checkouts_from_one_network_respect_the_cap(active_listing, settings):
    settings.CHECKOUT_MAX_OPEN_CODES = 20
    listing = active_listing(codes=300, max_per_order=100)

    def checkout(n: int) -> str:
        try:
            order_place(
                listing_id=listing.pk,
                quantity=10,
                email=f"racer{n}@example.com",
                client=CheckoutClient(network="203.0.113.0", session_key=f"s{n}"),
            )
        except CheckoutLimited:
            return "limited"
        finally:
            connections.close_all()
        return "placed"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(checkout, range(16)))
    assert outcomes.count("placed") == 2
    assert Code.objects.filter(listing=listing, status="reserved").count() == 20
