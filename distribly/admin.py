"""Admin building blocks shared by every app's admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Staff look, services write: no adding, editing or deleting from admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def reject_with_reason(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    noun: str,
    action: str,
    reject: Any,
    error: type[Exception] | tuple[type[Exception], ...],
    recipient: str = "seller",
) -> HttpResponse | None:
    """Admin action helper: ask for a reason on an intermediate page, then reject each."""
    reason = request.POST.get("reason", "").strip()
    if request.POST.get("confirm") == "yes" and reason:
        for obj in queryset:
            try:
                reject(obj, request.user, reason)
            except error as e:
                modeladmin.message_user(request, f"{obj}: {e}", messages.ERROR)
            else:
                modeladmin.message_user(
                    request, f"Rejected {obj}; the {recipient} is told why."
                )
        return None
    return TemplateResponse(
        request,
        "admin/review_reject.html",
        {
            **modeladmin.admin_site.each_context(request),
            "objects": list(queryset),
            "noun": noun,
            "action": action,
            "recipient": recipient,
        },
    )
