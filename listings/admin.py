from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from distribly.admin import ReadOnlyAdmin, reject_with_reason

from .exceptions import ListingError
from .models import ExchangeRate, Listing, ListingRevision, WaitlistEntry
from .selectors import ListingWithCounts, listings_with_counts
from .services import (
    listing_approve,
    listing_reject,
    listing_revision_approve,
    listing_revision_reject,
)


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin[Listing]):
    list_display = [
        "title",
        "seller",
        "status",
        "price_display",
        "available",
        "created_at",
    ]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["title", "seller__email", "seller__display_name"]
    list_select_related = ["seller"]
    readonly_fields = [
        "seller",
        "status",
        "reviewed_at",
        "reviewed_by",
        "created_at",
        "updated_at",
        "review_link",
        "batches_link",
    ]
    fields = [
        "seller",
        "status",
        "title",
        "description",
        "price",
        "currency",
        "instructions",
        "restrictions",
        "max_per_order",
        "low_stock_threshold",
        "review_note",
        "reviewed_at",
        "reviewed_by",
        "review_link",
        "batches_link",
        "created_at",
        "updated_at",
    ]
    actions = ["approve", "reject"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ListingWithCounts]:
        return listings_with_counts(super().get_queryset(request))

    @admin.display(description="Available quantity", ordering="available")
    def available(self, obj: ListingWithCounts) -> int:
        return obj.available

    @admin.display(description="Review")
    def review_link(self, obj: Listing) -> str:
        # By URL name: the review pages belong to codes, a layer above listings.
        url = reverse("admin:codes_review_listing", args=[obj.pk])
        return format_html(
            '<a href="{}">Everything of this listing that waits, in one look</a>', url
        )

    @admin.display(description="Code batches")
    def batches_link(self, obj: Listing) -> str:
        url = (
            reverse("admin:codes_codebatch_changelist")
            + f"?listing__id__exact={obj.pk}"
        )
        return format_html('<a href="{}">Review this listing\'s code batches</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sellers create listings; staff review them

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("listings.review_listing")

    @admin.action(description="Approve selected listings", permissions=["review"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Listing]) -> None:
        for listing in queryset:
            try:
                listing = listing_approve(listing=listing, by=request.user)
            except ListingError as e:
                self.message_user(request, f"{listing}: {e}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Approved “{listing}” ({listing.get_status_display().lower()}).",
                )

    @admin.action(
        description="Reject selected listings (with a reason)", permissions=["review"]
    )
    def reject(
        self, request: HttpRequest, queryset: QuerySet[Listing]
    ) -> HttpResponse | None:
        return reject_with_reason(
            self,
            request,
            queryset,
            noun="listing",
            action="reject",
            error=ListingError,
            reject=lambda obj, user, reason: listing_reject(
                listing=obj, by=user, reason=reason
            ),
        )


@admin.register(ListingRevision)
class ListingRevisionAdmin(ReadOnlyAdmin):
    """Sellers' changes to approved listings: the live value beside the proposed one."""

    list_display = ["listing", "seller", "changed_fields", "status", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["listing__title", "listing__seller__email"]
    list_select_related = ["listing__seller"]
    fields = [
        "listing",
        "status",
        "comparison",
        "review_note",
        "created_at",
        "reviewed_at",
        "reviewed_by",
    ]
    actions = ["approve", "reject"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ListingRevision]:
        return super().get_queryset(request).select_related("listing__seller")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("listings.review_listing")

    @admin.display(description="Seller")
    def seller(self, obj: ListingRevision) -> str:
        return str(obj.listing.seller)

    @admin.display(description="Changes")
    def changed_fields(self, obj: ListingRevision) -> str:
        return ", ".join(sorted(obj.changes))

    @admin.display(description="Live → proposed")
    def comparison(self, obj: ListingRevision) -> str:
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (name, getattr(obj.listing, name), value)
                for name, value in sorted(obj.changes.items())
            ),
        )
        return format_html(
            "<table><tr><th></th><th>Live</th><th>Proposed</th></tr>{}</table>", rows
        )

    @admin.action(
        description="Approve selected changes (they go live)", permissions=["review"]
    )
    def approve(
        self, request: HttpRequest, queryset: QuerySet[ListingRevision]
    ) -> None:
        for revision in queryset:
            try:
                listing_revision_approve(revision=revision, by=request.user)
            except (ListingError, ValidationError) as e:
                self.message_user(request, f"{revision}: {e}", messages.ERROR)
            else:
                self.message_user(request, f"Approved: {revision.listing} is updated.")

    @admin.action(
        description="Reject selected changes (with a reason)", permissions=["review"]
    )
    def reject(
        self, request: HttpRequest, queryset: QuerySet[ListingRevision]
    ) -> HttpResponse | None:
        return reject_with_reason(
            self,
            request,
            queryset,
            noun="change",
            action="reject",
            error=ListingError,
            reject=lambda obj, user, reason: listing_revision_reject(
                revision=obj, by=user, reason=reason
            ),
        )


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin[ExchangeRate]):
    """Staff may correct a rate; the daily task overwrites it with the ECB's."""

    list_display = ["currency", "rate", "source_date", "updated_at"]
    search_fields = ["currency"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    """Who waits for which listing, for support; people leave by their email's link."""

    list_display = ["listing", "email", "created_at", "confirmed_at", "notified_at"]
    list_filter = ["created_at", "notified_at"]
    search_fields = ["email", "listing__title"]
    list_select_related = ["listing"]
    exclude = ["token"]  # the capability in the person's links
