from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.contrib import admin, messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Field, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from distribly.admin import ReadOnlyAdmin, number, reject_with_reason
from listings.models import Listing, ListingRevision

from .exceptions import CodesError
from .models import (
    BatchIssue,
    Code,
    CodeBatch,
    CodeReveal,
    WebhookDelivery,
    WebhookEndpoint,
)
from .selectors import batch_foreign_holders
from .services.batches import batch_approve, batch_reject
from .services.review import (
    ReviewError,
    ReviewSubject,
    review_approve,
    review_queue,
    review_reject,
    review_subject,
    review_waiting_count,
)

FOREIGN_HOLDERS_SHOWN = 50

BATCH_FIELDS = (
    "listing",
    "seller",
    "source",
    "status",
    "original_filename",
    "encoding",
    "generator",
    "lines_processed",
    "accepted",
    "duplicates",
    "held_by_another_seller",
    "foreign_holders",
    "rejected",
    "skipped_blank",
    "guessability",
    "masked_sample",
    "failure_reason",
    "review_note",
    "reviewed_at",
    "reviewed_by",
    "created_at",
    "imported_at",
)


class HeldByAnotherSellerFilter(admin.SimpleListFilter):
    title = "held by another seller"
    parameter_name = "foreign"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[CodeBatch]
    ) -> list[tuple[str, str]]:
        return [
            ("yes", "Some codes held by another seller"),
            ("no", "None held by another seller"),
            ("unchecked", "Not checked"),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[CodeBatch]
    ) -> QuerySet[CodeBatch]:
        match self.value():
            case "yes":
                return queryset.filter(foreign_duplicates__gt=0)
            case "no":
                return queryset.filter(foreign_duplicates=0)
            case "unchecked":
                return queryset.filter(foreign_duplicates__isnull=True)
        return queryset


@admin.register(CodeBatch)
class CodeBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "listing",
        "seller",
        "source",
        "status",
        "accepted",
        "duplicates",
        "held_by_another_seller",
        "rejected",
        "warning_count",
        "created_at",
    ]
    list_filter = ["status", HeldByAnotherSellerFilter, "source", "created_at"]
    search_fields = ["=id", "listing__title", "seller__email"]
    list_select_related = ["listing", "seller"]
    fields = BATCH_FIELDS
    readonly_fields = tuple(f for f in BATCH_FIELDS if f != "review_note")
    actions = ["approve", "reject"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_review_permission(request)  # the review note is editable

    def get_urls(self) -> list[URLPattern]:
        # Before the model's own URLs: its "<path:object_id>/" would take "review/".
        return [*ReviewViews(self.admin_site).urls(), *super().get_urls()]

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("codes.review_codebatch")

    @admin.display(description="Warnings")
    def warning_count(self, obj: CodeBatch) -> int:
        return len(obj.analysis) + len(obj.warnings)

    @admin.display(description="Guessability and import warnings")
    def guessability(self, obj: CodeBatch) -> str:
        items = [*obj.analysis, *obj.warnings]
        if not items:
            return "None"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in items))
        )

    @admin.display(description="Held by another seller", ordering="foreign_duplicates")
    def held_by_another_seller(self, obj: CodeBatch) -> str:
        if obj.foreign_duplicates is None:
            return "Not checked"
        return f"{obj.foreign_duplicates:,}"

    @admin.display(description="Other sellers holding these codes")
    def foreign_holders(self, obj: CodeBatch) -> str:
        """Staff only: the seller of this batch sees the count, never who."""
        holders = batch_foreign_holders(batch=obj, limit=FOREIGN_HOLDERS_SHOWN)
        if not holders:
            return "-"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td><a href="{}">#{}</a></td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:listings_listing_change", args=[h.listing_id]),
                    h.listing_title,
                    reverse("admin:codes_codebatch_change", args=[h.batch_id]),
                    h.batch_id,
                    h.seller_email,
                    h.common,
                )
                for h in holders
            ),
        )
        more = (
            format_html("<p>The first {} batches only.</p>", FOREIGN_HOLDERS_SHOWN)
            if len(holders) == FOREIGN_HOLDERS_SHOWN
            else ""
        )
        return format_html(
            "<table><thead><tr><th>Listing</th><th>Batch</th><th>Seller</th>"
            "<th>Codes in common</th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            more,
        )

    @admin.display(description="Sample (masked)")
    def masked_sample(self, obj: CodeBatch) -> str:
        return ", ".join(obj.sample) or "-"

    @admin.action(
        description="Approve selected batches (put their codes on sale)",
        permissions=["review"],
    )
    def approve(self, request: HttpRequest, queryset: QuerySet[CodeBatch]) -> None:
        for batch in queryset:
            try:
                batch_approve(batch=batch, by=request.user)
            except CodesError as e:
                self.message_user(request, f"{batch}: {e}", messages.ERROR)
            else:
                self.message_user(request, f"Approved {batch}.")

    @admin.action(
        description="Reject selected batches (with a reason)", permissions=["review"]
    )
    def reject(
        self, request: HttpRequest, queryset: QuerySet[CodeBatch]
    ) -> HttpResponse | None:
        return reject_with_reason(
            self,
            request,
            queryset,
            noun="batch",
            action="reject",
            error=CodesError,
            reject=lambda obj, user, reason: batch_reject(
                batch=obj, by=user, reason=reason
            ),
        )


