"""After the sale, in real headless Chromium with a real Celery worker and SMTP sink:
buy → report a problem → the seller replaces the code → the buyer sees the new one;
buy → report → no answer → refunded automatically (the deadline moved, not slept)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from codes.models import Code
from distribly.tasks import enqueue
from sales.models import Claim, Order
from tests.e2e.helpers import link_in, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-and-lovely-passphrase"


def buy_and_report(browser, live_server, listing, email):
    """A guest buys one code with the test provider and reports it. Returns (page, order)."""
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/items/{listing.pk}/")
    page.get_by_label("Email for your code").fill(email)
    page.get_by_role("button", name="Buy now").click()
    page.get_by_role("button", name="Pay").click()
    page.get_by_text("Your code").first.wait_for()
    order = Order.objects.get(email=email)
    page.get_by_role("link", name="Report a problem").click()
    page.get_by_label("The code is not accepted").check()
    page.get_by_label("What happened?").fill("The store says: invalid code.")
    page.get_by_role("button", name="Send to the seller").click()
    page.get_by_text("the seller has been told").wait_for()
    return page, order


def test_buyer_reports_seller_replaces_buyer_sees_new_code(
    live_server, worker, smtp, browser, shot, settings, user_factory, active_listing
):
    settings.SITE_URL = live_server.url
    seller = user_factory("keys@example.com", password=PASSWORD, display_name="Keys")
    listing = active_listing(codes=2, seller=seller, title="Arcade pass")
    buyer, order = buy_and_report(browser, live_server, listing, "gamer@example.com")
    [old] = Code.objects.filter(order_id=order.pk)
    shot(buyer, "claims-01-reported")

    # The seller gets the email, follows it, sees the evidence and replaces the code.
    [notice] = smtp.wait_for("keys@example.com", "reported a problem")
    seller_page = browser.new_context().new_page()
    seller_page.goto(link_in(smtp.text(notice), "/sell/earnings/problems/"))
    seller_page.get_by_label("Email:", exact=True).fill(seller.email)
    seller_page.get_by_label("Password:", exact=True).fill(PASSWORD)
    seller_page.get_by_role("button", name="Log in").click()
    seller_page.get_by_text("What we know about the code").wait_for()
    assert "The store says: invalid code." in seller_page.content()
    shot(seller_page, "claims-02-seller-evidence")
    seller_page.get_by_role("button", name="Replace the code").click()
    seller_page.get_by_text("the buyer has been emailed the new code").wait_for()

    # The buyer is emailed the new code and sees it on the order page; the old is gone.
    claim = Claim.objects.get()
    new = Code.objects.get(pk=claim.replacement_id)
    [mail] = smtp.wait_for("gamer@example.com", "replacement code")
    assert new.reveal() in smtp.text(mail)
    buyer.reload()
    assert new.reveal() in buyer.content()
    assert old.reveal() not in buyer.content()
    shot(buyer, "claims-03-replaced")


def test_an_unanswered_report_is_refunded_automatically(
    live_server, worker, smtp, browser, settings, user_factory, active_listing
):
    settings.SITE_URL = live_server.url
    seller = user_factory("quiet@example.com", password=PASSWORD, display_name="Quiet")
    listing = active_listing(codes=2, seller=seller, title="Museum ticket")
    buyer, order = buy_and_report(browser, live_server, listing, "visitor@example.com")
    # The seller never answers: move the deadline into the past, then let beat's
    # sweep run on the worker.
    Claim.objects.update(respond_by=timezone.now() - timedelta(minutes=1))
    enqueue("sales.tasks.claims_unanswered_sweep")
    wait_until(
        lambda: Claim.objects.get().status == "refunded", what="automatic refund"
    )
    order.refresh_from_db()
    assert order.status == "refunded"
    [mail] = smtp.wait_for("visitor@example.com", "Refund")
    assert "did not answer in time" in smtp.text(mail)
    [notice] = smtp.wait_for("quiet@example.com", "Cancelled codes")
    assert "no answer in time" in smtp.text(notice)
    buyer.reload()
    assert "Cancelled (refunded)" in buyer.content()
