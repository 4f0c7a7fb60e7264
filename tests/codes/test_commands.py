"""The codes app's management commands (import, generate), and seed_demo: the demo
marketplace built with the codes, listings and sales services (the command lives in
sales, which may import them all)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from codes.models import Code, CodeBatch
from distribly.accounts.models import User
from listings.images import CARD_SIZE, SHARE_SIZE
from listings.models import Listing, WaitlistEntry
from sales.management.commands.seed_demo import ITEMS, MAIN_TITLE, SOLD_OUT_TITLE
from sales.models import Delivery, LedgerEntry, Order, Payment
from sales.overview import net_per_day

pytestmark = pytest.mark.django_db


def test_import_codes_json_report(listing_factory, tmp_path, capsys):
    listing = listing_factory()
    path = tmp_path / "codes.csv"
    path.write_bytes(
        b"code\nCMD-CODE-000001\n\nCMD-CODE-000001\n<p>html</p>\nCMD-CODE-000002\n"
    )
    call_command("import_codes", str(listing.pk), str(path), "--header", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["accepted"] == 2
    assert data["duplicates"] == [
        {"line": 4, "reason": "Duplicate of line 2 in this file"}
    ]
    assert data["rejected"] == [
        {"line": 5, "reason": "Contains HTML, which can't be used in codes"}
    ]
    assert data["skipped_blank"] == 1
    assert isinstance(data["batch"], int)
    assert isinstance(data["warnings"], list)
    assert path.exists()  # the seller's own file is never deleted


def test_import_codes_unreadable_file_exits_with_one_clear_message(
    listing_factory, tmp_path
):
    listing = listing_factory()
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_codes", str(listing.pk), str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="No listing with id"):
        call_command("import_codes", "999999", str(tmp_path))


def test_generate_codes_command(listing_factory, capsys):
    listing = listing_factory()
    call_command(
        "generate_codes",
        str(listing.pk),
        "15",
        "--length",
        "20",
        "--groups",
        "4",
        "--alphabet",
        "alnum",
    )
    assert "generated 15 code(s)" in capsys.readouterr().out
    values = [c.reveal() for c in Code.objects.filter(listing=listing)]
    assert len(values) == 15
    assert all(len(v) == 24 for v in values)


@pytest.fixture
def demo(settings: Any, tmp_path: Any, capsys: Any) -> Any:
    """Run seed_demo --json (DEBUG on, covers stored under a temporary MEDIA_ROOT);
    returns its parsed output."""
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path / "media"

    def run(*args: str) -> dict[str, Any]:
        call_command("seed_demo", "--json", *args)
        return dict(json.loads(capsys.readouterr().out))

    return run


def _for_sale(listing: Listing) -> int:
    return Code.objects.for_sale().filter(listing=listing).count()


def _everything() -> dict[str, Any]:
    """What seed_demo writes, as comparable values (timestamps included)."""
    return {
        "users": sorted(
            User.objects.values_list(
                "email", "password", "display_name", "bio", "is_staff"
            )
        ),
        "listings": sorted(
            Listing.objects.values_list(
                "pk", "status", "cover_card", "cover_share", "updated_at"
            )
        ),
        "codes": sorted(
            Code.objects.values_list("pk", "status", "approved", "order_id")
        ),
        "batches": CodeBatch.objects.count(),
        "orders": sorted(
            Order.objects.values_list("pk", "status", "created_at", "paid_at")
        ),
        "payments": Payment.objects.count(),
        "ledger": sorted(LedgerEntry.objects.values_list("pk", "created_at")),
        "waitlist": sorted(
            WaitlistEntry.objects.values_list("pk", "email", "confirmed_at")
        ),
    }


def test_seed_demo_is_idempotent_with_exact_stock(demo):
    first = demo("--codes", "7")
    second = demo("--codes", "4")
    assert first == second
    listing = Listing.objects.get(pk=first["listing"]["id"])
    assert listing.title == MAIN_TITLE
    assert listing.status == Listing.Status.ACTIVE
    assert (
        Code.objects.filter(listing=listing, status="available", approved=True).count()
        == 4
    )
    for item in ITEMS:
        if item.title != MAIN_TITLE:
            assert _for_sale(Listing.objects.get(title=item.title)) == item.stock
    assert set(first) == {"staff", "seller", "buyer", "listing"}
    assert authenticate(
        email=first["seller"]["email"], password=first["seller"]["password"]
    )
    staff = authenticate(
        email=first["staff"]["email"], password=first["staff"]["password"]
    )
    assert staff is not None
    assert staff.is_staff


def test_seed_demo_twice_creates_and_changes_nothing(demo):
    first = demo()
    before = _everything()
    second = demo()
    assert _everything() == before
    assert first == second
    # The --json shape: the same keys and types as ever (values may change).
    assert {key: sorted(value) for key, value in first.items()} == {
        "staff": ["email", "password"],
        "seller": ["email", "password"],
        "buyer": ["email", "password"],
        "listing": ["id", "url"],
    }
    assert isinstance(first["listing"]["id"], int)
    assert first["listing"]["url"].endswith(f"/items/{first['listing']['id']}/")
    assert all(
        isinstance(first[role][key], str)
        for role in ("staff", "seller", "buyer")
        for key in ("email", "password")
    )


def test_seed_demo_emails_share_one_domain(demo):
    data = demo()
    emails = set(User.objects.values_list("email", flat=True))
    assert emails == {
        "admin@distribly.test",
        "seller.alex@distribly.test",
        "seller.maria@distribly.test",
        "seller.sam@distribly.test",
        "seller.priya@distribly.test",
        "buyer.jamie@distribly.test",
        "buyer.noor@distribly.test",
        "buyer.lee@distribly.test",
    }
    assert data["staff"]["email"] == "admin@distribly.test"
    assert data["seller"]["email"] == "seller.alex@distribly.test"
    assert data["buyer"]["email"] == "buyer.jamie@distribly.test"


def test_seed_demo_builds_storefronts_and_a_listing_in_every_category(demo):
    demo()
    sellers = User.objects.filter(email__startswith="seller.")
    assert sellers.count() == 4
    assert all(seller.display_name and seller.bio for seller in sellers)
    listings = Listing.objects.filter(status__in=Listing.APPROVED_STATUSES)
    assert listings.count() == len(ITEMS)
    assert set(listings.values_list("category", flat=True)) == set(
        Listing.Category.values
    )
    assert all(listing.is_public for listing in listings)
    assert Listing.objects.get(title__startswith="Bookshop").region == ["GB"]
    assert not listings.filter(platform="").exists()


def test_seed_demo_covers_are_stored_like_uploads(demo):
    demo()
    for listing in Listing.objects.all():
        for name, size in (
            (listing.cover_card.name, CARD_SIZE),
            (listing.cover_share.name, SHARE_SIZE),
        ):
            assert name.startswith("covers/")
            assert default_storage.exists(name)
            with default_storage.open(name) as stored, Image.open(stored) as image:
                assert (image.format, image.size) == ("JPEG", size)
                assert not image.getexif()  # re-encoded: pixels only


def test_seed_demo_sold_out_listing_has_a_waitlist(demo, client):
    demo()
    listing = Listing.objects.get(title=SOLD_OUT_TITLE)
    assert listing.status == Listing.Status.SOLD_OUT
    assert _for_sale(listing) == 0
    assert Code.objects.filter(listing=listing, status="sold").count() > 0
    entries = WaitlistEntry.objects.filter(listing=listing)
    assert entries.count() == 2
    assert all(entry.confirmed_at and entry.user_id for entry in entries)
    page = client.get(listing.get_absolute_url())
    assert "Notify me when it's back" in page.content.decode()


def test_seed_demo_sales_history_spreads_over_the_last_month(
    demo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        demo()
    orders = Order.objects.all()
    assert orders.count() == sum(item.orders for item in ITEMS)
    # The --json listing is left without sales: scripts and deploy tests count them.
    assert not orders.filter(listing__title=MAIN_TITLE).exists()
    assert set(orders.values_list("status", flat=True)) == {Order.Status.FULFILLED}
    assert Delivery.objects.filter(order__in=orders).count() == orders.count()
    now = timezone.now()
    days = {order.created_at.date() for order in orders}
    assert len(days) >= 10
    for order in orders:
        assert now - timedelta(days=30) < order.created_at < now - timedelta(hours=1)
        assert order.created_at < order.paid_at == order.fulfilled_at
        ledger = LedgerEntry.objects.get(order=order)
        assert ledger.created_at == order.paid_at
    seller = User.objects.get(email="seller.maria@distribly.test")
    curve = net_per_day(seller_id=seller.pk, currency="EUR", days=30)
    assert sum(1 for day in curve if day.amount > 0) >= 5


def test_seed_demo_with_a_real_payment_provider_makes_no_sales(demo, settings):
    settings.PAYMENT_PROVIDER = "stripe"
    data = demo("--codes", "3")
    assert not Order.objects.exists()
    assert _for_sale(Listing.objects.get(pk=data["listing"]["id"])) == 3
    assert Listing.objects.get(title=SOLD_OUT_TITLE).status == Listing.Status.SOLD_OUT


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
