"""Writes to listings: creation, editing, review and the status lifecycle.

draft → pending_review → active ⇄ sold_out; active ⇄ paused (seller);
pending_review → rejected → (edited) → pending_review; any → archived.
`sold_out` is entered and left only by `listing_sync_stock`.
"""

from __future__ import annotations

import copy
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from distribly.currency import parse_ecb
from distribly.tasks import enqueue_on_commit

from .exceptions import ListingError
from .models import ExchangeRate, Listing, ListingRevision
from .selectors import RATES_CACHE_KEY, listing_stock

S = Listing.Status
REVIEWED_TASK = "listings.tasks.email_listing_reviewed"
REVISION_REVIEWED_TASK = "listings.tasks.email_listing_revision_reviewed"


# What buyers read and what they pay: on an approved listing, changes to these wait
# for staff review (the instructions are mailed to every buyer).
REVIEWED_FIELDS = (
    "title",
    "description",
    "price",
    "currency",
    "instructions",
    "restrictions",
    "validity_days",
)
# What a seller may change on a listing: the above, and what only concerns them
# (the claim window and backorders apply to sales from now on).
EDITABLE_FIELDS = (
    *REVIEWED_FIELDS,
    "low_stock_threshold",
    "max_per_order",
    "claim_window_days",
    "allow_backorders",
)
# Chosen once, at creation: the listing's codes are stored according to it.
CREATE_ONLY_FIELDS = ("codes_case_insensitive",)


def listing_create(*, seller: Any, **fields: Any) -> Listing:
    """Create a listing and submit it for review."""
    unknown = set(fields) - set(EDITABLE_FIELDS) - set(CREATE_ONLY_FIELDS)
    if unknown:
        raise TypeError(f"unknown listing fields: {sorted(unknown)}")
    listing = Listing(seller=seller, status=S.PENDING_REVIEW, **fields)
    listing.full_clean()
    listing.save()
    return listing


@dataclass(frozen=True)
class ListingUpdate:
    """What `listing_update` did: the listing as buyers see it now, and the fields
    whose new values wait for review (empty when everything went live)."""

    listing: Listing
    in_review: tuple[str, ...] = ()


def listing_update(*, listing: Listing, **fields: Any) -> ListingUpdate:
    """Edit a listing.

    A listing not yet approved (or rejected) changes at once, and a rejected one goes
    back to review. On an approved listing, the alert threshold and the per-order
    maximum change at once; changes to the reviewed fields wait in one pending
    ListingRevision for staff, and the approved version stays on sale. Raises
    ListingError, or ValidationError for values the listing cannot take.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown listing fields: {sorted(unknown)}")
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status == S.ARCHIVED:
            raise ListingError(_("An archived listing can't be edited."))
        if listing.status not in Listing.APPROVED_STATUSES:
            _withdraw_pending(listing)  # the whole listing is in review again
            for name, value in fields.items():
                setattr(listing, name, value)
            if listing.status == S.REJECTED:
                listing.status = S.PENDING_REVIEW
            listing.full_clean()
            listing.save()
            return ListingUpdate(listing=listing)
        proposed = copy.copy(listing)  # the live row is not touched for these fields
        for name, value in fields.items():
            setattr(proposed, name, value)
        proposed.full_clean()  # refuse bad values now, not at review time
        changes = {
            name: fields[name]
            for name in REVIEWED_FIELDS
            if name in fields and getattr(proposed, name) != getattr(listing, name)
        }
        for name in set(fields) - set(REVIEWED_FIELDS):
            setattr(listing, name, fields[name])
        listing.save()
        _propose(listing, changes)
    return ListingUpdate(listing=listing, in_review=tuple(changes))


def _propose(listing: Listing, changes: dict[str, Any]) -> None:
    """Withdraw the listing's pending revision and, if there are changes, open a new
    one. A revision never changes once created: what staff approve is what they saw."""
    _withdraw_pending(listing)
    if changes:
        ListingRevision.objects.create(listing=listing, changes=changes)


def _withdraw_pending(listing: Listing) -> None:
    ListingRevision.objects.filter(
        listing=listing, status=ListingRevision.Status.PENDING
    ).update(status=ListingRevision.Status.WITHDRAWN, updated_at=timezone.now())


def listing_revision_approve(*, revision: ListingRevision, by: Any) -> ListingRevision:
    """Put a seller's changes live. The seller is emailed."""
    with transaction.atomic():
        revision = ListingRevision.objects.select_for_update().get(pk=revision.pk)
        if revision.status != ListingRevision.Status.PENDING:
            raise ListingError(_("Only changes waiting for review can be approved."))
        listing = Listing.objects.select_for_update().get(pk=revision.listing_id)
        for name, value in revision.changes.items():
            setattr(listing, name, value)
        listing.full_clean()  # also turns the stored price string back into a Decimal
        listing.save()
        _reviewed(revision, ListingRevision.Status.APPROVED, by, "")
    return revision


