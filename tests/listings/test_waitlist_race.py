"""Parallel runs of a listing's waitlist line pick no more people than the stock,
and nobody twice (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.utils import timezone

from codes.importing.generator import GeneratorOptions
from codes.services.batches import batch_create_generated
from listings.models import Listing, WaitlistEntry
from listings.services import waitlist_notify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_runs_pick_no_more_than_the_stock(listing_factory, approve):
    listing = listing_factory(status=Listing.Status.SOLD_OUT)
    approve(
        batch=batch_create_generated(listing=listing, options=GeneratorOptions(count=3))
    )
    now = timezone.now()
    for i in range(10):
        WaitlistEntry.objects.create(
            listing=listing, email=f"racer{i}@example.com", confirmed_at=now
        )

    def run(_: int) -> int:
        try:
            return waitlist_notify(listing_id=listing.pk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        picked = list(pool.map(run, range(8)))
    assert sum(picked) == 3
    told = WaitlistEntry.objects.filter(notified_at__isnull=False)
    assert sorted(e.email for e in told) == [f"racer{i}@example.com" for i in range(3)]
