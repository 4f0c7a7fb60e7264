"""Temporary URLconf for tests/sales/test_overview.py: the project's URLs, with the
Earnings overview added to the `sales` namespace as the lead will wire it in
sales/urls.py. Delete this file (and the tests' `urls` marker) once it is wired."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from distribly.urls import urlpatterns as project_patterns
from sales import overview_views
from sales.urls import urlpatterns as sales_patterns

sales_with_overview: list[URLPattern | URLResolver] = [
    *sales_patterns,
    path("sell/earnings/", overview_views.earnings_overview, name="earnings"),
]

# The project's order kept: the `sales` include swapped for one with the new path.
urlpatterns = [
    path("", include((sales_with_overview, "sales")))
    if getattr(p, "namespace", None) == "sales"
    else p
    for p in project_patterns
]
