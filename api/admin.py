from __future__ import annotations

from django.contrib import admin

from distribly.admin import ReadOnlyAdmin

from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "seller",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
        "suspended_at",
    ]
    list_filter = ["revoked_at", "suspended_at"]
    search_fields = ["seller__email", "prefix", "name"]
    fields = [
        "seller",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
        "suspended_at",
        "consecutive_failures",
    ]  # never the hash
