"""The import runs on a real Celery worker through the Redis broker (CI sets REDIS_URL)."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_prerun
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codes.models import CodeBatch
from distribly.celery import app

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)"),
]


@pytest.fixture
def celery_worker_thread():
    app.conf.task_always_eager = False
    app.loader.import_module("celery.contrib.testing.tasks")
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield app
    app.conf.task_always_eager = True


def test_upload_is_imported_by_the_worker_after_commit(
    client, user_factory, celery_worker_thread
):
    ran = []

    def record(sender=None, task=None, **kwargs):
        ran.append((task.name, task.request.is_eager))

    task_prerun.connect(record, weak=False)
    seller = user_factory()
    client.force_login(seller)
    body = "\n".join(f"WORKER-CODE-{n:06}-QZ" for n in range(2000)) + "\n<b>no</b>\n"
    response = client.post(
        reverse("codes:unique-codes-create"),
        {
            "title": "Worker test",
            "price": "3.00",
            "currency": "USD",
            "instructions": "Use it",
            "category": "other",
            "max_per_order": "1",
            "source": "upload",
            "file": SimpleUploadedFile("w.csv", body.encode()),
        },
    )
    assert response.status_code == 302
    batch = CodeBatch.objects.get(seller=seller)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if batch.is_finished:
            break
        time.sleep(0.2)
    assert batch.status == CodeBatch.Status.IMPORTED
    assert (batch.accepted, batch.rejected) == (2000, 1)
    progress = client.get(reverse("codes:batch-progress", args=[batch.pk])).json()
    assert progress["finished"] is True
    task_prerun.disconnect(record)
    assert (
        "codes.tasks.code_batch_import",
        False,
    ) in ran  # a worker ran it, not eager mode
