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


@shared_task(bind=True, max_retries=12)
def webhook_send(self, delivery_id: int) -> None:  # type: ignore[no-untyped-def]
    """Retried with exponential backoff: 30 s, 1 min, 2 min … capped at 6 h: ~1 day in all."""
    from .webhooks import WebhookSendError, webhook_give_up
    from .webhooks import webhook_send as run

    try:
        run(delivery_id=delivery_id)
    except WebhookSendError as e:
        if self.request.retries >= self.max_retries:
            webhook_give_up(delivery_id=delivery_id)
            return
        raise self.retry(
            exc=e, countdown=min(6 * 3600, 30 * 2**self.request.retries)
        ) from e


@shared_task(autoretry_for=TRANSIENT_EMAIL_ERRORS, retry_backoff=True, max_retries=8)
def email_api_key_suspended(api_key_id: int) -> None:
    from listings.emails import make_message

    from .models import ApiKey

    key = ApiKey.objects.select_related("seller").get(pk=api_key_id)
    make_message(
        "api-key-suspended", key.seller.email, {"key": key}, key.seller.language
    ).send()


@shared_task
def webhooks_sweep() -> None:
    from .webhooks import webhooks_sweep as run

    run()
