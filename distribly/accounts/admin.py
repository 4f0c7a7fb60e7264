from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from distribly.admin import ReadOnlyAdmin

from .models import PayoutAccount, User


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    ordering = ["email"]
    list_display = [
        "email",
        "display_name",
        "is_trusted_seller",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_trusted_seller", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "display_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name",)}),
        ("Selling", {"fields": ("is_trusted_seller",)}),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),
    )


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyAdmin):
    """Sellers' payout accounts, as the provider last reported them."""

    list_display = ("user", "provider", "account_id", "details_submitted", "charges_enabled", "payouts_enabled", "updated_at")  # fmt: skip
    list_filter = ("provider", "payouts_enabled", "charges_enabled")
    search_fields = ("user__email", "account_id")
