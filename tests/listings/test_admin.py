"""Staff review of listings in Django admin."""

from __future__ import annotations

import pytest

from listings.models import Listing
from tests.helpers import admin_action

pytestmark = pytest.mark.django_db


def test_staff_reject_a_listing_with_a_reason(
    staff_client,
    seller,
    listing_factory,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing = listing_factory(seller=seller)
    page = admin_action(staff_client, "listings_listing", "reject", [listing.pk])
    assert "Reason (sent to the seller)" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_action(
            staff_client,
            "listings_listing",
            "reject",
            [listing.pk],
            confirm="yes",
            reason="Instructions are unclear",
        )
    listing.refresh_from_db()
    assert listing.status == Listing.Status.REJECTED
    assert listing.review_note == "Instructions are unclear"
    assert "Instructions are unclear" in mailoutbox[0].body
