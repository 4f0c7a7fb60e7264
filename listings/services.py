"""Writes to listings: creation, editing, review and the status lifecycle.

draft → pending_review → active ⇄ sold_out; active ⇄ paused (seller);
pending_review → rejected → (edited) → pending_review; any → archived.
`sold_out` is entered and left only by `listing_sync_stock`.

The waitlist (DESIGN "After the sale") lives here too: sign-up, confirmation,
leaving, and telling the line in FIFO order when the listing is back.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from distribly.accounts.payouts import selling_sellers
from distribly.currency import parse_ecb
from distribly.mail import TRANSIENT_EMAIL_ERRORS
from distribly.ratelimits import window_hit
from distribly.tasks import enqueue, enqueue_on_commit

from .emails import waitlist_notice_message
from .exceptions import ListingError, WaitlistLimited
from .images import Cover, cover_delete, cover_store
from .models import ExchangeRate, Listing, ListingRevision, ListingStock, WaitlistEntry
from .selectors import (
    RATES_CACHE_KEY,
    WAITLIST_LINE,
    listing_backordered,
    listing_pending_changes,
    listing_stock,
    listing_stock_counted,
)

logger = logging.getLogger(__name__)

S = Listing.Status
REVIEWED_TASK = "listings.tasks.email_listing_reviewed"
REVISION_REVIEWED_TASK = "listings.tasks.email_listing_revision_reviewed"
WAITLIST_NOTIFY_TASK = "listings.tasks.waitlist_notify"
WAITLIST_CONFIRM_TASK = "listings.tasks.email_waitlist_confirm"
WAITLIST_NOTICE_TASK = "listings.tasks.email_waitlist_notice"


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
    "category",
    "platform",
    "region",
)
# The cover image (its two stored sizes) is reviewed too; it is given to the
# services as a processed `Cover` (listings.images), not as field values.
COVER_FIELDS = ("cover_card", "cover_share")
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


def listing_create(
    *, seller: Any, cover: Cover | None = None, **fields: Any
) -> Listing:
    """Create a listing and submit it for review."""
    unknown = set(fields) - set(EDITABLE_FIELDS) - set(CREATE_ONLY_FIELDS)
    if unknown:
        raise TypeError(f"unknown listing fields: {sorted(unknown)}")
    listing = Listing(seller=seller, status=S.PENDING_REVIEW, **fields)
    listing.full_clean()
    if cover is not None:
        listing.cover_card, listing.cover_share = cover_store(cover)
    listing.save()
    return listing


def _cover_fields(cover: Cover | None, remove_cover: bool) -> dict[str, str]:
    """The cover field values an edit sets: stored new files, "" to remove, or none."""
    if cover is not None:
        card, share = cover_store(cover)
        return {"cover_card": card, "cover_share": share}
    return dict.fromkeys(COVER_FIELDS, "") if remove_cover else {}


def _covers_dropped(listing: Listing, names: Any) -> None:
    """After commit, delete cover files nothing uses any more: `names` minus what
    the listing shows now."""
    live = {listing.cover_card.name, listing.cover_share.name}
    unused = [n for n in names if n and n not in live]
    if unused:
        transaction.on_commit(lambda: cover_delete(*unused))


@dataclass(frozen=True)
class ListingUpdate:
    """What `listing_update` did: the listing as buyers see it now, and the fields
    whose new values wait for review (empty when everything went live)."""

    listing: Listing
    in_review: tuple[str, ...] = ()


def listing_update(
    *,
    listing: Listing,
    cover: Cover | None = None,
    remove_cover: bool = False,
    **fields: Any,
) -> ListingUpdate:
    """Edit a listing.

    A listing not yet approved (or rejected) changes at once, and a rejected one goes
    back to review. On an approved listing, the alert threshold and the per-order
    maximum change at once; changes to the reviewed fields wait in one pending
    ListingRevision for staff, and the approved version stays on sale. A new cover
    (or its removal, `remove_cover`) is a reviewed change like the others. Raises
    ListingError, or ValidationError for values the listing cannot take.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown listing fields: {sorted(unknown)}")
    new_cover = _cover_fields(cover, remove_cover)
    try:
        return _listing_update(listing, {**fields, **new_cover})
    except Exception:  # the new files are deleted, and the error goes on
        cover_delete(*new_cover.values())
        raise