def listing_revision_reject(
    *, revision: ListingRevision, by: Any, reason: str
) -> ListingRevision:
    """Refuse a seller's changes, with a reason they are emailed; nothing changes."""
    reason = reason.strip()
    if not reason:
        raise ListingError(_("Give the seller a reason for the rejection."))
    with transaction.atomic():
        revision = ListingRevision.objects.select_for_update().get(pk=revision.pk)
        if revision.status != ListingRevision.Status.PENDING:
            raise ListingError(_("Only changes waiting for review can be rejected."))
        _reviewed(revision, ListingRevision.Status.REJECTED, by, reason)
    return revision


def _reviewed(revision: ListingRevision, status: str, by: Any, note: str) -> None:
    revision.status = status
    revision.review_note = note
    revision.reviewed_at = timezone.now()
    revision.reviewed_by = by
    revision.save()
    enqueue_on_commit(REVISION_REVIEWED_TASK, revision.pk)


def _status_for_stock(available: int) -> str:
    return S.ACTIVE if available > 0 else S.SOLD_OUT


@dataclass(frozen=True)
class StockSync:
    """What `listing_sync_stock` saw and did, read under the listing's lock."""

    listing: Listing
    previous_status: str
    available: int

    @property
    def sold_out_now(self) -> bool:
        """This sync took the listing from on sale to sold out (one alert per crossing)."""
        return self.previous_status == S.ACTIVE and self.listing.status == S.SOLD_OUT


def listing_sync_stock(*, listing_id: int) -> StockSync:
    """Put an approved listing in `active` or `sold_out` to match its stock.

    Locks the listing row so that concurrent sales and approvals agree; the
    result tells the status before and the stock read under that lock, so a
    caller can tell a transition (for one sold-out alert) from a no-op.
    Paused, rejected, pending and archived listings keep their status. Stock back
    at or above the low-stock threshold re-arms the low-stock alert.
    """
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing_id)
        available = listing_stock(listing=listing)
        previous_status = listing.status
        changed = []
        if listing.status in (S.ACTIVE, S.SOLD_OUT):
            wanted = _status_for_stock(available)
            if listing.status != wanted:
                listing.status = wanted
                changed.append("status")
        threshold = listing.low_stock_threshold
        if listing.low_stock_alerted and (threshold is None or available >= threshold):
            listing.low_stock_alerted = False
            changed.append("low_stock_alerted")
        if changed:
            listing.save(update_fields=[*changed, "updated_at"])
    return StockSync(
        listing=listing, previous_status=previous_status, available=available
    )


def listing_approve(*, listing: Listing, by: Any) -> Listing:
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status != S.PENDING_REVIEW:
            raise ListingError(
                _(
                    "Only listings pending review can be approved (this one is %(status)s)."
                )
                % {"status": listing.get_status_display().lower()}
            )
        listing.status = _status_for_stock(listing_stock(listing=listing))
        listing.review_note = ""
        listing.reviewed_at = timezone.now()
        listing.reviewed_by = by
        listing.save()
        enqueue_on_commit(REVIEWED_TASK, listing.pk)
    return listing


def listing_reject(*, listing: Listing, by: Any, reason: str) -> Listing:
    reason = reason.strip()
    if not reason:
        raise ListingError(_("Give the seller a reason for the rejection."))
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status != S.PENDING_REVIEW:
            raise ListingError(_("Only listings pending review can be rejected."))
        listing.status = S.REJECTED
        listing.review_note = reason
        listing.reviewed_at = timezone.now()
        listing.reviewed_by = by
        listing.save()
        enqueue_on_commit(REVIEWED_TASK, listing.pk)
    return listing


def listing_pause(*, listing: Listing) -> Listing:
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status not in (S.ACTIVE, S.SOLD_OUT):
            raise ListingError(_("Only a listing that is on sale can be paused."))
        listing.status = S.PAUSED
        listing.save(update_fields=["status", "updated_at"])
    return listing


def listing_resume(*, listing: Listing) -> Listing:
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status != S.PAUSED:
            raise ListingError(_("Only a paused listing can be resumed."))
        listing.status = _status_for_stock(listing_stock(listing=listing))
        listing.save(update_fields=["status", "updated_at"])
    return listing


def listing_archive(*, listing: Listing) -> Listing:
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        listing.status = S.ARCHIVED
        listing.save(update_fields=["status", "updated_at"])
    return listing


def exchange_rates_refresh(*, xml: bytes | None = None) -> int:
    """Store the ECB's daily reference rates (fetched from EXCHANGE_RATES_URL unless
    given). Returns how many currencies were updated. Display only: charges never
    depend on these."""
    if xml is None:
        url = settings.EXCHANGE_RATES_URL
        if not url.startswith(("https://", "http://")):
            raise ValueError("EXCHANGE_RATES_URL must be an http(s) URL")
        with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310 - scheme checked above
            xml = response.read(2_000_000)
    parsed = parse_ecb(xml)
    with transaction.atomic():
        for currency, rate in parsed.rates.items():
            ExchangeRate.objects.update_or_create(
                currency=currency, defaults={"rate": rate, "source_date": parsed.date}
            )
    cache.delete(RATES_CACHE_KEY)
    return len(parsed.rates)
