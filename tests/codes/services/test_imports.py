"""Running an import: crash recovery, idempotence, stalled imports, and the upload's
clean-up."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from codes import tasks
from codes.importing import engine as importer
from codes.models import Code, CodeBatch
from codes.services.batches import batch_create_upload
from codes.services.imports import batches_resume_stalled, code_batch_import
from tests.helpers import codes_of, issues_of

pytestmark = pytest.mark.django_db

CONTENT = "\n".join(
    [f"CRASH-TEST-CODE-{i:05}" for i in range(300)]
    + ["CRASH-TEST-CODE-00007", "<b>x</b>"]
)


def _queued_batch(listing, django_capture_on_commit_callbacks, monkeypatch):
    with monkeypatch.context() as m:  # queued, but no worker picks it up
        m.setattr(tasks.code_batch_import_task, "delay", lambda *a, **k: None)
        return batch_create_upload(
            listing=listing,
            file=io.BytesIO(CONTENT.encode()),
            filename="c.csv",
            has_header=False,
        )


def test_a_crash_during_the_merge_leaves_nothing_and_a_rerun_completes(
    listing_factory, monkeypatch, django_capture_on_commit_callbacks
):
    batch = _queued_batch(
        listing_factory(), django_capture_on_commit_callbacks, monkeypatch
    )
    real_finish = importer._Merger.finish

    def finish_then_die(self, report):
        real_finish(self, report)  # rows are written ...
        raise ConnectionResetError(
            "worker lost its database connection"
        )  # ... then the crash

    monkeypatch.setattr(importer._Merger, "finish", finish_then_die)
    with pytest.raises(ConnectionResetError):
        code_batch_import(batch_id=batch.pk)
    assert Code.objects.filter(batch=batch).count() == 0
    assert not batch.issues.exists()
    batch.refresh_from_db()
    assert batch.status == CodeBatch.Status.RECEIVED

    monkeypatch.setattr(importer._Merger, "finish", real_finish)
    with django_capture_on_commit_callbacks(execute=True):
        batch = code_batch_import(batch_id=batch.pk)
    assert batch.status == CodeBatch.Status.IMPORTED
    assert batch.accepted == 300 == len(set(codes_of(batch)))
    assert [i[:2] for i in issues_of(batch)] == [(301, "duplicate"), (302, "rejected")]
    assert batch.import_attempts == 2


def test_a_crash_while_reading_loses_no_line(
    listing_factory, monkeypatch, django_capture_on_commit_callbacks
):
    batch = _queued_batch(
        listing_factory(), django_capture_on_commit_callbacks, monkeypatch
    )
    monkeypatch.setattr(importer, "CHUNK_ROWS", 50)
    real_chunk = importer._Chunker._chunk
    calls = {"n": 0}

    def flaky_chunk(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real_chunk(self, *args)

    monkeypatch.setattr(importer._Chunker, "_chunk", flaky_chunk)
    with pytest.raises(OSError, match="disk full"):
        code_batch_import(batch_id=batch.pk)
    assert Code.objects.filter(batch=batch).count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        batch = code_batch_import(batch_id=batch.pk)
    assert batch.accepted == 300
    assert Code.objects.filter(batch=batch).count() == 300


def test_running_a_finished_import_again_changes_nothing(listing_factory, upload):
    batch = upload(listing_factory(), "ONCE-ONLY-CODE-1\nONCE-ONLY-CODE-2\n")
    again = code_batch_import(batch_id=batch.pk)
    assert again.status == CodeBatch.Status.IMPORTED
    assert Code.objects.filter(batch=batch).count() == 2
    assert again.import_attempts == 1


def test_an_import_held_by_a_live_worker_is_not_run_twice(
    listing_factory, monkeypatch, django_capture_on_commit_callbacks
):
    batch = _queued_batch(
        listing_factory(), django_capture_on_commit_callbacks, monkeypatch
    )
    CodeBatch.objects.filter(pk=batch.pk).update(
        status=CodeBatch.Status.IMPORTING, heartbeat_at=timezone.now()
    )
    result = code_batch_import(batch_id=batch.pk)
    assert result.status == CodeBatch.Status.IMPORTING
    assert Code.objects.filter(batch=batch).count() == 0


def test_a_stalled_import_is_picked_up_again(
    listing_factory, monkeypatch, django_capture_on_commit_callbacks
):
    batch = _queued_batch(
        listing_factory(), django_capture_on_commit_callbacks, monkeypatch
    )
    CodeBatch.objects.filter(pk=batch.pk).update(
        status=CodeBatch.Status.IMPORTING,
        heartbeat_at=timezone.now() - timedelta(minutes=30),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert batches_resume_stalled() == [batch.pk]
    batch.refresh_from_db()
    assert batch.status == CodeBatch.Status.IMPORTED
    assert batch.accepted == 300


def test_uploaded_file_is_deleted_once_imported(listing_factory, upload, settings):
    batch = upload(listing_factory(), "SOME-CODE-VALUE\n")
    assert batch.upload_name == ""
    leftovers = list((settings.PRIVATE_UPLOAD_ROOT / "batches").iterdir())
    assert leftovers == []
