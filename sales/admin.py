from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Case, Q, QuerySet, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from distribly.admin import ReadOnlyAdmin, number, reject_with_reason
from distribly.errors import FieldError
from listings.models import Listing

from .exceptions import ClaimError, RefundError
from .models import (
    Claim,
    Delivery,
    Dispute,
    LedgerEntry,
    Order,
    Payment,
    Payout,
    Refund,
    WebhookEvent,
)
from .payments.base import PaymentError
from .selectors import flagged_emails, sellers_above_claim_threshold
from .services.claims import claim_refund, claim_reject, claim_replace
from .services.disputes import dispute_stage
from .services.fraud import order_release
from .services.refunds import order_refund

PAYMENT_INLINE_FIELDS: tuple[str, ...] = (
    "provider",
    "provider_ref",
    "provider_payment_id",
    "status",
    "amount",
    "currency",
    "created_at",
    "confirmed_at",
)

REFUND_INLINE_FIELDS: tuple[str, ...] = (
    "amount",
    "quantity",
    "status",
    "source",
    "reason",
    "provider_refund_id",
    "error",
    "created_by",
    "created_at",
)

DELIVERY_INLINE_FIELDS: tuple[str, ...] = (
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
)

ORDER_FIELDS: tuple[str, ...] = (
    "listing", "seller", "buyer", "email", "quantity", "unit_price", "amount", "platform_fee",
    "currency", "status", "refunded_amount", "note", "held_until", "hold_reason", "fraud_warning_at", "reserved_until", "created_at", "paid_at", "fulfilled_at",
)  # fmt: skip


