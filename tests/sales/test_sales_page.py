"""Sales, as a seller uses it: one row per order with its codes in a disclosure, Show
code in place (fragment) or by page, and refunds and cancellations that ask first."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from codes.models import Code, CodeReveal
from sales.models import Order, Refund

pytestmark = pytest.mark.django_db

FRAGMENT = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


def _codes(order):
    return list(Code.objects.filter(order_id=order.pk).order_by("id"))


def _sales_rows(html: str) -> list[str]:
    """The orders table's body rows (the second table: the first holds the totals)."""
    body = html.split("<tbody>")[2].split("</tbody>")[0]
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


def test_an_order_of_several_codes_is_one_row_with_its_codes_in_a_disclosure(
    client, active_listing, buy
):
    listing = active_listing(codes=6)
    order = buy(listing, quantity=5)
    client.force_login(listing.seller)
    html = client.get(reverse("sales:sales-list")).content.decode()
    [row] = _sales_rows(html)
    assert f"#{order.reference}" in row
    assert "<details" in row
    assert "5 codes" in row
    assert row.count(">Show code<") == 5
    assert row.count(">Cancel this code<") == 5
    for position in range(1, 6):
        assert f"Show code {position} of order #{order.reference}" in row
    for code in _codes(order):
        assert code.reveal() not in html


def test_sales_reads_the_page_in_the_same_number_of_queries_for_more_orders(
    client, active_listing, buy
):
    listing = active_listing(codes=12)
    buy(listing, quantity=2)
    client.force_login(listing.seller)
    url = reverse("sales:sales-list")
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    client.logout()
    for _ in range(4):
        buy(listing, quantity=2)
    client.force_login(listing.seller)
    with CaptureQueriesContext(connection) as five:
        response = client.get(url)
    assert len(response.context["rows"]) == 5
    assert len(five) == len(one)