@admin.register(Code)
class CodeAdmin(ReadOnlyAdmin):
    """Codes without their values: staff see status and provenance, never the secret."""

    list_display = [
        "id",
        "listing",
        "batch",
        "line",
        "status",
        "approved",
        "created_at",
    ]
    list_filter = ["status", "approved"]
    search_fields = ["=id"]  # shows the box; indexed_search answers it
    search_help_text = "A code's number, or a batch's number for all its codes."
    list_select_related = ["listing", "batch__listing"]
    fields = [
        "seller",
        "listing",
        "batch",
        "line",
        "status",
        "approved",
        "key_id",
        "created_at",
        "status_changed_at",
    ]

    def indexed_search(self, term: str) -> Q | None:
        """By number only, on the primary key and the (batch, line) index: a match
        on listing titles would scan every code."""
        n = number(term)
        return Q(pk__in=[]) if n is None else Q(pk=n) | Q(batch_id=n)


@admin.register(BatchIssue)
class BatchIssueAdmin(ReadOnlyAdmin):
    list_display = ["batch", "line", "kind", "reason"]
    list_filter = ["kind"]
    search_fields = ["=batch__id"]
    fields = ["batch", "line", "kind", "reason"]


@admin.register(CodeReveal)
class CodeRevealAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "kind", "batch", "code", "count", "ip"]
    list_filter = ["kind"]
    search_fields = ["user__email"]
    fields = ["at", "user", "kind", "batch", "code", "count", "ip"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["seller", "url", "active", "created_at"]
    search_fields = ["seller__email", "url"]
    fields = [
        "seller",
        "url",
        "active",
        "created_at",
    ]  # never the signing secret


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "event",
        "status",
        "attempts",
        "response_code",
        "last_error",
    ]
    list_filter = ["status", "event"]
    fields = [
        "endpoint",
        "event",
        "payload",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "created_at",
        "delivered_at",
    ]


# Staff review in one look (issue 14): a queue of listings with something waiting,
# and one page per listing to decide all of it (codes.services.review).

LISTING_REVIEW = "listings.review_listing"
BATCH_REVIEW = "codes.review_codebatch"
QUEUE_PAGE_SIZE = 50
# The reviewed fields a revision can change, as the review page names them, in its
# order; the share-size cover is the same image as the card-size one.
COMPARED_LABELS = {
    "title": "Title",
    "cover_card": "Cover image",
    "cover_share": "Cover image",
    "price": "Price",
    "currency": "Price",
    "category": "Category",
    "platform": "Platform",
    "region": "Works in",
    "description": "Description",
    "instructions": "Instructions",
    "restrictions": "Restrictions",
    "validity_days": "Codes last (days)",
}


def may_review(request: HttpRequest) -> bool:
    """Sees the queue: may review listings, code batches, or both."""
    return request.user.has_perm(LISTING_REVIEW) or request.user.has_perm(BATCH_REVIEW)


