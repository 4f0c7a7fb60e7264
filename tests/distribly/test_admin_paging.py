"""Changelists over tables that grow without bound count with a cap (issue 15):
no COUNT(*) over every code or order on each view, and the list says so."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from distribly.admin import CappedCountPaginator

pytestmark = pytest.mark.django_db


@pytest.fixture
def cap(monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 3)


def test_a_list_past_the_cap_says_cap_plus_and_never_counts_the_table(
    cap, staff_client, active_listing
):
    active_listing(codes=5)
    with CaptureQueriesContext(connection) as queries:
        html = staff_client.get(reverse("admin:codes_code_changelist")).content.decode()
    assert "3+ codes" in html
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert counts
    assert all("LIMIT 4" in sql for sql in counts), counts


def test_a_list_under_the_cap_gives_its_count(cap, staff_client, active_listing):
    active_listing(codes=2)
    html = staff_client.get(
        reverse("admin:codes_code_changelist") + "?status__exact=available"
    ).content.decode()
    assert "2 codes" in html
    assert "+ codes" not in html
    sold = staff_client.get(
        reverse("admin:codes_code_changelist") + "?status__exact=sold"
    ).content.decode()
    assert "0 codes" in sold


def test_orders_list_and_filters_answer(staff_client, sold_code):
    sold_code()
    for query in ("", "?status__exact=fulfilled", "?created_at__gte=2026-01-01"):
        response = staff_client.get(reverse("admin:sales_order_changelist") + query)
        assert response.status_code == 200