def test_show_code_fragment_reveals_in_place_and_is_audited(client, sold):
    listing, order = sold
    client.force_login(listing.seller)
    first, second = _codes(order)
    response = client.post(
        reverse("sales:sales-show-code", args=[second.pk]), **FRAGMENT
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert f'<code class="code" id="sale-code-{second.pk}" tabindex="-1">' in html
    assert second.reveal() in html
    assert first.reveal() not in html
    # The Copy button names the code by position and order, never by its value.
    copy = re.search(r"<button[^>]*data-copy-target[^>]*>", html).group(0)
    assert f'data-copy-target="#sale-code-{second.pk}"' in copy
    assert f"Copy code 2 of order #{order.reference}" in copy
    assert second.reveal() not in copy
    assert response["Cache-Control"] == "no-store"
    assert "X-Requested-With" in response["Vary"]
    reveal = CodeReveal.objects.get()
    assert (reveal.user, reveal.code, reveal.kind) == (
        listing.seller,
        second,
        "show_code",
    )


def test_show_code_fragment_is_refused_to_another_seller(client, sold, user_factory):
    _, order = sold
    code = _codes(order)[0]
    client.force_login(user_factory())
    response = client.post(reverse("sales:sales-show-code", args=[code.pk]), **FRAGMENT)
    assert response.status_code == 404
    assert code.reveal() not in response.content.decode()
    assert not CodeReveal.objects.exists()


def test_show_code_of_a_reserved_code_is_refused(client, active_listing, buy):
    listing = active_listing(codes=3)
    order = buy(listing, pay=False)
    [code] = _codes(order)
    assert code.status == Code.Status.RESERVED
    client.force_login(listing.seller)
    response = client.post(reverse("sales:sales-show-code", args=[code.pk]), **FRAGMENT)
    assert response.status_code == 404
    assert not CodeReveal.objects.exists()


def test_show_code_without_javascript_returns_the_page_with_the_order_open(
    client, active_listing, buy
):
    listing = active_listing(codes=4)
    other = active_listing(codes=2, seller=listing.seller)
    buy(listing)
    order = buy(other, quantity=2)
    client.force_login(listing.seller)
    code = _codes(order)[1]
    response = client.post(
        reverse("sales:sales-show-code", args=[code.pk]) + f"?listing={other.pk}"
    )
    html = response.content.decode()
    assert [r.order.pk for r in response.context["rows"]] == [order.pk]
    [row] = _sales_rows(html)
    assert '<details class="sale-codes" open>' in row
    assert code.reveal() in row
    assert f"Copy code 2 of order #{order.reference}" in row
    assert CodeReveal.objects.get().code == code


def test_show_code_without_javascript_keeps_the_page(
    client, active_listing, buy, settings
):
    settings.CHECKOUT_STARTS_PER_MINUTE = 100
    listing = active_listing(codes=27)
    first = buy(listing)
    for _ in range(25):
        buy(listing)
    client.force_login(listing.seller)
    code = _codes(first)[0]  # the oldest order: on page 2
    older = client.get(reverse("sales:sales-list")).context["page"].older
    assert older
    response = client.post(
        reverse("sales:sales-show-code", args=[code.pk]) + f"?older={older}"
    )
    assert [r.order.pk for r in response.context["rows"]] == [first.pk]
    assert code.reveal() in response.content.decode()


def test_sales_js_is_loaded_on_sales_only(client, sold):
    listing, _ = sold
    client.force_login(listing.seller)
    assert "js/sales.js" in client.get(reverse("sales:sales-list")).content.decode()
    assert "js/sales.js" not in client.get(reverse("sales:purchases")).content.decode()


def test_refund_order_asks_first_and_get_changes_nothing(client, sold):
    listing, order = sold
    client.force_login(listing.seller)
    sales = client.get(reverse("sales:sales-list")).content.decode()
    confirm_url = reverse("sales:sales-refund", args=[order.reference])
    assert f'href="{confirm_url}"' in sales
    response = client.get(confirm_url, {"listing": listing.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Refund order #{order.reference} (19.98 USD) to =cmd@example.com?" in html
    assert "This cancels its 2 codes" in html
    assert f'action="{confirm_url}?listing={listing.pk}"' in html
    assert f'href="{reverse("sales:sales-list")}?listing={listing.pk}"' in html
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert not Refund.objects.exists()
    assert {c.status for c in _codes(order)} == {Code.Status.SOLD}


def test_refund_order_post_from_the_confirm_page_refunds_and_keeps_the_filters(
    client, sold, django_capture_on_commit_callbacks
):
    listing, order = sold
    client.force_login(listing.seller)
    url = reverse("sales:sales-refund", args=[order.reference])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{url}?listing={listing.pk}")
    assert response["Location"] == f"{reverse('sales:sales-list')}?listing={listing.pk}"
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert {c.status for c in _codes(order)} == {Code.Status.CANCELLED}


def test_refund_one_code_asks_first_then_refunds_only_that_code(
    client, sold, django_capture_on_commit_callbacks
):
    listing, order = sold
    client.force_login(listing.seller)
    first, second = _codes(order)
    url = reverse("sales:sales-refund", args=[order.reference])
    html = client.get(url, {"code": second.pk}).content.decode()
    assert f"Refund code 2 of order #{order.reference} to =cmd@example.com?" in html
    assert f'<input type="hidden" name="code" value="{second.pk}">' in html
    assert second.reveal() not in html
    assert not Refund.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"code": second.pk})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Code.Status.SOLD, Code.Status.CANCELLED)


def test_refund_confirm_is_404_for_another_seller_or_another_orders_code(
    client, sold, active_listing, buy, user_factory
):
    listing, order = sold
    elsewhere = buy(active_listing(codes=2, seller=listing.seller))
    url = reverse("sales:sales-refund", args=[order.reference])
    client.force_login(listing.seller)
    assert client.get(url, {"code": _codes(elsewhere)[0].pk}).status_code == 404
    assert client.get(url, {"code": "x1"}).status_code == 404
    client.force_login(user_factory())
    assert client.get(url).status_code == 404


