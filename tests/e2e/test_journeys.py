"""The product as people use it: seller, staff and buyer in real headless Chromium,
with a live server on PostgreSQL, a real Celery worker on Redis and a real SMTP sink.
Screenshots of key pages go to artifacts/e2e/ (git-ignored)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from codes.models import Code, CodeBatch
from listings.models import Listing
from sales.models import Order
from tests.e2e.helpers import link_in, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SELLER = "maker@example.com"
PASSWORD = "a-long-and-lovely-passphrase"
CSV = "code\nE2E-AAAA-1111-ZZZZ\nE2E-BBBB-2222-YYYY\n<b>not a code</b>\nE2E-CCCC-3333-XXXX\n\nE2E-AAAA-1111-ZZZZ\n"


def api(key: str, path: str, body: dict) -> tuple[int, dict]:
    response = Client().post(
        f"/api/v1{path}",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    return response.status_code, response.json()


def admin_action(
    page, live_server, model: str, row_text: str, action_label: str
) -> None:
    page.goto(f"{live_server.url}/admin/{model}/")
    row = page.locator("#result_list tbody tr", has_text=row_text).first
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label=action_label)
    page.get_by_role("button", name="Go").click()


def test_seller_staff_and_buyers_journeys(
    live_server, worker, smtp, browser, shot, settings, user_factory, tmp_path
):
    settings.SITE_URL = live_server.url
    seller_ctx = browser.new_context()
    page = seller_ctx.new_page()

    # 1. A new seller signs up, confirms the email from the SMTP sink, lists unique codes.
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").click()
    # allauth's and admin's labels end with Django's ":" suffix
    page.get_by_label("Email:", exact=True).fill(SELLER)
    page.get_by_label("Your name or shop name").fill("Maker Tools")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    [confirmation] = smtp.wait_for(SELLER, "Confirm")
    page.goto(link_in(smtp.text(confirmation), "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()
    menu = page.get_by_role("navigation", name="Account")
    menu.get_by_text("My account").click()
    menu.get_by_role("link", name="Add an item to sell").click()
    page.get_by_role("link", name="Sell unique codes").click()
    page.get_by_label("Product title").fill("Maker Tools Pro licence")
    page.get_by_label("Category").select_option(label="Licence and serial keys")
    page.get_by_label("Platform").select_option(label="Windows")
    page.get_by_label("Description").fill(
        "Desktop app licence. Details: https://example.com/maker"
    )
    page.get_by_label("Price").fill("12.00")
    page.get_by_label("Instructions for the buyer").fill(
        "Activate at https://example.com/activate with your key."
    )
    page.get_by_label("Restrictions").fill("One computer per key")
    page.get_by_label("Maximum codes per order").fill("5")
    page.get_by_label("Low-stock alert below").fill("2")
    page.get_by_label("Upload a .csv file of my codes").check()
    csv_path = tmp_path / "codes.csv"
    csv_path.write_text(CSV)
    page.get_by_label("Codes file (.csv)").set_input_files(str(csv_path))
    page.get_by_label("The first line is a header, not a code").check()
    shot(page, "01-add-unique-codes")
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("Import report").wait_for(
        timeout=30_000
    )  # the page polls, then reloads
    report = page.content()
    assert "Contains HTML" in report
    assert "Duplicate of line 2 in this file" in report
    shot(page, "02-import-report")
    listing = Listing.objects.get(seller__email=SELLER)
    batch = listing.batches.get()
    assert (batch.accepted, batch.rejected, batch.duplicates, batch.skipped_blank) == (
        3,
        1,
        1,
        1,
    )

    # 2. Staff approve the listing and its batch in Django admin; the seller is told.
    user_factory(
        "staff@example.com", password=PASSWORD, is_staff=True, is_superuser=True
    )
    staff = browser.new_context().new_page()
    # Staff sign in through the site's own (rate-limited) login, then land in the admin.
    staff.goto(live_server.url + "/admin/")
    staff.get_by_label("Email:", exact=True).fill("staff@example.com")
    staff.get_by_label("Password:", exact=True).fill(PASSWORD)
    staff.get_by_role("button", name="Log in").click()
    staff.wait_for_url(live_server.url + "/admin/")
    admin_action(
        staff,
        live_server,
        "listings/listing",
        "Maker Tools Pro licence",
        "Approve selected listings",
    )
    admin_action(
        staff,
        live_server,
        "codes/codebatch",
        "Maker Tools Pro licence",
        "Approve selected batches (put their codes on sale)",
    )
    shot(staff, "03-admin-batches")
    smtp.wait_for(SELLER, "is approved")
    smtp.wait_for(SELLER, "are approved")
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE

    # 3. A guest buys two codes with the dev provider and gets them, by page and by email.
    guest = browser.new_context().new_page()
    guest.goto(f"{live_server.url}/items/{listing.pk}/")
    shot(guest, "04-product-page")
    guest.get_by_label("Quantity").fill("2")
    guest.get_by_label("Email for your code").fill("guest@example.com")
    guest.get_by_role("button", name="Buy now").click()
    assert "Test payment: no money moves" in guest.content()
    guest.get_by_role("button", name=re.compile("^Pay")).click()
    guest.get_by_text("Your codes").wait_for()
    shot(guest, "05-order-page")
    order = Order.objects.get(email="guest@example.com")
    values = [c.reveal() for c in Code.objects.filter(order_id=order.pk).order_by("id")]
    assert len(values) == 2
    assert all(v in guest.content() for v in values)
    [delivery] = smtp.wait_for("guest@example.com", "Maker Tools Pro licence")
    text, html = smtp.text(delivery), smtp.html(delivery)
    assert all(v in text for v in values)
    assert "Activate at https://example.com/activate with your key." in text
    assert (
        '<a href="https://example.com/activate" rel="nofollow noopener" target="_blank">'
        in html
    )
    guest.goto(link_in(text, "/orders/"))
    assert all(v in guest.content() for v in values)

    # 4. The seller sees the sale, shows a code, validates and redeems it; the API agrees.
    page.goto(live_server.url + "/sell/sales/")
    row = page.locator("tbody tr", has_text=order.reference)
    row.locator("summary").click()  # one row per order, its codes in a disclosure
    row.get_by_role("button", name="Show code 1 of order").click()
    # sales.js shows it in place, focused, with a Copy button named for the code.
    first = Code.objects.filter(order_id=order.pk).order_by("id").first()
    shown = row.locator(f"#sale-code-{first.pk}")
    shown.wait_for()
    assert shown.inner_text() == values[0]
    assert page.evaluate("document.activeElement.id") == shown.get_attribute("id")
    row.get_by_role(
        "button", name=f"Copy code 1 of order #{order.reference}"
    ).wait_for()
    shot(page, "06-sales-show-code")
    menu.get_by_text("My account").click()
    menu.get_by_role("link", name="Validate a code").click()
    page.get_by_label("Code", exact=True).fill(values[0])
    page.get_by_role("button", name="Check code").click()
    assert "guest@example.com" in page.content()
    page.get_by_label("Account or reference (optional)").fill("walk-in customer")
    page.get_by_role("button", name="Mark as redeemed").click()
    shot(page, "07-validated")
    page.goto(live_server.url + "/sell/api-keys/")
    page.get_by_label("Name").fill("Shop site")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text()
    assert api(key, "/codes/verify", {"code": values[0]})[1]["status"] == "redeemed"

    # 5. The seller refunds the other unit: the buyer is told, the seller gets the code back.
    page.goto(live_server.url + "/sell/sales/")
    row = page.locator("tbody tr", has_text=order.reference)
    row.locator("summary").click()
    row.get_by_role("link", name="Refund this code").nth(1).click()
    assert f"Refund code 2 of order #{order.reference}" in page.content()
    page.get_by_role("button", name="Refund this code").click()
    smtp.wait_for("guest@example.com", "Refund for your order")
    [cancelled] = smtp.wait_for(SELLER, "Cancelled code")
    assert values[1] in smtp.text(cancelled)
    assert api(key, "/codes/verify", {"code": values[1]})[1]["status"] == "cancelled"
    shot(page, "08-after-refund")

    # 6. Buying the last code sells the listing out (one email); new codes bring it back.
    other = browser.new_context().new_page()
    other.goto(f"{live_server.url}/items/{listing.pk}/")
    other.get_by_label("Email for your code").fill("last@example.com")
    other.get_by_role("button", name="Buy now").click()
    other.get_by_role("button", name=re.compile("^Pay")).click()
    other.get_by_text("Your code").wait_for()
    smtp.wait_for(SELLER, "sold out")
    wait_until(
        lambda: Listing.objects.get(pk=listing.pk).status == Listing.Status.SOLD_OUT,
        what="sold out",
    )
    other.goto(f"{live_server.url}/items/{listing.pk}/")
    assert "sold out" in other.content().lower()
    assert "Buy now" not in other.content()
    shot(other, "09-sold-out")
    page.goto(f"{live_server.url}/sell/items/{listing.pk}/batches/add/")
    page.get_by_label("Generate random codes for me").check()
    page.get_by_label("How many codes").fill("10")
    page.get_by_role("button", name="Add codes").click()
    page.get_by_text("Import report").wait_for(timeout=30_000)
    admin_action(
        staff,
        live_server,
        "codes/codebatch",
        "Imported, awaiting review",
        "Approve selected batches (put their codes on sale)",
    )
    wait_until(
        lambda: Listing.objects.get(pk=listing.pk).status == Listing.Status.ACTIVE,
        what="back on sale",
    )
    other.goto(f"{live_server.url}/items/{listing.pk}/")
    assert "Buy now" in other.content()
    assert len(smtp.wait_for(SELLER, "sold out")) == 1
    assert CodeBatch.objects.filter(listing=listing, status="approved").count() == 2
    shot(other, "10-back-on-sale")
