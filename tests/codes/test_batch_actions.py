"""Big approvals, rejections and withdrawals run as a task in chunks (issue 15):
each chunk a short transaction with the stock counters, progress on the batch
page, resumable after a dead worker, nothing changed twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from codes.exceptions import CodesError
from codes.models import Code, CodeBatch
from codes.services import stats
from codes.services.batches import (
    batch_action_run,
    batch_action_step,
    batch_approve,
    batch_reject,
    batch_withdraw_unsold,
    batches_resume_actions,
)
from listings.models import Listing, ListingStock
from listings.selectors import listing_stock_counted

pytestmark = pytest.mark.django_db

A = CodeBatch.Action
LINES = "".join(f"CHUNKED-CODE-{n:05d}\n" for n in range(1, 11))


@pytest.fixture
def big(settings, listing_factory, upload, approve):
    """A listing on sale and an imported batch of 10 codes, with chunks of 3 lines:
    "big" for these tests."""
    settings.CODES_REVIEW_CHUNK = 3
    listing = listing_factory()
    approve(listing=listing)
    return listing, upload(listing, LINES)


def available(listing: Listing) -> int:
    stock = ListingStock.objects.filter(listing=listing).first()
    assert (stock.available if stock else 0) == listing_stock_counted(
        listing_id=listing.pk
    )["available"]
    return stock.available if stock else 0


def test_a_big_approval_goes_on_sale_chunk_by_chunk_with_progress(
    big, user_factory, client, django_capture_on_commit_callbacks
):
    listing, batch = big
    staff = user_factory(is_staff=True)
    with django_capture_on_commit_callbacks() as callbacks:
        batch = batch_approve(batch=batch, by=staff)
    assert batch.status == CodeBatch.Status.APPROVED
    assert batch.pending_action == A.APPROVE
    assert available(listing) == 0  # nothing yet: the task does it after commit
    assert len(callbacks) == 1  # the task, queued once; no email yet

    assert batch_action_step(batch.pk) is True  # lines 1-3
    assert available(listing) == 3
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE  # on sale from the first chunk

    client.force_login(listing.seller)
    progress = client.get(reverse("codes:batch-progress", args=[batch.pk])).json()
    assert progress["finished"] is False
    assert progress["percent"] == 30
    assert (
        (progress["progress_text"])
        == "Putting the codes on sale: 3 of 10 codes so far (30%)"
    )
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Putting the codes on sale: 3 of 10 codes so far (30%)" in page

    with django_capture_on_commit_callbacks(execute=True):
        batch_action_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.pending_action == A.NONE
    assert batch.action_done == 10
    assert available(listing) == 10
    approved = [m for m in mail.outbox if "are approved" in m.subject]
    assert len(approved) == 1  # once, at the end
    progress = client.get(reverse("codes:batch-progress", args=[batch.pk])).json()
    assert progress["finished"] is True


def test_a_dead_workers_approval_resumes_where_it_stopped_and_changes_nothing_twice(
    big, user_factory, django_capture_on_commit_callbacks
):
    listing, batch = big
    batch_approve(batch=batch, by=user_factory(is_staff=True))
    batch_action_step(batch.pk)
    batch_action_step(batch.pk)  # then the worker dies
    assert batches_resume_actions() == []  # its heartbeat is fresh: left alone
    CodeBatch.objects.filter(pk=batch.pk).update(
        action_heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert batches_resume_actions() == [batch.pk]  # queued, run eagerly here
    batch.refresh_from_db()
    assert batch.pending_action == A.NONE
    assert batch.action_done == 10
    assert available(listing) == 10
    # A late duplicate of the task finds nothing to do.
    batch_action_run(batch_id=batch.pk)
    assert available(listing) == 10


def test_withdrawing_a_big_batch_takes_only_unsold_codes_off_sale(
    big, approve, buy, client, django_capture_on_commit_callbacks
):
    listing, batch = big
    approve(batch=batch)
    assert available(listing) == 10
    order = buy(listing, quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_withdraw_unsold(batch=batch) is None  # in the background
    batch.refresh_from_db()
    assert batch.pending_action == A.NONE
    assert available(listing) == 0
    assert Code.objects.filter(order_id=order.pk, status=Code.Status.SOLD).count() == 2
    assert listing_stock_counted(listing_id=listing.pk)["sold"] == 2
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT


def test_the_withdraw_button_answers_while_it_runs(big, approve, client):
    listing, batch = big
    approve(batch=batch)
    client.force_login(listing.seller)
    response = client.post(
        reverse("codes:batch-withdraw", args=[batch.pk]), follow=True
    )
    assert "off sale: this page shows how far it is" in response.content.decode()


def test_a_big_rejection_is_rejected_at_once_and_its_codes_withdrawn_in_chunks(
    big, user_factory, django_capture_on_commit_callbacks
):
    listing, batch = big
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_reject(
            batch=batch, by=user_factory(is_staff=True), reason="Leaked codes"
        )
    assert batch.status == CodeBatch.Status.REJECTED
    batch.refresh_from_db()
    assert batch.pending_action == A.NONE
    assert not Code.objects.filter(batch=batch, status=Code.Status.AVAILABLE).exists()
    assert available(listing) == 0


def test_a_batch_with_an_action_running_cannot_be_reviewed_again(big, user_factory):
    _, batch = big
    staff = user_factory(is_staff=True)
    batch_approve(batch=batch, by=staff)
    with pytest.raises(CodesError):
        batch_approve(batch=batch, by=staff)
    with pytest.raises(CodesError):
        batch_reject(batch=batch, by=staff, reason="no")


def test_a_small_batch_is_approved_in_the_request_all_at_once(
    listing_factory, upload, approve
):
    listing = listing_factory()
    approve(listing=listing)
    batch = upload(listing, "SMALL-CODE-00001\nSMALL-CODE-00002\n")
    approve(batch=batch)
    batch.refresh_from_db()
    assert batch.pending_action == A.NONE
    assert available(listing) == 2


@pytest.mark.postgres
def test_big_changes_to_the_codes_analyze_the_table_after_commit(
    monkeypatch, big, user_factory, django_capture_on_commit_callbacks
):
    """Pages must not wait for autovacuum's statistics after a bulk import or
    approval (the issue measured 3.4 s before ANALYZE and 1.1 s after)."""
    monkeypatch.setattr(stats, "ANALYZE_AFTER_CODES", 10)
    _, batch = big
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        batch_approve(batch=batch, by=user_factory(is_staff=True))
    assert any(q["sql"] == "ANALYZE codes_code" for q in queries.captured_queries)