def _listing_update(listing: Listing, fields: dict[str, Any]) -> ListingUpdate:
    reviewed = (*REVIEWED_FIELDS, *COVER_FIELDS)
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status == S.ARCHIVED:
            raise ListingError(_("An archived listing can't be edited."))
        old_covers = (listing.cover_card.name, listing.cover_share.name)
        if listing.status not in Listing.APPROVED_STATUSES:
            _withdraw_pending(listing)  # the whole listing is in review again
            for name, value in fields.items():
                setattr(listing, name, value)
            if listing.status == S.REJECTED:
                listing.status = S.PENDING_REVIEW
            listing.full_clean()
            listing.save()
            _covers_dropped(listing, old_covers)
            return ListingUpdate(listing=listing)
        proposed = copy.copy(listing)  # the live row is not touched for these fields
        for name, value in fields.items():
            setattr(proposed, name, value)
        proposed.full_clean()  # refuse bad values now, not at review time
        changes = {
            name: fields[name]
            for name in reviewed
            if name in fields and getattr(proposed, name) != getattr(listing, name)
        }
        if not set(COVER_FIELDS) & set(fields):
            # A file input is never sent again: an edit that neither uploads nor
            # removes a cover keeps the cover already waiting for review.
            changes |= _pending_covers(listing)
        for name in set(fields) - set(reviewed):
            setattr(listing, name, fields[name])
        listing.save()
        _propose(listing, changes)
    return ListingUpdate(listing=listing, in_review=tuple(changes))


def _pending_covers(listing: Listing) -> dict[str, str]:
    """The cover fields of the listing's revision waiting for review ({} if none)."""
    pending = listing_pending_changes(listing=listing)
    return {name: pending[name] for name in COVER_FIELDS if name in pending}


def _propose(listing: Listing, changes: dict[str, Any]) -> None:
    """Withdraw the listing's pending revision and, if there are changes, open a new
    one. A revision never changes once created: what staff approve is what they saw."""
    _withdraw_pending(listing, keep=_proposed_covers(changes))
    if changes:
        ListingRevision.objects.create(listing=listing, changes=changes)


def _withdraw_pending(listing: Listing, keep: list[str] | None = None) -> None:
    """Withdraw the pending revision; its proposed cover files are deleted unless
    `keep` names them (carried into the revision that replaces it)."""
    pending = ListingRevision.objects.filter(
        listing=listing, status=ListingRevision.Status.PENDING
    )
    for changes in pending.values_list("changes", flat=True):
        dropped = [n for n in _proposed_covers(changes) if n not in (keep or [])]
        _covers_dropped(listing, dropped)
    pending.update(status=ListingRevision.Status.WITHDRAWN, updated_at=timezone.now())


def _proposed_covers(changes: dict[str, Any]) -> list[str]:
    return [changes.get(name, "") for name in COVER_FIELDS]


def listing_revision_approve(*, revision: ListingRevision, by: Any) -> ListingRevision:
    """Put a seller's changes live. The seller is emailed."""
    with transaction.atomic():
        revision = ListingRevision.objects.select_for_update().get(pk=revision.pk)
        if revision.status != ListingRevision.Status.PENDING:
            raise ListingError(_("Only changes waiting for review can be approved."))
        listing = Listing.objects.select_for_update().get(pk=revision.listing_id)
        old_covers = (listing.cover_card.name, listing.cover_share.name)
        for name, value in revision.changes.items():
            setattr(listing, name, value)
        listing.full_clean()  # also turns the stored price string back into a Decimal
        listing.save()
        _covers_dropped(listing, old_covers)
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
        _covers_dropped(revision.listing, _proposed_covers(revision.changes))
        _reviewed(revision, ListingRevision.Status.REJECTED, by, reason)
    return revision


