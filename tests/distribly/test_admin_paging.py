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


def test_code_search_is_by_number_on_an_index(staff_client, active_listing, upload):
    listing = active_listing(codes=2)
    batch = upload(listing, "SEARCH-CODE-0001\nSEARCH-CODE-0002\nSEARCH-CODE-0003\n")
    url = reverse("admin:codes_code_changelist")
    with CaptureQueriesContext(connection) as queries:
        by_batch = staff_client.get(url, {"q": str(batch.pk)})
    found = list(by_batch.context["cl"].result_list)
    # The batch's three codes, and the code whose own number it is, if any.
    assert sum(c.batch_id == batch.pk for c in found) == 3
    assert all(c.batch_id == batch.pk or c.pk == batch.pk for c in found)
    assert not any("UPPER(" in q["sql"] for q in queries.captured_queries)
    code = batch.codes.first()
    by_id = staff_client.get(url, {"q": f"#{code.pk}"})
    assert code in by_id.context["cl"].result_list
    assert staff_client.get(url, {"q": "licence"}).context["cl"].result_count == 0


def test_order_search_by_number_reference_email_and_title(staff_client, sold_code):
    listing, order, _, _ = sold_code(email="findme@example.com")
    url = reverse("admin:sales_order_changelist")
    for term in (
        str(order.pk),
        order.reference.lower(),
        "FindMe@example.com",
        listing.seller.email,
        listing.title.split()[0].lower(),
    ):
        found = staff_client.get(url, {"q": term}).context["cl"].result_list
        assert list(found) == [order], term
    assert (
        not staff_client.get(url, {"q": "nobody@example.com"}).context["cl"].result_list
    )


@pytest.mark.parametrize("term", ["²", "١٢", "12" * 20, "  "])
def test_search_terms_that_only_look_like_numbers_answer(staff_client, term):
    for name in ("codes_code", "sales_order"):
        url = reverse(f"admin:{name}_changelist")
        assert staff_client.get(url, {"q": term}).status_code == 200
