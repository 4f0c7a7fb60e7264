"""The import progress the seller watches (issue 15): the bar is the share of the
file read (not lines against bytes), the merge after reading is said as such with
no false percentage, and an interrupted import says it is being retried."""

from __future__ import annotations

import pytest
from django.urls import reverse

from codes.models import CodeBatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(active_listing):
    return active_listing(codes=2).batches.get()


def progress(client, batch, **state):
    CodeBatch.objects.filter(pk=batch.pk).update(**state)
    client.force_login(batch.listing.seller)
    return client.get(reverse("codes:batch-progress", args=[batch.pk])).json()


def test_reading_shows_the_share_of_the_file_read(client, batch):
    data = progress(
        client, batch, status="importing", lines_processed=40_000,
        bytes_processed=1_000_000, bytes_total=4_000_000, import_attempts=1,
    )  # fmt: skip
    assert (data["phase"], data["percent"]) == ("reading", 25)
    assert data["progress_text"] == "Reading your file: 40,000 lines (25%)"
    assert not data["finished"]


def test_after_reading_the_merge_is_said_without_a_percentage(client, batch):
    data = progress(
        client, batch, status="importing", lines_processed=160_000,
        bytes_processed=4_000_000, bytes_total=4_000_000, import_attempts=1,
    )  # fmt: skip
    assert (data["phase"], data["percent"]) == ("merging", None)
    assert data["progress_text"].startswith("Finishing: 160,000 lines read")


def test_an_interrupted_import_says_it_is_retried(client, batch):
    waiting = progress(client, batch, status="received", import_attempts=1)
    assert waiting["phase"] == "waiting"
    assert "interrupted" in waiting["progress_text"]
    again = progress(
        client, batch, status="importing", lines_processed=10,
        bytes_processed=10, bytes_total=100, import_attempts=2,
    )  # fmt: skip
    assert again["progress_text"].startswith("Retrying after an interruption.")
    fresh = progress(client, batch, status="received", import_attempts=0)
    assert fresh["progress_text"] == "Waiting for an import worker…"


def test_the_page_starts_the_bar_where_the_json_does(client, batch):
    progress(
        client, batch, status="importing", lines_processed=5,
        bytes_processed=300, bytes_total=1_000, import_attempts=1,
    )  # fmt: skip
    html = client.get(batch.get_absolute_url()).content.decode()
    assert 'max="100" value="30"' in html


def test_another_seller_cannot_watch(client, batch, user_factory):
    client.force_login(user_factory())
    assert (
        client.get(reverse("codes:batch-progress", args=[batch.pk])).status_code == 404
    )