def test_refund_confirm_of_a_refunded_order_offers_nothing(
    client, sold, django_capture_on_commit_callbacks
):
    listing, order = sold
    client.force_login(listing.seller)
    url = reverse("sales:sales-refund", args=[order.reference])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    html = client.get(url).content.decode()
    assert "nothing left to refund" in html
    assert 'method="post"' not in html.split("<main", 1)[1]


def test_cancel_this_code_asks_first_with_the_code_masked(client, sold):
    listing, order = sold
    client.force_login(listing.seller)
    code = _codes(order)[0]
    url = reverse("sales:code-cancel", args=[code.pk])
    sales = client.get(reverse("sales:sales-list")).content.decode()
    assert f'href="{url}"' in sales
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        f"Cancel code 1 of order #{order.reference}, sold to =cmd@example.com?" in html
    )
    assert code.reveal() not in html
    assert '<input type="hidden" name="from" value="sales">' in html
    code.refresh_from_db()
    assert code.status == Code.Status.SOLD
    assert not CodeReveal.objects.exists()


def test_cancel_this_code_from_sales_without_refund_needs_a_reason(client, sold):
    listing, order = sold
    client.force_login(listing.seller)
    code = _codes(order)[0]
    url = reverse("sales:code-cancel", args=[code.pk])
    response = client.post(url, {"from": "sales", "refund": "no", "reason": ""})
    assert response.status_code == 400
    assert "Tell the buyer why" in response.content.decode()
    code.refresh_from_db()
    assert code.status == Code.Status.SOLD


def test_cancel_this_code_from_sales_goes_back_to_sales(
    client, sold, django_capture_on_commit_callbacks
):
    listing, order = sold
    client.force_login(listing.seller)
    code = _codes(order)[0]
    url = reverse("sales:code-cancel", args=[code.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{url}?listing={listing.pk}",
            {"from": "sales", "refund": "no", "reason": "Sold twice by mistake"},
        )
    assert response["Location"] == f"{reverse('sales:sales-list')}?listing={listing.pk}"
    code.refresh_from_db()
    assert code.status == Code.Status.CANCELLED
    assert not Refund.objects.exists()


def test_cancel_this_code_confirm_is_404_for_another_seller(client, sold, user_factory):
    _, order = sold
    code = _codes(order)[0]
    client.force_login(user_factory())
    assert client.get(reverse("sales:code-cancel", args=[code.pk])).status_code == 404


def test_every_cell_of_the_sales_tables_is_labelled_for_phones(client, sold):
    listing, _ = sold
    client.force_login(listing.seller)
    html = client.get(reverse("sales:sales-list")).content.decode()
    assert html.count('<table class="stack">') == 2
    cells = re.findall(r"<td\b[^>]*>", html)
    assert cells
    assert all("data-label=" in cell for cell in cells)


def test_sales_pages_older_and_newer_by_cursor_and_a_bad_cursor_is_page_one(
    client, active_listing, buy, settings
):
    settings.CHECKOUT_STARTS_PER_MINUTE = 100
    listing = active_listing(codes=27)
    orders = [buy(listing, email=f"p{n}@example.com") for n in range(27)]
    client.force_login(listing.seller)
    url = reverse("sales:sales-list")
    first = client.get(url).context["page"]
    newest_first = [o.pk for o in reversed(orders)]
    assert [o.pk for o in first.object_list] == newest_first[:25]
    assert first.newer is None
    second = client.get(url, {"older": first.older}).context["page"]
    assert [o.pk for o in second.object_list] == newest_first[25:]
    assert second.older is None
    back = client.get(url, {"newer": second.newer}).context["page"]
    assert [o.pk for o in back.object_list] == newest_first[:25]
    assert back.newer is None
    for bad in ("x", "1_", "99999999999999999_1", "-5_3"):
        page = client.get(url, {"older": bad}).context["page"]
        assert [o.pk for o in page.object_list] == newest_first[:25], bad
