"""Another seller gets 404 on every listing, batch and download URL (DESIGN invariant 6)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from codes.importing.generator import GeneratorOptions
from codes.models import Code
from codes.services.batches import batch_create_generated
from listings.models import Listing

pytestmark = pytest.mark.django_db


def test_another_seller_gets_404_everywhere(
    client, user_factory, listing_factory, upload, django_capture_on_commit_callbacks
):
    owner = user_factory()
    listing = listing_factory(seller=owner)
    with django_capture_on_commit_callbacks(execute=True):
        generated = batch_create_generated(
            listing=listing, options=GeneratorOptions(count=3)
        )
    uploaded = upload(listing, "OWNED-CODE-1234\n<b>x</b>\n")

    client.force_login(user_factory())
    gets = [
        reverse("listings:listing-edit", args=[listing.pk]),
        reverse("codes:batch-add", args=[listing.pk]),
        reverse("codes:listing-batches", args=[listing.pk]),
        reverse("codes:batch-detail", args=[uploaded.pk]),
        reverse("codes:batch-progress", args=[uploaded.pk]),
        reverse("codes:batch-issues-download", args=[uploaded.pk]),
        reverse("codes:batch-codes-download", args=[generated.pk]),
        reverse("listings:listing-detail", args=[listing.pk]),  # pending: not public
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("listings:listing-edit", args=[listing.pk]),
        reverse("listings:listing-pause", args=[listing.pk]),
        reverse("listings:listing-resume", args=[listing.pk]),
        reverse("listings:listing-archive", args=[listing.pk]),
        reverse("codes:batch-add", args=[listing.pk]),
        reverse("codes:batch-withdraw", args=[uploaded.pk]),
    ]
    for url in posts:
        assert client.post(url, {"title": "hijack"}).status_code == 404, url
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert listing.title != "hijack"
    assert not Code.objects.filter(status=Code.Status.WITHDRAWN).exists()