class _OrderRecordInline(admin.TabularInline[Any, Order]):
    """An order's payments, deliveries or refunds: shown, never edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PaymentInline(_OrderRecordInline):
    model = Payment
    fields = readonly_fields = PAYMENT_INLINE_FIELDS


class RefundInline(_OrderRecordInline):
    model = Refund
    fields = readonly_fields = REFUND_INLINE_FIELDS


class DeliveryInline(_OrderRecordInline):
    model = Delivery
    fields = readonly_fields = DELIVERY_INLINE_FIELDS


REFERENCE = re.compile(r"[0-9A-Z]{5}-[0-9A-Z]{5}")


class CurrencyFilter(admin.SimpleListFilter):
    """Orders by currency, offered from the listings' currencies: Django's default
    (SELECT DISTINCT over every order) took 70 ms at a million orders."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        currencies = (
            Listing.objects.order_by("currency")
            .values_list("currency", flat=True)
            .distinct()
        )
        return [(c, c) for c in currencies]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(currency=value) if value else queryset


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "listing",
        "seller",
        "email",
        "quantity",
        "amount",
        "currency",
        "status",
        "refunded_amount",
    ]
    list_filter = ["status", CurrencyFilter, "created_at"]
    search_fields = ["=id"]  # shows the box; indexed_search answers it
    search_help_text = (
        "An order's number or reference, a buyer's or seller's email, or words of "
        "the item's title."
    )
    list_select_related = ["listing", "seller"]
    fields = readonly_fields = (
        ORDER_FIELDS  # the token (the order page's capability) is not shown
    )
    inlines = [PaymentInline, DeliveryInline, RefundInline]
    actions = ["refund", "release"]

    def indexed_search(self, term: str) -> Q | None:
        """Each kind of term on its own index: an id, a reference, an email (stored
        lower-cased: the buyer's or the seller's), else the title among listings
        (few) and then their orders."""
        n = number(term)
        if n is not None:
            return Q(pk=n)
        if "@" in term:
            # The seller's id looked up first: "email = x OR seller_id = n" is a
            # BitmapOr of two indexes, where a subquery made it scan every order.
            seller = (
                get_user_model()
                .objects.filter(email=term.lower())
                .values_list("pk", flat=True)
                .first()
            )
            by_email = Q(email=term.lower())
            return by_email if seller is None else by_email | Q(seller_id=seller)
        if REFERENCE.fullmatch(term.upper()):
            return Q(reference=term.upper())
        return Q(
            listing_id__in=Listing.objects.filter(title__icontains=term).values("pk")
        )

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sales.refund_order")

    def has_release_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sales.release_order")

    @admin.action(
        description="Release held orders (email and show their codes now)",
        permissions=["release"],
    )
    def release(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            if order_release(order_id=order.pk):
                self.message_user(request, f"Order #{order.reference}: released.")
            else:
                self.message_user(
                    request,
                    f"Order #{order.reference}: not held, or reported as fraud.",
                    messages.WARNING,
                )

    @admin.action(
        description="Refund selected orders in full (cancels their codes)",
        permissions=["refund"],
    )
    def refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            try:
                refund = order_refund(
                    order=order,
                    by=request.user,
                    source=Refund.Source.STAFF,
                    reason="Refunded by staff",
                )
            except RefundError as e:
                self.message_user(
                    request, f"Order #{order.reference}: {e}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"Order #{order.reference}: refunded {refund.amount} {order.currency}.",
                )


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "order",
        "provider",
        "provider_ref",
        "status",
        "amount",
        "currency",
        "created_at",
    ]
    list_filter = ["provider", "status"]
    search_fields = ["=order__id", "provider_ref", "provider_payment_id"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """Failed events (status "Failed permanently") need a look: the error says why."""

    list_display = ["received_at", "provider", "type", "status", "event_id", "error"]
    list_filter = ["status", "provider", "type"]
    search_fields = ["event_id"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "order",
        "amount",
        "quantity",
        "status",
        "source",
        "created_at",
    ]
    list_filter = ["status", "source"]
    search_fields = ["=order__id", "provider_refund_id"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "order",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status"]
    search_fields = ["=order__id"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Disputes: the evidence staged on the provider's dispute, and Submit."""

    list_display = ("provider_dispute_id", "order", "amount", "currency", "reason", "status", "evidence_due_by", "evidence_submitted_at")  # fmt: skip
    list_filter = ("status", "reason")
    search_fields = ("provider_dispute_id", "order__reference", "order__email")
    list_select_related = ("order",)
    readonly_fields = ("order", "provider_dispute_id", "amount", "currency", "reason", "status", "evidence_due_by", "evidence_submitted_at", "evidence", "created_at", "closed_at")  # fmt: skip
    actions = ("submit_evidence",)

    @admin.action(
        description="Submit the staged evidence to the bank",
        permissions=["submit"],
    )
    def submit_evidence(
        self, request: HttpRequest, queryset: QuerySet[Dispute]
    ) -> None:
        for dispute in queryset.filter(status=Dispute.Status.OPEN):
            try:
                dispute_stage(dispute_id=dispute.pk, submit=True)
            except PaymentError as e:
                self.message_user(
                    request, f"{dispute}: not submitted: {e}", messages.ERROR
                )
            else:
                self.message_user(request, f"{dispute}: evidence submitted.")

    def has_submit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sales.submit_dispute")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "order", "seller", "kind", "gross", "platform_fee", "seller_net", "currency")  # fmt: skip
    list_filter = ("kind", "currency")
    search_fields = ("order__reference", "seller__email")
    list_select_related = ("order", "seller")
    show_full_result_count = False


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ("provider_payout_id", "seller", "amount", "currency", "status", "arrival_date")  # fmt: skip
    list_filter = ("status",)
    search_fields = ("provider_payout_id", "seller__email")
    list_select_related = ("seller",)


class FlaggedBuyerFilter(admin.SimpleListFilter):
    title = "buyer"
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Flagged: reports to many sellers (90 days)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(email__in=flagged_emails())
        return queryset


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    """Problems buyers reported. Staff decide the escalated ones (decide_claim):
    replace, refund, or reject with a reason the buyer reads; "Sellers above the
    threshold" lists sellers with many upheld problems."""

    list_display = ("created_at", "order", "seller", "email", "reason", "status", "respond_by", "escalated_at")  # fmt: skip
    list_filter = ("status", "reason", FlaggedBuyerFilter)
    search_fields = ("order__reference", "email", "seller__email")
    list_select_related = ("order", "seller")
    readonly_fields = ("order", "seller", "code", "email", "reason", "message", "status", "respond_by", "seller_message", "escalated_at", "escalation_message", "staff_message", "decided_at", "decided_by", "automatic", "replacement", "refund", "created_at")  # fmt: skip
    actions = ("replace", "refund", "reject")
    change_form_template = "admin/sales/claim/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Claim]:
        """Escalated claims (waiting for staff) first."""
        return (
            super()
            .get_queryset(request)
            .order_by(
                Case(When(status=Claim.Status.ESCALATED, then=0), default=1),
                "-created_at",
            )
        )

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sales.decide_claim")

    def _each(self, request: HttpRequest, queryset: QuerySet[Claim], act: Any) -> None:
        for claim in queryset:
            try:
                act(claim)
            except (ClaimError, RefundError, FieldError) as e:
                self.message_user(request, f"{claim}: {e}", messages.ERROR)
            else:
                self.message_user(request, f"{claim}: done; both sides are told.")

    @admin.action(
        description="Replace the code (escalated problems)", permissions=["decide"]
    )
    def replace(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        self._each(
            request,
            queryset,
            lambda claim: claim_replace(claim=claim, by=request.user, staff=True),
        )

    @admin.action(
        description="Refund the code (escalated problems)", permissions=["decide"]
    )
    def refund(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        self._each(
            request,
            queryset,
            lambda claim: claim_refund(claim=claim, by=request.user, staff=True),
        )

    @admin.action(
        description="Reject with a reason (escalated problems)",
        permissions=["decide"],
    )
    def reject(
        self, request: HttpRequest, queryset: QuerySet[Claim]
    ) -> HttpResponse | None:
        return reject_with_reason(
            self,
            request,
            queryset,
            noun="problem report",
            action="reject",
            error=(ClaimError, FieldError),
            recipient="buyer",
            reject=lambda claim, user, reason: claim_reject(
                claim=claim, by=user, message=reason, staff=True
            ),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "sellers/",
                self.admin_site.admin_view(self.sellers_view),
                name="sales_claim_sellers",
            ),
            path(
                "<int:claim_id>/decide/",
                self.admin_site.admin_view(require_POST(self.decide_view)),
                name="sales_claim_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The claim's evidence, with Replace/Refund/Reject buttons while it waits
        for staff (escalated) and the user may decide (one look, issue 14)."""
        context = {"may_decide": self.has_decide_permission(request)}
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def decide_view(self, request: HttpRequest, claim_id: int) -> HttpResponse:
        """One staff decision from the claim's page, through the claim services."""
        if not self.has_decide_permission(request):
            raise PermissionDenied
        claim = get_object_or_404(Claim, pk=claim_id)
        decision = request.POST.get("decision")
        reason = request.POST.get("reason", "").strip()
        try:
            if decision == "replace":
                claim_replace(claim=claim, by=request.user, staff=True)
            elif decision == "refund":
                claim_refund(claim=claim, by=request.user, staff=True)
            elif decision == "reject":
                claim_reject(claim=claim, by=request.user, message=reason, staff=True)
            else:
                raise BadRequest("unknown decision")  # not one of the page's buttons
        except (ClaimError, RefundError, FieldError) as e:
            messages.error(request, str(e))
        else:
            messages.success(request, f"{claim}: done; both sides are told.")
        return HttpResponseRedirect(
            reverse("admin:sales_claim_change", args=[claim_id])
        )

    def sellers_view(self, request: HttpRequest) -> HttpResponse:
        """Sellers whose share of sales with an upheld problem is over the threshold."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/sales/claim/sellers.html",
            {
                **self.admin_site.each_context(request),
                "title": "Sellers above the problem threshold",
                "rows": sellers_above_claim_threshold(),
                "min_sales": settings.REPUTATION_MIN_SALES,
                "percent": settings.REPUTATION_ALERT_PERCENT,
                "opts": self.model._meta,
            },
        )
