"""Admin building blocks shared by every app's admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator[Any]):
    """Counts at most COUNT_CAP + 1 rows: `COUNT(*)` over ten million codes or a
    million orders took seconds on every changelist view. Past the cap the
    changelist says "10,000+" (templates/admin/pagination.html) and its pages stop
    there; staff narrow the list with its filters and search instead."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):
            # Unordered: any COUNT_CAP + 1 rows will do, so the scan stops there.
            return rows.order_by()[: self.COUNT_CAP + 1].count()
        return len(rows)


class LargeTableAdmin(admin.ModelAdmin[Any]):
    """A changelist over a table that grows without bound: capped counts, and no
    second count of the whole table for "N total"."""

    paginator = CappedCountPaginator
    show_full_result_count = False

    def indexed_search(self, term: str) -> Q | None:
        """The changelist's search as a filter an index answers; None falls back to
        Django's search_fields (whose "=id" compares UPPER(id::text) and scans the
        whole table: 3.3 s over ten million codes)."""
        return None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip().lstrip("#")
        if term:
            indexed = self.indexed_search(term)
            if indexed is not None:
                return queryset.filter(indexed), False
        return super().get_search_results(request, queryset, search_term)


class ReadOnlyAdmin(LargeTableAdmin):
    """Staff look, services write: no adding, editing or deleting from admin. The
    tables behind these (codes, batches, orders, payments, events) grow without
    bound, so their changelists count with a cap."""

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


def number(term: str) -> int | None:
    """A search term that is an id (digits only, within a bigint), else None."""
    return int(term) if term.isascii() and term.isdigit() and len(term) <= 18 else None
