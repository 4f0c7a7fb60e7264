"""Exports check and audit before the response starts; only decryption streams."""

from __future__ import annotations

import pytest
from django.urls import reverse

from codes.models import CodeReveal

pytestmark = pytest.mark.django_db


def test_a_refused_export_is_a_message_not_a_broken_download(
    seller_client, seller, listing_factory, upload
):
    batch = upload(listing_factory(seller=seller), "KEY-ONE-1111\nKEY-TWO-2222\n")

    response = seller_client.get(reverse("codes:batch-codes-download", args=[batch.pk]))

    assert response.status_code == 302  # not a 200 that fails halfway through the body
    assert response["Location"] == batch.get_absolute_url()
    assert not CodeReveal.objects.exists()
    page = seller_client.get(response["Location"])
    assert "Only generated batches can be downloaded" in page.content.decode()


def test_the_download_is_audited_before_its_first_byte(
    seller_client, seller, active_listing
):
    listing = active_listing(codes=3, seller=seller)
    batch = listing.batches.get()

    response = seller_client.get(reverse("codes:batch-codes-download", args=[batch.pk]))

    # The body has not been read yet: the audit row must already exist.
    reveal = CodeReveal.objects.get()
    assert (reveal.kind, reveal.batch_id, reveal.count, reveal.user_id) == (
        CodeReveal.Kind.BATCH_DOWNLOAD,
        batch.pk,
        3,
        seller.pk,
    )
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "line,code,status"
    assert len(lines) == 4


def test_the_rejected_lines_download_is_audited_before_its_first_byte(
    seller_client, seller, listing_factory, upload
):
    batch = upload(listing_factory(seller=seller), "KEY-ONE-1111\n<b>no</b>\n")

    response = seller_client.get(
        reverse("codes:batch-issues-download", args=[batch.pk])
    )

    assert CodeReveal.objects.get().kind == CodeReveal.Kind.REJECTED_DOWNLOAD
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[1].startswith("2,")