def may_decide(request: HttpRequest, subject: ReviewSubject) -> bool:
    """Holds the permission of every item a decision on `subject` acts on."""
    listing_part = subject.listing or subject.revision_id is not None
    return (not listing_part or request.user.has_perm(LISTING_REVIEW)) and (
        not subject.batch_ids or request.user.has_perm(BATCH_REVIEW)
    )


@dataclass(frozen=True)
class QueueRow:
    listing: Listing
    waits: list[str]
    flags: list[str]
    since: datetime


def _queue_row(listing: Any) -> QueueRow:
    """One queue row from a listing annotated by `review_queue`."""
    waits = []
    if listing.status == Listing.Status.PENDING_REVIEW:
        waits.append("Resubmitted listing" if listing.reviewed_at else "New listing")
    if listing.revision_id is not None:
        changed = sorted({COMPARED_LABELS.get(n, n) for n in listing.revision_changes})
        waits.append(f"Changes: {', '.join(changed).lower()}")
    if listing.batches_waiting:
        n, codes = listing.batches_waiting, listing.codes_waiting
        waits.append(
            f"{n} batch{'es' if n != 1 else ''} with {codes:,} code{'s' if codes != 1 else ''}"
        )
    flags = []
    if listing.waiting_foreign:
        flags.append(f"{listing.waiting_foreign:,} codes held by another seller")
    if listing.waiting_weak:
        flags.append("Guessable codes")
    return QueueRow(
        listing=listing, waits=waits, flags=flags, since=listing.waiting_since
    )


@dataclass(frozen=True)
class Compared:
    """A reviewed field of a pending revision: what buyers see now, and after."""

    label: str
    live: str
    proposed: str


def _shown(listing: Listing, name: str) -> str:
    """A reviewed field as buyers read it (HTML-safe for the cover image)."""
    match name:
        case "price" | "currency":
            return listing.price_display
        case "category":
            return listing.get_category_display()
        case "platform":
            return listing.get_platform_display() or "-"
        case "region":
            return ", ".join(c.name for c in listing.region) or "Anywhere"
        case "cover_card" | "cover_share":
            if not listing.cover_card:
                return "No cover image"
            return format_html(
                '<img src="{}" alt="Cover image" style="max-width:240px">',
                listing.cover_card.url,
            )
    value = getattr(listing, name)
    return "-" if value in (None, "") else str(value)


def _proposed(listing: Listing, changes: dict[str, Any]) -> Listing:
    """The listing as it will be once `changes` are approved (not saved)."""
    proposed = copy.copy(listing)
    for name, value in changes.items():
        # A revision holds only concrete fields (listings.services.REVIEWED_FIELDS).
        field = cast("Field[Any, Any]", Listing._meta.get_field(name))
        setattr(proposed, name, field.to_python(value))
    return proposed


def _compared(
    live: Listing, proposed: Listing, changes: dict[str, Any]
) -> list[Compared]:
    rows, seen = [], set()
    for name in COMPARED_LABELS:
        label = COMPARED_LABELS[name]
        if name in changes and label not in seen:
            seen.add(label)
            rows.append(Compared(label, _shown(live, name), _shown(proposed, name)))
    return rows


