"""Thin Celery wrappers: take ids, load rows, call one function.

Each task keeps the registered name it always had (queued messages and the beat
schedule use it); the functions end in `_task` so they never shadow a service.
"""

from __future__ import annotations

from celery import shared_task

from distribly.mail import TRANSIENT_EMAIL_ERRORS

from .emails import (
    listing_reviewed_message,
    listing_revision_reviewed_message,
    waitlist_confirm_message,
)
from .models import Listing, ListingRevision, WaitlistEntry
from .services import (
    exchange_rates_refresh,
    listings_stock_reconcile,
    waitlist_notice_send,
    waitlist_notify,
    waitlists_sweep,
)


@shared_task(
    name="listings.tasks.email_listing_reviewed",
    autoretry_for=TRANSIENT_EMAIL_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_listing_reviewed_task(listing_id: int) -> None:
    listing = Listing.objects.select_related("seller").filter(pk=listing_id).first()
    if listing is not None:
        listing_reviewed_message(listing).send()


@shared_task(
    name="listings.tasks.exchange_rates_refresh",
    autoretry_for=(OSError,),
    retry_backoff=60,
    max_retries=5,
)
def exchange_rates_refresh_task() -> None:
    exchange_rates_refresh()


@shared_task(
    name="listings.tasks.email_listing_revision_reviewed",
    autoretry_for=TRANSIENT_EMAIL_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_listing_revision_reviewed_task(revision_id: int) -> None:
    revision = (
        ListingRevision.objects.select_related("listing__seller")
        .filter(pk=revision_id)
        .first()
    )
    if revision is not None:
        listing_revision_reviewed_message(revision).send()


@shared_task(name="listings.tasks.waitlist_notify")
def waitlist_notify_task(listing_id: int) -> None:
    waitlist_notify(listing_id=listing_id)


@shared_task(name="listings.tasks.waitlists_sweep")
def waitlists_sweep_task() -> None:
    waitlists_sweep()


@shared_task(
    name="listings.tasks.email_waitlist_confirm",
    autoretry_for=TRANSIENT_EMAIL_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_waitlist_confirm_task(entry_id: int) -> None:
    entry = (
        WaitlistEntry.objects.select_related("listing")
        .filter(pk=entry_id, confirmed_at__isnull=True)
        .first()
    )
    if entry is not None:  # confirmed or gone meanwhile: nothing to ask
        waitlist_confirm_message(entry).send()


@shared_task(
    name="listings.tasks.email_waitlist_notice",
    autoretry_for=TRANSIENT_EMAIL_ERRORS,
    retry_backoff=True,
    max_retries=8,
)
def email_waitlist_notice_task(entry_id: int) -> None:
    waitlist_notice_send(entry_id=entry_id)


@shared_task(name="listings.tasks.listings_stock_reconcile")
def listings_stock_reconcile_task() -> None:
    listings_stock_reconcile()