def _reviewed(revision: ListingRevision, status: str, by: Any, note: str) -> None:
    revision.status = status
    revision.review_note = note
    revision.reviewed_at = timezone.now()
    revision.reviewed_by = by
    revision.save()
    enqueue_on_commit(REVISION_REVIEWED_TASK, revision.pk)


def _status_for_stock(listing: Listing, available: int | None = None) -> str:
    """On sale while there are codes beyond those paid backorders wait for: new
    buyers never take the codes of people already in line."""
    if available is None:
        available = listing_stock(listing=listing)
    waiting = listing_backordered(listing=listing)
    return S.ACTIVE if available > waiting else S.SOLD_OUT


# Moves buffered by `listing_stock_deferred` (None when not deferring).
_deferred: ContextVar[dict[int, dict[str, int]] | None] = ContextVar(
    "listing_stock_deferred", default=None
)


def listing_stock_move(
    *,
    listing_id: int,
    available: int = 0,
    reserved: int = 0,
    sold: int = 0,
    redeemed: int = 0,
) -> None:
    """Add what a change to a listing's codes moved to its counters, inside the
    transaction that changed them (codes' services call this after each UPDATE,
    with the rows it really changed).

    The counter row's lock is held to commit, so every buyer of a listing waits
    for it: inside `listing_stock_deferred` the move is applied as the block's
    last statement instead. A listing without a row gets one counted from its
    codes, which already include this change; a concurrent first insert is
    caught by the primary key, and then the move is applied on top.
    """
    moves = {
        "available": available,
        "reserved": reserved,
        "sold": sold,
        "redeemed": redeemed,
    }
    buffer = _deferred.get()
    if buffer is not None:
        pending = buffer.setdefault(listing_id, dict.fromkeys(moves, 0))
        for name, n in moves.items():
            pending[name] += n
        return
    changes = {name: F(name) + n for name, n in moves.items() if n}
    if not changes:
        return
    if ListingStock.objects.filter(listing_id=listing_id).update(**changes):
        return
    _, created = ListingStock.objects.get_or_create(
        listing_id=listing_id, defaults=listing_stock_counted(listing_id=listing_id)
    )
    if not created:
        ListingStock.objects.filter(listing_id=listing_id).update(**changes)


def _flush_deferred() -> None:
    buffer = _deferred.get()
    if not buffer:
        return
    token = _deferred.set(None)
    try:
        for listing_id in sorted(buffer):  # one order: no deadlock between two
            listing_stock_move(listing_id=listing_id, **buffer.pop(listing_id))
    finally:
        _deferred.reset(token)


@contextmanager
def listing_stock_deferred() -> Iterator[None]:
    """Apply the counter moves made inside as one UPDATE per listing at the end of
    the block, which the caller ends just before its transaction commits
    (`order_place`, `payment_confirm`): the row lock is then held for the commit
    alone, not for the rest of the purchase. Moves of a block that raises are
    dropped with its transaction. Nested blocks join the outer one.

    Inside, only moves recorded after their codes' UPDATE succeeded may be made,
    and no savepoint may roll back codes after their move (codes' allocation
    functions move last)."""
    if _deferred.get() is not None:
        yield
        return
    token = _deferred.set({})
    try:
        yield
        _flush_deferred()
    finally:
        _deferred.reset(token)


def listing_stock_reconcile(*, listing_id: int) -> dict[str, int]:
    """Recount a listing's stock from its codes and repair the counters. Returns
    the drift that was repaired ({} when they agreed).

    Counters and codes are read in one snapshot (REPEATABLE READ): every writer
    changes both in one transaction, so a snapshot sees both or neither of a
    sale, and any difference is real drift. It is then added with F(), like any
    move, so sales committing meanwhile are kept, and no lock is held while a
    million codes are counted (purchases of that listing would wait for it).
    """
    # Inside a caller's (or a test's) transaction, the isolation level is theirs.
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        stock_rows = ListingStock.objects.filter(listing_id=listing_id)
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        else:  # the caller's transaction: hold the row while counting instead
            stock_rows = stock_rows.select_for_update()
        stock = stock_rows.first()
        counted = listing_stock_counted(listing_id=listing_id)
    if stock is None:  # no row yet: one counted now (a sale may have made it meanwhile)
        ListingStock.objects.get_or_create(
            listing_id=listing_id, defaults=listing_stock_counted(listing_id=listing_id)
        )
        return {}
    drift = {
        name: counted[name] - getattr(stock, name, 0)
        for name in ListingStock.COUNTS
        if counted[name] != getattr(stock, name, 0)
    }
    with transaction.atomic():
        listing_stock_move(listing_id=listing_id, **drift)
        ListingStock.objects.filter(listing_id=listing_id).update(
            reconciled_at=timezone.now()
        )
        if drift:
            logger.warning(
                "stock counters of listing %s were off by %s; repaired",
                listing_id,
                drift,
            )
            transaction.on_commit(
                lambda: listing_sync_stock(listing_id=listing_id), robust=True
            )
    return drift


