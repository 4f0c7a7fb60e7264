"""Staff review of batches in Django admin: approve, reject, and what staff may see."""

from __future__ import annotations

import pytest
from django.urls import reverse

from codes.models import Code, CodeBatch
from listings.models import Listing
from tests.helpers import admin_action

pytestmark = pytest.mark.django_db


def test_staff_approve_listing_and_batch_in_admin(
    staff_client,
    seller,
    listing_factory,
    upload,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    listing = listing_factory(seller=seller)
    batch = upload(listing, "ADMIN-CODE-AAAA-1\nADMIN-CODE-AAAA-2\n")
    with django_capture_on_commit_callbacks(execute=True):
        admin_action(staff_client, "listings_listing", "approve", [listing.pk])
    listing.refresh_from_db()
    assert (
        listing.status == Listing.Status.SOLD_OUT
    )  # approved, but no approved codes yet
    with django_capture_on_commit_callbacks(execute=True):
        admin_action(staff_client, "codes_codebatch", "approve", [batch.pk])
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE
    assert Code.objects.filter(batch=batch, approved=True).count() == 2
    assert len(mailoutbox) == 2


def test_staff_reject_a_batch_withdraws_its_codes(
    staff_client,
    listing_factory,
    upload,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    batch = upload(listing_factory(), "REJECT-CODE-0001\n")
    with django_capture_on_commit_callbacks(execute=True):
        admin_action(
            staff_client,
            "codes_codebatch",
            "reject",
            [batch.pk],
            confirm="yes",
            reason="Codes look sequential",
        )
    batch.refresh_from_db()
    assert batch.status == CodeBatch.Status.REJECTED
    assert set(batch.codes.values_list("status", flat=True)) == {"withdrawn"}
    assert "Codes look sequential" in mailoutbox[0].body


def test_admin_shows_analysis_and_masked_sample_never_full_values(
    staff_client, listing_factory, upload
):
    batch = upload(
        listing_factory(), "\n".join(f"VOUCHER-{n:06}" for n in range(100, 200))
    )
    html = staff_client.get(
        reverse("admin:codes_codebatch_change", args=[batch.pk])
    ).content.decode()
    assert "look sequential" in html
    assert "VOUCHER-000150" not in html
    assert "VOUCHER-000100" not in html
    assert "•" in html
    codes_list = staff_client.get(
        reverse("admin:codes_code_changelist")
    ).content.decode()
    assert "VOUCHER-0001" not in codes_list


def test_admin_lists_and_filters(staff_client, listing_factory, upload):
    upload(listing_factory(title="Filter me"), "FILTER-CODE-001\n")
    assert (
        staff_client.get(
            reverse("admin:listings_listing_changelist")
            + "?status__exact=pending_review&q=Filter"
        ).status_code
        == 200
    )
    assert (
        staff_client.get(
            reverse("admin:codes_codebatch_changelist") + "?status__exact=imported"
        ).status_code
        == 200
    )
    assert (
        staff_client.get(reverse("admin:codes_codereveal_changelist")).status_code
        == 200
    )
