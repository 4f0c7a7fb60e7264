"""Thin Celery wrappers: take ids, load rows, call one service, decide retries."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from listings.tasks import TRANSIENT_EMAIL_ERRORS


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
)
def code_batch_import(batch_id: int) -> None:
    from .services import code_batch_import as run

    run(batch_id=batch_id)


@shared_task
def batches_resume_stalled() -> None:
    from .services import batches_resume_stalled as run

    run()


@shared_task(autoretry_for=TRANSIENT_EMAIL_ERRORS, retry_backoff=True, max_retries=8)
def email_batch_reviewed(batch_id: int) -> None:
    from .emails import batch_reviewed_message
    from .models import CodeBatch

    batch = (
        CodeBatch.objects.select_related("listing", "seller")
        .filter(pk=batch_id)
        .first()
    )
    if batch is not None:
        batch_reviewed_message(batch).send()
