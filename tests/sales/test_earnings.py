"""Earnings with the `dev` provider: payout onboarding (simulated), a listing on sale
only once its seller can be paid, the platform fee, the ledger, Sales and Payouts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from distribly.accounts.models import PayoutAccount
from sales.models import LedgerEntry, Order
from sales.services.earnings import platform_fee

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("amount", "currency", "percent", "fixed", "fee"),
    [
        ("19.00", "USD", "5", {}, "0.95"),
        ("0.10", "USD", "5", {}, "0.01"),  # 0.005 rounds half up
        ("9.99", "USD", "2.9", {"USD": "0.30"}, "0.59"),  # 0.28971 + 0.30
        ("1250", "JPY", "5", {"JPY": "30"}, "93"),  # 62.5 + 30, whole yen
        ("0.20", "EUR", "5", {"EUR": "0.25"}, "0.20"),  # never more than the order
    ],
)
def test_platform_fee_arithmetic(settings, amount, currency, percent, fixed, fee):
    settings.PLATFORM_FEE_PERCENT = Decimal(percent)
    settings.PLATFORM_FEE_FIXED = {k: Decimal(v) for k, v in fixed.items()}
    assert platform_fee(Decimal(amount), currency) == Decimal(fee)


def test_a_seller_without_payouts_cannot_sell_and_is_told_why(
    client, settings, active_listing
):
    settings.SELLERS_NEED_PAYOUTS = True
    listing = active_listing(codes=2)
    assert (
        client.get(reverse("listings:listing-detail", args=[listing.pk])).status_code
        == 404
    )
    assert listing.title not in client.get("/").content.decode()
    response = client.post(
        f"/items/{listing.pk}/buy/",
        {"quantity": 1, "email": "b@example.com"},
        follow=True,
    )
    assert "not on sale" in response.content.decode()
    assert not Order.objects.exists()
    client.force_login(listing.seller)
    page = client.get(reverse("listings:listing-list")).content.decode()
    assert "not on sale until payouts are set up" in page
    assert reverse("sales:payouts") in page


def test_simulated_onboarding_puts_listings_on_sale(client, settings, active_listing):
    settings.SELLERS_NEED_PAYOUTS = True
    listing = active_listing(codes=2)
    client.force_login(listing.seller)
    first = client.post(reverse("sales:payouts-setup"))
    account = PayoutAccount.objects.get(user=listing.seller)
    assert first["Location"].startswith(
        reverse("sales:dev-onboard", args=[account.account_id])
    )
    # a fresh link per click, one account
    client.post(reverse("sales:payouts-setup"))
    assert PayoutAccount.objects.count() == 1
    page = client.get(first["Location"])
    assert "Test onboarding: no real account is opened." in page.content.decode()
    done = client.post(first["Location"], {"decision": "complete"})
    assert done["Location"].endswith(reverse("sales:payouts-return"))
    back = client.get(done["Location"], follow=True).content.decode()
    assert "Payouts are set up" in back
    client.logout()
    assert (
        client.get(reverse("listings:listing-detail", args=[listing.pk])).status_code
        == 200
    )
    assert listing.title in client.get("/").content.decode()


def test_another_sellers_onboarding_page_is_not_reachable(
    client, settings, seller, user_factory
):
    client.force_login(seller)
    client.post(reverse("sales:payouts-setup"))
    account = PayoutAccount.objects.get(user=seller)
    client.force_login(user_factory())
    url = reverse("sales:dev-onboard", args=[account.account_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "complete"}).status_code == 404
    account.refresh_from_db()
    assert not account.payouts_enabled


def test_fee_and_net_on_sales_csv_and_payouts(
    client, settings, active_listing, buy, django_capture_on_commit_callbacks
):
    settings.PLATFORM_FEE_PERCENT = Decimal("10")
    listing = active_listing(codes=4, price="19.00")
    order = buy(listing, quantity=2)
    [sale] = LedgerEntry.objects.filter(order=order)
    assert (sale.kind, sale.gross, sale.platform_fee, sale.seller_net) == (
        "sale",
        Decimal("38.00"),
        Decimal("3.80"),
        Decimal("34.20"),
    )
    client.force_login(listing.seller)
    code = order_code_ids(order)[0]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("sales:sales-refund", args=[order.reference]), {"code": code}
        )
    refund = LedgerEntry.objects.get(order=order, kind="refund")
    # the fee comes back in proportion (REFUND_PLATFORM_FEE): 19.00 of 38.00
    assert (refund.gross, refund.platform_fee, refund.seller_net) == (
        Decimal("-19.00"),
        Decimal("-1.90"),
        Decimal("-17.10"),
    )
    sales = client.get(reverse("sales:sales-list"))
    [row] = sales.context["rows"]
    assert (row.fee, row.net) == (Decimal("1.90"), Decimal("17.10"))
    export = client.get(reverse("sales:sales-export"))
    rows = list(
        csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    )
    assert (rows[0]["platform fee"], rows[0]["net to you"]) == ("1.90", "17.10")

    client.post(reverse("sales:payouts-setup"))
    account = PayoutAccount.objects.get(user=listing.seller)
    client.post(
        reverse("sales:dev-onboard", args=[account.account_id]),
        {"decision": "complete"},
    )
    page = client.get(reverse("sales:payouts"))
    assert page.context["balance"].pending == {"USD": Decimal("17.10")}
    html = page.content.decode()
    assert "Taken back from your earnings" in html
    assert "-17.10 USD" in html


def order_code_ids(order):
    return list(
        order.listing.codes.filter(order_id=order.pk)
        .order_by("id")
        .values_list("id", flat=True)
    )


def test_a_simulated_payout_pays_out_the_available_balance(client, active_listing, buy):
    listing = active_listing(codes=3, price="10.00")
    buy(listing, quantity=2)
    client.force_login(listing.seller)
    client.post(reverse("sales:payouts-setup"))
    account = PayoutAccount.objects.get(user=listing.seller)
    onboard = reverse("sales:dev-onboard", args=[account.account_id])
    client.post(onboard, {"decision": "complete"})
    LedgerEntry.objects.update(created_at=timezone.now() - timedelta(days=8))
    assert client.get(reverse("sales:payouts")).context["balance"].available == {
        "USD": Decimal("19.00")
    }
    client.post(onboard, {"decision": "payout"})
    page = client.get(reverse("sales:payouts"))
    assert page.context["balance"].available == {"USD": Decimal("0.00")}
    [payout] = page.context["payouts"]
    assert (payout.amount, payout.status) == (Decimal("19.00"), "paid")
    client.post(onboard, {"decision": "payout"})  # nothing left: no empty payout
    assert len(client.get(reverse("sales:payouts")).context["payouts"]) == 1


def test_refunds_one_unit_at_a_time_give_back_exactly_the_fee(
    client, active_listing, buy, django_capture_on_commit_callbacks
):
    # 5 % of 30.30 is 1.515 → 1.52; a third of it each time would give back 1.53
    listing = active_listing(codes=3, price="10.10")
    order = buy(listing, quantity=3)
    client.force_login(listing.seller)
    for code_id in order_code_ids(order):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                reverse("sales:sales-refund", args=[order.reference]), {"code": code_id}
            )
    rows = LedgerEntry.objects.filter(order=order)
    assert [r.platform_fee for r in rows.filter(kind="refund").order_by("pk")] == [
        Decimal("-0.51"),
        Decimal("-0.50"),
        Decimal("-0.51"),
    ]
    assert sum(r.platform_fee for r in rows) == 0
    assert sum(r.seller_net for r in rows) == 0
