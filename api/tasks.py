"""Thin Celery wrappers: take ids, load rows, call one function, decide retries."""

from __future__ import annotations

from celery import shared_task

from distribly.mail import TRANSIENT_EMAIL_ERRORS

from .emails import api_key_suspended_message
from .models import ApiKey


# Registered under the name it had in the codes app, so messages queued before the
# api app existed are still understood.
@shared_task(
    name="codes.tasks.email_api_key_suspended",
    autoretry_for=TRANSIENT_EMAIL_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_api_key_suspended_task(api_key_id: int) -> None:
    key = ApiKey.objects.select_related("seller").get(pk=api_key_id)
    api_key_suspended_message(key).send()
