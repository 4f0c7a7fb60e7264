"""Recovery from a dead import worker is bounded by CODES_IMPORT_STALE_SECONDS: beat
sweeps every quarter of it, and the sweep picks up exactly the imports whose progress
is older than the threshold (time moved, not slept)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from codes import tasks
from codes.models import CodeBatch
from codes.services.batches import batch_create_upload
from codes.services.imports import PROGRESS_EVERY_SECONDS, batches_resume_stalled
from distribly.celery import app, beat_schedule

SWEEP = "codes-resume-stalled-imports"


@pytest.mark.parametrize(("stale", "every"), [(60, 15.0), (300, 75.0), (20, 15.0)])
def test_the_sweep_runs_every_quarter_of_the_stale_threshold(settings, stale, every):
    settings.CODES_IMPORT_STALE_SECONDS = stale
    entry = beat_schedule()[SWEEP]
    assert entry["task"] == "codes.tasks.batches_resume_stalled"
    assert entry["schedule"] == every


def test_the_configured_app_carries_the_schedule_and_the_locked_scheduler(settings):
    assert app.conf.beat_schedule[SWEEP]["schedule"] == max(
        15.0, settings.CODES_IMPORT_STALE_SECONDS / 4
    )
    assert app.conf.beat_scheduler == "distribly.celery:LockedScheduler"
    app.loader.import_default_modules()
    missing = {e["task"] for e in app.conf.beat_schedule.values()} - set(app.tasks)
    assert not missing


def test_recovery_is_bounded_under_two_minutes_by_default(settings):
    stale = settings.CODES_IMPORT_STALE_SECONDS
    # worst case: dies right after a heartbeat, goes stale, then waits a full sweep
    assert stale + beat_schedule()[SWEEP]["schedule"] < 120
    # the heartbeat is many times more frequent than the threshold
    assert stale >= 20 * PROGRESS_EVERY_SECONDS


@pytest.mark.django_db
def test_a_stalled_import_is_picked_up_by_the_sweep_once_past_the_threshold(
    settings, listing_factory, monkeypatch, django_capture_on_commit_callbacks
):
    settings.CODES_IMPORT_STALE_SECONDS = 60
    with monkeypatch.context() as m:  # queued, but no worker picks it up
        m.setattr(tasks.code_batch_import_task, "delay", lambda *a, **k: None)
        batch = batch_create_upload(
            listing=listing_factory(),
            file=io.BytesIO(b"STALE-SWEEP-CODE-0001\nSTALE-SWEEP-CODE-0002\n"),
            filename="c.csv",
            has_header=False,
        )
    now = timezone.now()
    # A worker took it and beat its heartbeat 59 s ago: alive, left alone.
    CodeBatch.objects.filter(pk=batch.pk).update(
        status=CodeBatch.Status.IMPORTING, heartbeat_at=now - timedelta(seconds=59)
    )
    queued: list[int] = []
    monkeypatch.setattr(
        tasks.code_batch_import_task, "delay", lambda batch_id: queued.append(batch_id)
    )
    assert batches_resume_stalled() == []
    # 61 s without progress: the worker is presumed dead and the import re-queued.
    CodeBatch.objects.filter(pk=batch.pk).update(
        heartbeat_at=now - timedelta(seconds=61)
    )
    assert batches_resume_stalled() == [batch.pk]
    assert queued == [batch.pk]
    # ...and the re-queued task claims and finishes it.
    monkeypatch.undo()
    tasks.code_batch_import_task(batch.pk)
    batch.refresh_from_db()
    assert batch.status == CodeBatch.Status.IMPORTED
    assert batch.accepted == 2
    assert batch.import_attempts == 1
