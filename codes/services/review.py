"""Staff review in one look (issue 14): everything of a listing that waits for staff
(the listing itself, or its pending changes, and its imported code batches), read
as one queue row and decided together.

The rules stay in the services that own them (`listings.services` for listings and
their revisions, `codes.services.batches` for batches): this module only reads what
waits, and runs those services in one order and one transaction, so that a refusal
by any of them (another reviewer decided a batch meanwhile, a revision was replaced)
leaves everything as it was. Codes may call listings; listings never call codes, so
the combined decision lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext as _

from codes.exceptions import CodesError
from codes.models import CodeBatch
from codes.services.batches import batch_approve, batch_reject
from listings.exceptions import ListingError
from listings.models import Listing, ListingRevision
from listings.services import (
    listing_approve,
    listing_reject,
    listing_revision_approve,
    listing_revision_reject,
)

B = CodeBatch.Status
PENDING_REVISION = ListingRevision.Status.PENDING
T = TypeVar("T")
# Stands in for "nothing of this kind waits" in LEAST(): SQLite's MIN() of several
# arguments is NULL if any is, where PostgreSQL's LEAST() skips NULLs.
NEVER = Value(datetime(9999, 12, 31, tzinfo=UTC), output_field=DateTimeField())


class ReviewError(CodesError):
    """The combined decision was refused; nothing changed. The message is user-safe."""


@dataclass(frozen=True)
class ReviewSubject:
    """What a reviewer saw of one listing and decides on, by id: the listing itself
    (when it is pending review), its pending revision, and its imported batches.
    A decision acts on exactly these, never on something that arrived since."""

    listing_id: int
    listing: bool = False
    # The pending listing as the reviewer saw it (its updated_at): a seller may edit
    # a listing in review in place, and staff must not approve text they never read.
    listing_version: str = ""
    revision_id: int | None = None
    batch_ids: tuple[int, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.listing or self.revision_id or self.batch_ids)


def _waiting_listings() -> QuerySet[Listing]:
    """Listings with something waiting for staff, unordered and unannotated (each
    condition is an indexed lookup: listing status, batch status, the revision's
    one-pending constraint)."""
    return Listing.objects.filter(
        Q(status=Listing.Status.PENDING_REVIEW)
        | Q(
            pk__in=ListingRevision.objects.filter(status=PENDING_REVISION).values(
                "listing_id"
            )
        )
        | Q(pk__in=CodeBatch.objects.filter(status=B.IMPORTED).values("listing_id"))
    )


def review_waiting_count() -> int:
    """How many listings have something waiting (the admin index's number)."""
    return _waiting_listings().count()


def review_queue() -> QuerySet[Listing]:
    """The review queue: one listing per row, oldest wait first, in one query.

    Each row is annotated with what waits: `revision_id`, `revision_changes` and
    `revision_since` (its pending revision, if any), `batches_waiting`,
    `codes_waiting` and `batches_since` (its imported batches), the flags
    `waiting_foreign` (codes of those batches that another seller holds) and
    `waiting_weak` (a batch whose codes look guessable), and `waiting_since`, the
    oldest of these. A pending listing waits since its last submission or edit
    (`updated_at`): what staff review is its latest version.
    """
    imported = CodeBatch.objects.filter(listing=OuterRef("pk"), status=B.IMPORTED)
    revision = ListingRevision.objects.filter(
        listing=OuterRef("pk"), status=PENDING_REVISION
    )

    def over_batches(aggregate: Any) -> Subquery:
        # One value per listing over its imported batches (GROUP BY listing only).
        return Subquery(
            imported.order_by().values("listing").annotate(v=aggregate).values("v")
        )

    return (
        _waiting_listings()
        .select_related("seller")
        .annotate(
            revision_id=Subquery(revision.values("pk")[:1]),
            revision_changes=Subquery(revision.values("changes")[:1]),
            revision_since=Subquery(revision.values("created_at")[:1]),
            batches_waiting=Coalesce(over_batches(Count("pk")), 0),
            codes_waiting=Coalesce(over_batches(Sum("accepted")), 0),
            batches_since=over_batches(Min(Coalesce("imported_at", "created_at"))),
            waiting_foreign=Coalesce(over_batches(Sum("foreign_duplicates")), 0),
            waiting_weak=Exists(imported.exclude(analysis=[])),
            listing_since=Case(
                When(status=Listing.Status.PENDING_REVIEW, then=F("updated_at"))
            ),
        )
        .annotate(
            waiting_since=Least(
                Coalesce("listing_since", NEVER),
                Coalesce("revision_since", NEVER),
                Coalesce("batches_since", NEVER),
            )
        )
        .order_by("waiting_since", "pk")
    )


def review_subject(*, listing: Listing) -> ReviewSubject:
    """What of `listing` waits for staff now."""
    revision_id = (
        ListingRevision.objects.filter(listing=listing, status=PENDING_REVISION)
        .values_list("pk", flat=True)
        .first()
    )
    batch_ids = CodeBatch.objects.filter(listing=listing, status=B.IMPORTED)
    pending = listing.status == Listing.Status.PENDING_REVIEW
    return ReviewSubject(
        listing_id=listing.pk,
        listing=pending,
        listing_version=listing.updated_at.isoformat() if pending else "",
        revision_id=revision_id,
        batch_ids=tuple(
            batch_ids.order_by("created_at", "pk").values_list("pk", flat=True)
        ),
    )


def review_approve(*, subject: ReviewSubject, by: Any) -> None:
    """Approve everything in `subject` at once: its batches, then its pending changes
    or the listing itself (approved after its codes, a new listing goes on sale at
    once instead of passing through sold out). One transaction: if any service
    refuses, nothing is approved and ReviewError says why. The seller gets each
    service's email, after commit."""
    _decide(
        subject,
        batch=lambda batch: batch_approve(batch=batch, by=by),
        revision=lambda revision: listing_revision_approve(revision=revision, by=by),
        listing=lambda listing: listing_approve(listing=listing, by=by),
    )


def review_reject(*, subject: ReviewSubject, by: Any, reason: str) -> None:
    """Reject everything in `subject` at once, with one reason (required) that the
    seller is emailed by each service. All or nothing, like `review_approve`."""
    _decide(
        subject,
        batch=lambda batch: batch_reject(batch=batch, by=by, reason=reason),
        revision=lambda revision: listing_revision_reject(
            revision=revision, by=by, reason=reason
        ),
        listing=lambda listing: listing_reject(listing=listing, by=by, reason=reason),
    )


def _decide(
    subject: ReviewSubject,
    *,
    batch: Callable[[CodeBatch], object],
    revision: Callable[[ListingRevision], object],
    listing: Callable[[Listing], object],
) -> None:
    if subject.is_empty:
        raise ReviewError(_("Nothing of this listing was waiting for review."))
    try:
        with transaction.atomic():
            if subject.listing:  # locked first: approving batches may save it too
                seen = Listing.objects.select_for_update().get(pk=subject.listing_id)
                if seen.updated_at.isoformat() != subject.listing_version:
                    raise ReviewError(
                        _(
                            "The seller changed this listing after you opened it: "
                            "nothing was decided. Look at it again."
                        )
                    )
            batches = list(
                CodeBatch.objects.filter(
                    listing_id=subject.listing_id, pk__in=subject.batch_ids
                ).order_by("pk")
            )
            if len(batches) != len(set(subject.batch_ids)):
                raise ReviewError(_("A batch of this listing is no longer here."))
            for each in batches:
                _named(str(each), batch, each)
            if subject.revision_id is not None:
                pending = ListingRevision.objects.filter(
                    pk=subject.revision_id, listing_id=subject.listing_id
                ).first()
                if pending is None:
                    raise ReviewError(_("These changes are no longer here."))
                _named(_("The changes"), revision, pending)
            if subject.listing:
                _named(
                    _("The listing"),
                    listing,
                    Listing.objects.get(pk=subject.listing_id),
                )
    except Listing.DoesNotExist as e:
        raise ReviewError(_("This listing is no longer here.")) from e


def _named(what: str, decide: Callable[[T], object], obj: T) -> None:
    """Run one service; its refusal becomes a ReviewError naming the item."""
    try:
        decide(obj)
    except (CodesError, ListingError) as e:
        raise ReviewError(f"{what}: {e}") from e
    except ValidationError as e:  # a revision's values no longer fit the listing
        raise ReviewError(f"{what}: {' '.join(e.messages)}") from e
