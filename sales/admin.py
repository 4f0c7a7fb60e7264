from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from distribly.admin import ReadOnlyAdmin

from .exceptions import RefundError
from .models import (
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
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["=id", "=reference", "email", "listing__title", "seller__email"]
    list_select_related = ["listing", "seller"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        ORDER_FIELDS  # the token (the order page's capability) is not shown
    )
    inlines = [PaymentInline, DeliveryInline, RefundInline]
    actions = ["refund", "release"]

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
