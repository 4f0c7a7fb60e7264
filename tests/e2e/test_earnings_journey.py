"""Earnings in Stripe mode, in real headless Chromium: the seller sets up payouts through
the fake Stripe's onboarding page, a buyer pays on its Checkout page, Sales shows the
fee and the net, the seller refunds a code, a dispute is lost and the last code is
cancelled. Every event reaches the live server signed, from the runnable fake."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from codes.models import Code
from sales.models import Dispute, LedgerEntry, Order
from tests.e2e.helpers import wait_until
from tests.fakes.stripe_server import FakeStripe

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-and-lovely-passphrase"
SECRET, CONNECT_SECRET = "whsec_e2e", "whsec_e2e_connect"


@pytest.fixture
def stripe_live(live_server, settings):
    with FakeStripe(
        webhook_url=f"{live_server.url}/stripe/webhook/",
        webhook_secret=SECRET,
        connect_webhook_url=f"{live_server.url}/stripe/connect/webhook/",
        connect_webhook_secret=CONNECT_SECRET,
    ) as fake:
        settings.PAYMENT_PROVIDER = "stripe"
        settings.STRIPE_SECRET_KEY = "sk_test_e2e"
        settings.STRIPE_WEBHOOK_SECRET = SECRET
        settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_SECRET
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        settings.SELLERS_NEED_PAYOUTS = True
        settings.PLATFORM_FEE_PERCENT = Decimal("10")
        settings.SITE_URL = live_server.url
        yield fake


def test_payouts_sale_fee_refund_and_lost_dispute(
    live_server, worker, smtp, browser, shot, stripe_live, user_factory, active_listing
):
    seller = user_factory("shop@example.com", password=PASSWORD, display_name="Shop")
    listing = active_listing(codes=3, price="12.00", seller=seller, title="Studio key")

    # 1. Not on sale until payouts are set up; the seller is told and follows the link.
    buyer = browser.new_context().new_page()
    assert buyer.goto(f"{live_server.url}/items/{listing.pk}/").status == 404
    page = browser.new_context().new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email:", exact=True).fill(seller.email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/sell/items/")
    assert "not on sale until payouts are set up" in page.content()
    page.get_by_role("link", name="Set up payouts").first.click()
    page.get_by_role("button", name="Set up payouts").click()
    assert "Fake Stripe" in page.content()
    shot(page, "earnings-01-onboarding")
    page.get_by_role("button", name="Complete onboarding").click()
    page.get_by_text("Payouts are set up").first.wait_for()
    shot(page, "earnings-02-payouts")

    # 2. A buyer pays on the (fake) Stripe Checkout page and gets the codes.
    buyer.goto(f"{live_server.url}/items/{listing.pk}/")
    buyer.get_by_label("Quantity").fill("2")
    buyer.get_by_label("Email for your code").fill("card@example.com")
    buyer.get_by_role("button", name="Buy now").click()
    buyer.get_by_role("button", name=re.compile("^Pay")).click()
    buyer.get_by_text("Your codes").wait_for(timeout=30_000)
    order = Order.objects.get(email="card@example.com")
    smtp.wait_for("card@example.com", "Studio key")

    # 3. Sales: fee and net per order; a refund of one code takes its share back.
    page.goto(live_server.url + "/sell/sales/")
    row = page.locator("tbody tr", has_text=order.reference)
    assert "2.40" in row.inner_text()
    assert "21.60" in row.inner_text()
    shot(page, "earnings-03-sales")
    row.locator("summary").click()  # the order's codes, in a disclosure
    row.get_by_role("link", name="Refund this code").first.click()
    page.get_by_role("button", name="Refund this code").click()  # the confirm page
    smtp.wait_for("card@example.com", "Refund")
    wait_until(
        lambda: LedgerEntry.objects.filter(order=order, kind="refund").exists(),
        what="the refund in the ledger",
    )
    page.goto(live_server.url + "/sell/sales/")
    row = page.locator("tbody tr", has_text=order.reference)
    assert "1.20" in row.inner_text()
    assert "10.80" in row.inner_text()

    # 4. The buyer's bank disputes the payment (fake dashboard); the seller gets the
    #    code; the dispute is lost and the last code is cancelled.
    dashboard = browser.new_context().new_page()
    dashboard.goto(stripe_live.url + "/")
    dashboard.get_by_role("button", name="Open dispute").first.click()
    wait_until(lambda: Dispute.objects.exists(), what="the dispute")
    [still_sold] = Code.objects.filter(order_id=order.pk, status="sold")
    [dispute_mail] = smtp.wait_for(seller.email, "disputed")
    assert still_sold.reveal() in smtp.text(dispute_mail)
    wait_until(
        lambda: stripe_live.disputes[Dispute.objects.get().provider_dispute_id][
            "evidence"
        ].get("customer_email_address"),
        what="evidence staged on the dispute",
    )
    dashboard.goto(stripe_live.url + "/")
    dashboard.get_by_role("button", name="Close: lost").click()
    wait_until(
        lambda: Code.objects.get(pk=still_sold.pk).status == "cancelled",
        what="the code cancelled by the lost dispute",
    )
    smtp.wait_for(seller.email, "Dispute lost")
    buyer.goto(f"{live_server.url}{order.get_absolute_url()}")
    assert still_sold.reveal() not in buyer.content()
    page.goto(live_server.url + "/sell/earnings/payouts/")
    assert "Dispute lost" in page.content()
    shot(page, "earnings-04-payouts-after-dispute")