def listings_stock_reconcile() -> dict[int, dict[str, int]]:
    """The periodic check (hourly): every listing, one short transaction each.
    Returns the drift repaired per listing."""
    repaired = {}
    ids = Listing.objects.order_by("pk").values_list("pk", flat=True)
    for listing_id in list(ids):
        drift = listing_stock_reconcile(listing_id=listing_id)
        if drift:
            repaired[listing_id] = drift
    return repaired


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
    at or above the low-stock threshold re-arms the low-stock alert. A listing back
    from sold out runs its waitlist line after commit.
    """
    with transaction.atomic():
        _flush_deferred()  # this reads the counters: moves so far first
        listing = Listing.objects.select_for_update().get(pk=listing_id)
        available = listing_stock(listing=listing)
        previous_status = listing.status
        changed = []
        if listing.status in (S.ACTIVE, S.SOLD_OUT):
            wanted = _status_for_stock(listing, available)
            if listing.status != wanted:
                listing.status = wanted
                changed.append("status")
        threshold = listing.low_stock_threshold
        if listing.low_stock_alerted and (threshold is None or available >= threshold):
            listing.low_stock_alerted = False
            changed.append("low_stock_alerted")
        if changed:
            listing.save(update_fields=[*changed, "updated_at"])
        if previous_status == S.SOLD_OUT and listing.status == S.ACTIVE:
            _waitlist_wake(listing)
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
        listing.status = _status_for_stock(listing)
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
        listing.status = _status_for_stock(listing)
        listing.save(update_fields=["status", "updated_at"])
        if listing.status == S.ACTIVE:
            _waitlist_wake(listing)
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


# Waitlist ------------------------------------------------------------------

# Sign-ups one client network (distribly.http.client_network) may make per hour,
# and confirmation emails one address gets per day whoever asks: together they
# keep anyone from using the form to mail-bomb an address.
WAITLIST_SIGNUPS_PER_HOUR = 10
WAITLIST_CONFIRMATIONS_PER_DAY = 3
# Never-confirmed entries are dropped by the sweep after this.
WAITLIST_UNCONFIRMED_TTL = timedelta(days=7)
# A picked entry whose email has not gone out after this is queued again (the
# queue message was lost or the worker died before claiming it).
WAITLIST_STALE_NOTICE = timedelta(minutes=5)


@dataclass(frozen=True)
class WaitlistJoin:
    """What `waitlist_join` did. `own_address` is true when the address is the
    signed-in user's verified one: only then may the answer say whether it was on
    the list already (to anyone else that would tell who is on it)."""

    entry: WaitlistEntry
    created: bool
    confirmed: bool
    own_address: bool


def waitlist_rate_check(*, network: str) -> None:
    """Count a sign-up against the network's budget (WAITLIST_SIGNUPS_PER_HOUR).

    Raises WaitlistLimited. Fixed one-hour windows in the cache (Redis in
    production), like sales' checkout_rate_check.
    """
    if not network:
        return
    key = f"waitlist:signups:{network}:{int(time.time()) // 3600}"
    if window_hit(key, 3700) > WAITLIST_SIGNUPS_PER_HOUR:
        raise WaitlistLimited(
            _(
                "Too many waitlist sign-ups from your network in the last hour. "
                "Please try again later."
            )
        )


def _may_send_confirmation(email: str) -> bool:
    """At most WAITLIST_CONFIRMATIONS_PER_DAY confirmation emails per address, over
    all listings. Past it the email is silently skipped: the sign-up answer is the
    same either way, so it tells nothing about the address."""
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    key = f"waitlist:confirmations:{digest}:{int(time.time()) // 86400}"
    return window_hit(key, 86400 + 100) <= WAITLIST_CONFIRMATIONS_PER_DAY


def _is_on_sale(listing: Listing) -> bool:
    return listing.status == S.ACTIVE and listing_stock(listing=listing) > 0


def waitlist_join(
    *,
    listing_id: int,
    email: str,
    user: Any | None,
    language: str,
    network: str = "",
) -> WaitlistJoin:
    """Put an address on a sold-out (or paused) listing's waitlist.

    Counts against the network's sign-up budget first (WaitlistLimited). The
    address of a signed-in user who verified it is in line at once; any other gets
    a confirmation link by email and is never told anything before confirming.
    Signing up again is a no-op (an unconfirmed guest gets the link again, within
    the per-address cap); after an earlier "back in stock" email it puts the
    address at the end of the line again. Raises ListingError when the listing is
    not public or is on sale right now.
    """
    waitlist_rate_check(network=network)
    email = email.strip().lower()
    own_address = bool(
        user is not None
        and user.is_authenticated
        and EmailAddress.objects.filter(
            user=user, email__iexact=email, verified=True
        ).exists()
    )
    now = timezone.now()
    with transaction.atomic():
        listing = Listing.objects.select_related("seller").get(pk=listing_id)
        if not listing.is_public:
            raise ListingError(_("This item is not available."))
        if _is_on_sale(listing):
            raise ListingError(_("Good news: this item is on sale now."))
        entry, created = WaitlistEntry.objects.get_or_create(
            listing=listing,
            email=email,
            defaults={
                "user": user if user is not None and user.is_authenticated else None,
                "language": language,
                "confirmed_at": now if own_address else None,
            },
        )
        if not created and entry.notified_at is not None:
            # Told before, asking again for this sell-out: back of the line, and
            # confirmed again by link unless its owner is signed in (anyone can
            # type an address: that must not sign its owner up again unasked).
            WaitlistEntry.objects.filter(pk=entry.pk).update(
                created_at=now,
                notified_at=None,
                notice_sent_at=None,
                language=language,
                confirmed_at=now if own_address else None,
            )
            entry.refresh_from_db()
            created = True
        elif not created and entry.confirmed_at is None and own_address:
            WaitlistEntry.objects.filter(pk=entry.pk).update(confirmed_at=now)
            entry.refresh_from_db()
        if entry.confirmed_at is None and _may_send_confirmation(email):
            enqueue_on_commit(WAITLIST_CONFIRM_TASK, entry.pk)
    return WaitlistJoin(
        entry=entry,
        created=created,
        confirmed=entry.confirmed_at is not None,
        own_address=own_address,
    )


def waitlist_confirm(*, entry: WaitlistEntry) -> WaitlistEntry:
    """Confirm an address by its link (idempotent). Should the listing be back
    already, the line is run at once."""
    with transaction.atomic():
        confirmed = WaitlistEntry.objects.filter(
            pk=entry.pk, confirmed_at__isnull=True
        ).update(confirmed_at=timezone.now())
        entry.refresh_from_db()
        if confirmed and entry.listing.status == S.ACTIVE:
            enqueue_on_commit(WAITLIST_NOTIFY_TASK, entry.listing_id)
    return entry


def waitlist_leave(*, entry: WaitlistEntry) -> None:
    """Take an address off a waitlist (its row is deleted: nothing is kept)."""
    WaitlistEntry.objects.filter(pk=entry.pk).delete()


def _waitlist_wake(listing: Listing) -> None:
    """The listing is on sale again: run its line after commit, if it has one."""
    if listing.waitlist_entries.filter(WAITLIST_LINE).exists():
        enqueue_on_commit(WAITLIST_NOTIFY_TASK, listing.pk)


def waitlist_notify(*, listing_id: int) -> int:
    """Pick the next people in a listing's line for a "back in stock" email.

    Only for a public, active listing with stock. At most `stock - (entries picked
    in the last WAITLIST_WINDOW_HOURS)` confirmed entries, in FIFO order
    (created_at, id): never more people at once than there are codes; the rest
    when stock rises or once the window of those picked has passed. Runs under the
    listing's row lock (on SQLite the IMMEDIATE transaction), so two runs never
    count the same stock twice, and claims with a conditional UPDATE, so an entry
    is picked once. Each email goes out through its own task after commit
    (`waitlist_notice_send`). Returns how many were picked; safe to run any time.
    """
    now = timezone.now()
    window = timedelta(hours=settings.WAITLIST_WINDOW_HOURS)
    with transaction.atomic():
        listing = Listing.objects.select_for_update().filter(pk=listing_id).first()
        if listing is None or listing.status != S.ACTIVE or not listing.is_public:
            return 0
        entries = listing.waitlist_entries
        recent = entries.filter(notified_at__gte=now - window).count()
        # Paid orders waiting for codes (backorders) get the stock first.
        waiting = listing_backordered(listing=listing)
        budget = listing_stock(listing=listing) - waiting - recent
        if budget <= 0:
            return 0
        ids = list(
            entries.filter(WAITLIST_LINE)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:budget]
        )
        picked = WaitlistEntry.objects.filter(
            pk__in=ids, notified_at__isnull=True
        ).update(notified_at=now)
        for entry_id in ids:
            # an id this run did not pick (a row deleted meanwhile) is skipped by the task's claim
            enqueue_on_commit(WAITLIST_NOTICE_TASK, entry_id)
    return picked


def waitlist_notice_send(*, entry_id: int) -> bool:
    """Send one picked entry its "back in stock" email; True if this call sent it.

    Claims `notice_sent_at` with a conditional UPDATE first, so two runs (a retry
    and the sweep) send once. A transient send error un-claims it and is re-raised
    for the task to retry; any other error leaves it claimed (never sent twice) and
    is re-raised. If the listing is off sale again by now, the entry goes back to
    its place in the line instead.
    """
    claimed = WaitlistEntry.objects.filter(
        pk=entry_id, notified_at__isnull=False, notice_sent_at__isnull=True
    ).update(notice_sent_at=timezone.now())
    if not claimed:
        return False
    entry = WaitlistEntry.objects.select_related("listing__seller").get(pk=entry_id)
    if entry.listing.status != S.ACTIVE or not entry.listing.is_public:
        WaitlistEntry.objects.filter(pk=entry_id).update(
            notified_at=None, notice_sent_at=None
        )
        return False
    try:
        waitlist_notice_message(entry).send()
    except TRANSIENT_EMAIL_ERRORS:
        WaitlistEntry.objects.filter(pk=entry_id).update(notice_sent_at=None)
        raise
    except Exception:
        logger.exception("waitlist notice %s failed permanently", entry_id)
        raise
    return True


def waitlists_sweep() -> list[int]:
    """Periodic: drop never-confirmed entries, queue again "back in stock" emails
    that never went out, and run the line of every active public listing with
    people waiting (stock that rose while on sale, windows that have passed).
    Returns the ids of the listings whose line ran."""
    now = timezone.now()
    WaitlistEntry.objects.filter(
        confirmed_at__isnull=True, created_at__lt=now - WAITLIST_UNCONFIRMED_TTL
    ).delete()
    unsent = WaitlistEntry.objects.filter(
        notified_at__lt=now - WAITLIST_STALE_NOTICE, notice_sent_at__isnull=True
    ).values_list("pk", flat=True)[:500]
    for entry_id in list(unsent):
        enqueue(WAITLIST_NOTICE_TASK, entry_id)
    waiting = WaitlistEntry.objects.filter(WAITLIST_LINE, listing=OuterRef("pk"))
    ids = list(
        Listing.objects.filter(
            Exists(waiting),
            selling_sellers(),
            status=S.ACTIVE,
            seller__is_active=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for listing_id in ids:
        waitlist_notify(listing_id=listing_id)
    return ids
