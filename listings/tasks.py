"""Thin Celery wrappers: take ids, load rows, call one function."""

from __future__ import annotations

import smtplib
import socket

from celery import shared_task

# Connection-level failures are worth retrying; a rejected address is not.
TRANSIENT_EMAIL_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPDataError,
    ConnectionError,
    socket.timeout,
    TimeoutError,
)
try:  # anymail's network errors, when an ESP is configured
    from anymail.exceptions import AnymailRequestsAPIError

    TRANSIENT_EMAIL_ERRORS += (AnymailRequestsAPIError,)
except ImportError:  # pragma: no cover
    pass


@shared_task(autoretry_for=TRANSIENT_EMAIL_ERRORS, retry_backoff=True, max_retries=8)
def email_listing_reviewed(listing_id: int) -> None:
    from .emails import listing_reviewed_message
    from .models import Listing

    listing = Listing.objects.select_related("seller").filter(pk=listing_id).first()
    if listing is not None:
        listing_reviewed_message(listing).send()


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def exchange_rates_refresh() -> None:
    from .services import exchange_rates_refresh as run

    run()
