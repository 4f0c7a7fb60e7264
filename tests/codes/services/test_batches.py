"""Batch review and withdrawal, and what they do to the listing's status."""

from __future__ import annotations

import pytest

from codes.models import CodeBatch
from codes.services.batches import batch_withdraw_unsold
from listings.models import Listing

pytestmark = pytest.mark.django_db


def test_approving_a_batch_brings_a_sold_out_listing_back(
    listing_factory, upload, approve
):
    listing = listing_factory()
    first = upload(listing, "BACK-CODE-00001\n")
    approve(listing=listing, batch=first)
    batch_withdraw_unsold(batch=first)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT
    approve(batch=upload(listing, "BACK-CODE-00002\n"))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE


def test_trusted_seller_batches_are_approved_automatically(
    user_factory, listing_factory, upload, approve
):
    trusted = user_factory(is_trusted_seller=True)
    listing = listing_factory(seller=trusted)
    approve(listing=listing)
    batch = upload(listing, "TRUSTED-CODE-0001\n")
    assert batch.status == CodeBatch.Status.APPROVED
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE
