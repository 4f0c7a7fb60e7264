"""Tasks of the buyer's vault (registered through sales.tasks): thin wrappers
that take primitives and call one service (sales.services.vault)."""

from __future__ import annotations

from celery import shared_task

from distribly.mail import TRANSIENT_EMAIL_ERRORS
from distribly.tasks import DB_ERRORS

from .services.vault import find_codes_send, orders_expiry_remind

__all__ = ["email_find_codes_task", "orders_expiry_remind_task"]


@shared_task(name="sales.tasks.orders_expiry_remind")
def orders_expiry_remind_task() -> None:
    """Hourly: reminders before fixed-length subscriptions run out (once per order;
    an order whose email failed is retried by the next run)."""
    orders_expiry_remind()


@shared_task(
    name="sales.tasks.email_find_codes",
    autoretry_for=TRANSIENT_EMAIL_ERRORS + DB_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_find_codes_task(email: str, language: str) -> None:
    """Find my codes: the link, sent only if the address has orders."""
    find_codes_send(email=email, language=language)
