"""Sales (under Earnings): who bought what, Show code, refunds, export; and ownership."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from codes.models import Code, CodeReveal
from sales.models import Order

pytestmark = pytest.mark.django_db


def test_sales_lists_orders_with_show_code_and_records_the_reveal(client, sold):
    listing, order = sold
    client.force_login(listing.seller)
    page = client.get(reverse("sales:sales-list")).content.decode()
    assert "Show code" in page
    assert "=cmd@example.com" in page
    codes = list(Code.objects.filter(order_id=order.pk).order_by("id"))
    for code in codes:
        assert code.reveal() not in page
    response = client.post(reverse("sales:sales-show-code", args=[codes[0].pk]))
    html = response.content.decode()
    assert codes[0].reveal() in html
    assert codes[1].reveal() not in html
    assert response["Cache-Control"] == "no-store"
    reveal = CodeReveal.objects.get()
    assert (reveal.user, reveal.code, reveal.kind) == (
        listing.seller,
        codes[0],
        "show_code",
    )


def test_sales_totals_per_currency_and_filters(client, active_listing, buy):
    usd = active_listing(codes=3, price="10.00", currency="USD")
    eur = active_listing(codes=3, price="5.00", currency="EUR", seller=usd.seller)
    buy(usd, quantity=2)
    buy(eur, quantity=1)
    client.force_login(usd.seller)
    response = client.get(reverse("sales:sales-list"))
    totals = {
        t["currency"]: (t["gross"], t["fee"], t["net"])
        for t in response.context["totals"]
    }
    # the platform fee: 5 % (PLATFORM_FEE_PERCENT), net is what reaches the seller
    assert totals == {
        "EUR": (Decimal("5"), Decimal("0.25"), Decimal("4.75")),
        "USD": (Decimal("20"), Decimal("1.00"), Decimal("19.00")),
    }
    assert {(r.fee, r.net) for r in response.context["rows"]} == {
        (Decimal("1.00"), Decimal("19.00")),
        (Decimal("0.25"), Decimal("4.75")),
    }
    filtered = client.get(reverse("sales:sales-list"), {"listing": eur.pk})
    assert [row.order.listing_id for row in filtered.context["rows"]] == [eur.pk]
    # Filtered, the ledger follows the orders shown; unfiltered it is read by seller.
    assert [
        (t["currency"], t["gross"], t["fee"], t["net"])
        for t in filtered.context["totals"]
    ] == [("EUR", Decimal("5"), Decimal("0.25"), Decimal("4.75"))]


def test_sales_export_neutralises_formula_cells(client, sold):
    listing, order = sold
    client.force_login(listing.seller)
    response = client.get(reverse("sales:sales-export"))
    body = b"".join(response.streaming_content).decode()
    assert "'=cmd@example.com" in body
    assert "'=HYPERLINK(evil)" in body
    for code in Code.objects.filter(order_id=order.pk):
        assert code.reveal() not in body


def test_another_seller_gets_404_on_every_sales_url(client, user_factory, sold):
    _, order = sold
    code = Code.objects.filter(order_id=order.pk).first()
    client.force_login(user_factory())
    assert (
        client.post(reverse("sales:sales-show-code", args=[code.pk])).status_code == 404
    )
    assert (
        client.post(reverse("sales:sales-refund", args=[order.reference])).status_code
        == 404
    )
    page = client.get(reverse("sales:sales-list")).content.decode()
    assert "=cmd@example.com" not in page
    assert not CodeReveal.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_another_buyer_does_not_see_my_purchase(client, user_factory, sold):
    _, order = sold
    client.force_login(user_factory("other@example.com"))
    assert (
        order.get_absolute_url()
        not in client.get(reverse("sales:purchases")).content.decode()
    )


def test_refund_of_a_whole_order_with_the_dev_provider(
    client, sold, mailoutbox, django_capture_on_commit_callbacks
):
    listing, order = sold
    client.force_login(listing.seller)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("sales:sales-refund", args=[order.reference]), follow=True
        )
    assert "Refunded 19.98 USD" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert set(
        Code.objects.filter(order_id=order.pk).values_list("status", flat=True)
    ) == {"cancelled"}
    seller_mail = next(m for m in mailoutbox if m.to == [listing.seller.email])
    for code in Code.objects.filter(order_id=order.pk):
        assert code.reveal() in seller_mail.body
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Cancelled (refunded)" in page
