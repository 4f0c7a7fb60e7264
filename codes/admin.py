from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from distribly.admin import ReadOnlyAdmin, reject_with_reason

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
    search_fields = ["=id", "=batch__id", "listing__title"]
    list_select_related = ["listing", "batch"]
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
