"""Thin Celery wrappers: take ids, load rows, call one service, decide retries.

Each task keeps the registered name it always had (queued messages and the beat
schedule use it); the functions end in `_task` so they never shadow a service.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from distribly.mail import TRANSIENT_EMAIL_ERRORS

from .emails import batch_reviewed_message
from .models import CodeBatch
from .services.batches import batch_action_run, batches_resume_actions
from .services.imports import batches_resume_stalled, code_batch_import
from .webhooks.delivery import (
    WebhookSendError,
    webhook_give_up,
    webhook_send,
    webhooks_sweep,
)


@shared_task(
    name="codes.tasks.code_batch_import",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def code_batch_import_task(batch_id: int) -> None:
    code_batch_import(batch_id=batch_id)


@shared_task(
    name="codes.tasks.batch_action_run",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def batch_action_run_task(batch_id: int) -> None:
    batch_action_run(batch_id=batch_id)


@shared_task(name="codes.tasks.batches_resume_actions")
def batches_resume_actions_task() -> None:
    batches_resume_actions()


@shared_task(name="codes.tasks.batches_resume_stalled")
def batches_resume_stalled_task() -> None:
    batches_resume_stalled()


@shared_task(
    name="codes.tasks.email_batch_reviewed",
    autoretry_for=TRANSIENT_EMAIL_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_batch_reviewed_task(batch_id: int) -> None:
    batch = (
        CodeBatch.objects.select_related("listing", "seller")
        .filter(pk=batch_id)
        .first()
    )
    if batch is not None:
        batch_reviewed_message(batch).send()


# A retry waits in a worker, unacknowledged, until its countdown is due: past the
# broker's visibility timeout (2 h, settings) Redis would hand it out a second time.
WEBHOOK_RETRY_MAX_COUNTDOWN = 3600


@shared_task(name="codes.tasks.webhook_send", bind=True, max_retries=30)
def webhook_send_task(self: Task[Any, None], delivery_id: int) -> None:
    """Retried with exponential backoff: 30 s, 1 min, 2 min … capped at 1 h: ~1 day in all."""
    try:
        webhook_send(delivery_id=delivery_id)
    except WebhookSendError as e:
        if self.request.retries >= (self.max_retries or 0):
            webhook_give_up(delivery_id=delivery_id)
            return
        raise self.retry(
            exc=e,
            countdown=min(WEBHOOK_RETRY_MAX_COUNTDOWN, 30 * 2**self.request.retries),
        ) from e


@shared_task(name="codes.tasks.webhooks_sweep")
def webhooks_sweep_task() -> None:
    webhooks_sweep()
