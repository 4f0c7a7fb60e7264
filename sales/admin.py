from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from distribly.admin import ReadOnlyAdmin

from .exceptions import RefundError
from .models import Delivery, Order, Payment, Refund, WebhookEvent
from .services.refunds import order_refund


class PaymentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Payment
    extra = 0
    can_delete = False
    fields = [
        "provider",
        "provider_ref",
        "provider_payment_id",
        "status",
        "amount",
        "currency",
        "created_at",
        "confirmed_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RefundInline(PaymentInline):
    model = Refund  # type: ignore[assignment]
    fields = [
        "amount",
        "quantity",
        "status",
        "source",
        "reason",
        "provider_refund_id",
        "error",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields


class DeliveryInline(PaymentInline):
    model = Delivery  # type: ignore[assignment]
    fields = ["status", "attempts", "last_error", "created_at", "sent_at"]
    readonly_fields = fields


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
    search_fields = ["=id", "email", "listing__title", "seller__email"]
    list_select_related = ["listing", "seller"]
    date_hierarchy = "created_at"
    fields = [
        "listing", "seller", "buyer", "email", "quantity", "unit_price", "amount", "currency", "status",
        "refunded_amount", "note", "reserved_until", "created_at", "paid_at", "fulfilled_at",
    ]  # fmt: skip
    readonly_fields = fields  # the token (the order page's capability) is not shown
    inlines = [PaymentInline, DeliveryInline, RefundInline]
    actions = ["refund"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None  # the list (and its actions) but no edits

    @admin.action(description="Refund selected orders in full (cancels their codes)")
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
                self.message_user(request, f"Order #{order.pk}: {e}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Order #{order.pk}: refunded {refund.amount} {order.currency}.",
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