class ReviewViews:
    """The review queue and the one-look review page, mounted under the code batch
    admin's URLs (admin:codes_review_*); linked from the admin index with a count."""

    def __init__(self, site: admin.AdminSite) -> None:
        self.site = site

    def urls(self) -> list[URLPattern]:
        view = self.site.admin_view  # staff only, CSRF-protected
        return [
            path("review/", view(self.queue), name="codes_review_queue"),
            path(
                "review/<int:listing_id>/",
                view(self.listing),
                name="codes_review_listing",
            ),
            path(
                "review/<int:listing_id>/approve/",
                view(require_POST(self.approve)),
                name="codes_review_approve",
            ),
            path(
                "review/<int:listing_id>/reject/",
                view(require_POST(self.reject)),
                name="codes_review_reject",
            ),
        ]

    def queue(self, request: HttpRequest) -> HttpResponse:
        if not may_review(request):
            raise PermissionDenied
        page = Paginator(review_queue(), QUEUE_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        return TemplateResponse(
            request,
            "admin/codes/review_queue.html",
            {
                **self.site.each_context(request),
                "title": "Review queue",
                "page": page,
                "rows": [_queue_row(listing) for listing in page],
            },
        )

    def listing(
        self, request: HttpRequest, listing_id: int, reason_error: str = ""
    ) -> HttpResponse:
        if not may_review(request):
            raise PermissionDenied
        listing = get_object_or_404(
            Listing.objects.select_related("seller"), pk=listing_id
        )
        subject = review_subject(listing=listing)
        revision = (
            ListingRevision.objects.get(pk=subject.revision_id)
            if subject.revision_id is not None
            else None
        )
        preview = listing if revision is None else _proposed(listing, revision.changes)
        batches = CodeBatch.objects.filter(pk__in=subject.batch_ids).order_by(
            "created_at", "pk"
        )
        return TemplateResponse(
            request,
            "admin/codes/review_listing.html",
            {
                **self.site.each_context(request),
                "title": f"Review “{listing}”",
                "listing": listing,
                "preview": preview,
                "revision": revision,
                "compared": (
                    _compared(listing, preview, revision.changes) if revision else []
                ),
                "batches": [
                    (b, [*b.analysis, *b.warnings], _batch_url(b)) for b in batches
                ],
                "subject": subject,
                "may_decide": may_decide(request, subject),
                "reason": request.POST.get("reason", ""),
                "reason_error": reason_error,
            },
        )

    def approve(self, request: HttpRequest, listing_id: int) -> HttpResponse:
        return self._decide(
            request,
            listing_id,
            lambda subject: review_approve(subject=subject, by=request.user),
            "Approved",
        )

    def reject(self, request: HttpRequest, listing_id: int) -> HttpResponse:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            return self.listing(
                request,
                listing_id,
                reason_error="Give the seller a reason for the rejection.",
            )
        return self._decide(
            request,
            listing_id,
            lambda subject: review_reject(
                subject=subject, by=request.user, reason=reason
            ),
            "Rejected",
        )

    def _decide(
        self,
        request: HttpRequest,
        listing_id: int,
        decide: Callable[[ReviewSubject], None],
        done: str,
    ) -> HttpResponse:
        subject = _posted_subject(request, listing_id)
        if not may_review(request) or not may_decide(request, subject):
            raise PermissionDenied
        try:
            decide(subject)
        except ReviewError as e:
            messages.error(request, str(e))
            return HttpResponseRedirect(
                reverse("admin:codes_review_listing", args=[listing_id])
            )
        messages.success(
            request, f"{done}: {_decided(subject)}. The seller is emailed."
        )
        return HttpResponseRedirect(reverse("admin:codes_review_queue"))


def _batch_url(batch: CodeBatch) -> str:
    return reverse("admin:codes_codebatch_change", args=[batch.pk])


def _posted_subject(request: HttpRequest, listing_id: int) -> ReviewSubject:
    """What the reviewer saw, from the review page's hidden fields."""
    try:
        revision = request.POST.get("revision", "")
        version = request.POST.get("listing", "")
        return ReviewSubject(
            listing_id=listing_id,
            listing=bool(version),
            listing_version=version,
            revision_id=int(revision) if revision else None,
            batch_ids=tuple(int(v) for v in request.POST.getlist("batch")),
        )
    except ValueError as e:
        raise BadRequest("malformed review form") from e


def _decided(subject: ReviewSubject) -> str:
    parts = []
    if subject.listing:
        parts.append("the listing")
    if subject.revision_id is not None:
        parts.append("the changes")
    if subject.batch_ids:
        n = len(subject.batch_ids)
        parts.append(f"{n} code batch{'es' if n != 1 else ''}")
    return " and ".join(parts)


IndexView = Callable[[HttpRequest, dict[str, Any] | None], TemplateResponse]


def _index_with_review_count(index: IndexView) -> IndexView:
    """The admin index, with how many listings wait for review (for reviewers).

    Wrapped here rather than in an AdminSite subclass: the count needs codes and
    listings, and distribly (where a site subclass would live) sits below them."""

    def view(
        request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        context = (
            {"review_waiting": review_waiting_count()} if may_review(request) else {}
        )
        return index(request, {**context, **(extra_context or {})})

    return view


admin.site.index = _index_with_review_count(admin.site.index)  # type: ignore[method-assign,assignment]
