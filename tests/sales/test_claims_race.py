"""A replacement is allocated like a sale: racing buyers on PostgreSQL, no code goes
to two orders and every order gets exactly what it paid for (DESIGN invariant 1)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from codes.exceptions import OutOfStock
from codes.models import Code
from sales.exceptions import ClaimError, OrderError
from sales.models import Claim, Order
from sales.services import checkout, payments
from sales.services.claims import claim_open, claim_replace

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 24
CODES = 16
ROUNDS = 3


def _buy(listing_id: int, barrier: threading.Barrier) -> str:
    barrier.wait()
    try:
        placed = checkout.order_place(
            listing_id=listing_id, quantity=1, email="race@example.com"
        )
        payments.payment_confirm(payment_id=placed.payment.pk)
        return "sold"
    except (OutOfStock, OrderError):  # OrderError: the listing turned sold out
        return "sold out"
    finally:
        connections.close_all()


def _replace(claim_id: int, barrier: threading.Barrier) -> str:
    barrier.wait()
    try:
        claim_replace(claim=Claim.objects.get(pk=claim_id), by=None)
        return "replaced"
    except ClaimError:
        return "no stock"
    finally:
        connections.close_all()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_replacements_race_buyers_without_selling_a_code_twice(round_, active_listing):
    listing = active_listing(codes=CODES)
    placed = checkout.order_place(
        listing_id=listing.pk, quantity=2, email="claimer@example.com"
    )
    order = payments.payment_confirm(payment_id=placed.payment.pk)
    first, second = Code.objects.filter(order_id=order.pk).order_by("pk")
    claims = [
        claim_open(order=order, code_id=c.pk, reason="used", message="no")
        for c in (first, second)
    ]
    barrier = threading.Barrier(BUYERS + len(claims))
    with ThreadPoolExecutor(max_workers=BUYERS + len(claims)) as pool:
        buys = [pool.submit(_buy, listing.pk, barrier) for _ in range(BUYERS)]
        replaces = [pool.submit(_replace, c.pk, barrier) for c in claims]
        outcomes = [f.result() for f in buys]
        replaced = [f.result() for f in replaces]
    sold_orders = Order.objects.filter(listing=listing, status="fulfilled").exclude(
        pk=order.pk
    )
    # every code for sale went to exactly one winner: a buyer or a replacement
    assert outcomes.count("sold") + replaced.count("replaced") == CODES - 2
    assert Code.objects.for_sale().filter(listing=listing).count() == 0
    for buyer_order in sold_orders:
        assert Code.objects.filter(order_id=buyer_order.pk, status="sold").count() == 1
    # the claimer holds two working codes again for each replacement
    held = Code.objects.filter(order_id=order.pk, status="sold").count()
    assert held == 2
    assert Code.objects.filter(
        order_id=order.pk, status="cancelled"
    ).count() == replaced.count("replaced")
    for claim in Claim.objects.filter(order=order, status="replaced"):
        assert Code.objects.get(pk=claim.replacement_id).order_id == order.pk
