"""A seller's pages: list unique codes (upload or generate), the import report and
downloads, form errors, the product page, and managing listings and batches."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codes.models import CodeBatch, CodeReveal
from listings.models import Listing
from sales.payments.stripe import to_minor
from tests.helpers import codes_of

pytestmark = pytest.mark.django_db

FORM = {
    "title": "Game key",
    "description": "Steam key for Example Game.\nSee https://example.com/game",
    "price": "12.50",
    "currency": "USD",
    "instructions": "Redeem at https://store.example.com/redeem or email help@example.com",
    "category": "licence_keys",
    "restrictions": "Only redeemable at our Leeds branch",
    "max_per_order": "5",
    "low_stock_threshold": "10",
}


def test_seller_lists_unique_codes_with_an_uploaded_csv(
    seller_client, seller, django_capture_on_commit_callbacks
):
    csv = SimpleUploadedFile(
        "codes.csv", b"code\nKEY-AAAA-1111\nKEY-BBBB-2222\n<b>bad</b>\nKEY-AAAA-1111\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.post(
            reverse("codes:unique-codes-create"),
            {**FORM, "source": "upload", "file": csv, "has_header": "on"},
        )
    listing = Listing.objects.get(seller=seller)
    batch = listing.batches.get()
    assert response.status_code == 302
    assert response["Location"] == batch.get_absolute_url()
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert listing.restrictions == "Only redeemable at our Leeds branch"
    assert batch.status == CodeBatch.Status.IMPORTED
    assert codes_of(batch) == ["KEY-AAAA-1111", "KEY-BBBB-2222"]

    report = seller_client.get(batch.get_absolute_url()).content.decode()
    assert "Codes accepted" in report
    assert "Contains HTML, which can&#x27;t be used in codes" in report
    assert "Duplicate of line 2 in this file" in report

    download = seller_client.get(
        reverse("codes:batch-issues-download", args=[batch.pk])
    )
    body = b"".join(download.streaming_content).decode()
    assert body.splitlines() == [
        "line,reason,text",
        '4,"Contains HTML, which can\'t be used in codes",<b>bad</b>',
        "5,Duplicate of line 2 in this file,KEY-AAAA-1111",
    ]


def test_seller_lists_unique_codes_with_generated_codes_and_downloads_them(
    seller_client, seller, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(
            reverse("codes:unique-codes-create"),
            {
                **FORM,
                "source": "generate",
                "count": "20",
                "length": "25",
                "group": "5",
                "alphabet": "crockford",
            },
        )
    batch = CodeBatch.objects.get(seller=seller)
    assert batch.accepted == 20
    response = seller_client.get(reverse("codes:batch-codes-download", args=[batch.pk]))
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0] == "line,code,status"
    values = [r.split(",")[1] for r in rows[1:]]
    assert len(set(values)) == 20
    assert all(len(v) == 29 and v.count("-") == 4 for v in values)
    assert batch.analysis == []  # random codes raise no guessability warning
    assert (
        CodeReveal.objects.filter(
            user=seller, batch=batch, kind="batch_download"
        ).count()
        == 1
    )
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "field", ["instructions", "description", "restrictions", "title"]
)
def test_html_in_seller_text_is_refused_with_a_clear_message(seller_client, field):
    csv = SimpleUploadedFile("codes.csv", b"KEY-1234-ABCD\n")
    response = seller_client.post(
        reverse("codes:unique-codes-create"),
        {**FORM, field: 'Click <a href="x">here</a>', "source": "upload", "file": csv},
    )
    assert response.status_code == 200
    assert "can&#x27;t contain HTML" in response.content.decode()
    assert not Listing.objects.exists()


def test_form_errors_name_the_field(seller_client):
    response = seller_client.post(
        reverse("codes:unique-codes-create"),
        {**FORM, "price": "", "instructions": "", "source": "upload"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("This field is required.") == 2
    assert "Choose the .csv file that holds your codes." in html


def test_upload_must_be_a_csv_and_within_the_size_limit(seller_client, settings):
    settings.CODES_UPLOAD_MAX_BYTES = 100
    bad_type = SimpleUploadedFile("codes.xlsx", b"PK\x03\x04")
    html = seller_client.post(
        reverse("codes:unique-codes-create"),
        {**FORM, "source": "upload", "file": bad_type},
    ).content.decode()
    assert "Upload a .csv file" in html
    too_big = SimpleUploadedFile("codes.csv", b"X" * 101)
    html = seller_client.post(
        reverse("codes:unique-codes-create"),
        {**FORM, "source": "upload", "file": too_big},
    ).content.decode()
    assert "The file is larger than 100\xa0bytes" in html  # stopped while streaming
    assert not Listing.objects.exists()


def test_jpy_listings_take_whole_amounts_and_reach_stripe_unscaled(client, seller):
    client.force_login(seller)
    form = {
        "title": "Yen voucher", "price": "1500.50", "currency": "JPY", "instructions": "Use it", "category": "gift_vouchers",
        "max_per_order": "1", "source": "upload", "file": SimpleUploadedFile("c.csv", b"YEN-CODE-0001\n"),
    }  # fmt: skip
    html = client.post(reverse("codes:unique-codes-create"), form).content.decode()
    assert "JPY has no minor unit: use a whole amount." in html
    assert to_minor(Decimal("1500"), "JPY") == 1500


def test_generator_refuses_guessable_options(seller_client):
    html = seller_client.post(
        reverse("codes:unique-codes-create"),
        {
            **FORM,
            "source": "generate",
            "count": "1000",
            "length": "6",
            "group": "0",
            "alphabet": "digits",
        },
    ).content.decode()
    assert "Use longer codes" in html
    assert not Listing.objects.exists()


def test_items_im_selling_shows_available_quantity_in_one_query(
    seller_client,
    seller,
    listing_factory,
    upload,
    approve,
    django_assert_max_num_queries,
):
    for i in range(3):
        listing = listing_factory(
            seller=seller, low_stock_threshold=5 if i == 0 else None
        )
        batch = upload(
            listing, "\n".join(f"LISTING{i}-CODE-{n:04}-XYZW" for n in range(i + 2))
        )
        approve(listing=listing, batch=batch)
    with django_assert_max_num_queries(
        6
    ):  # session, user, email check, listings page, count
        response = seller_client.get(reverse("listings:listing-list"))
    html = response.content.decode()
    assert "Available quantity" in html
    rows = response.context["page"].object_list
    assert sorted(r.available for r in rows) == [2, 3, 4]
    assert "below 5" in html


def test_product_page_escapes_text_and_links_urls(
    client, listing_factory, upload, approve
):
    listing = listing_factory(
        description="Great <script>alert(1)</script> product: https://example.com/x?a=1&b=2",
        restrictions="Only at our Leeds branch",
    )
    # HTML can't be saved through the form; the page must still escape whatever is stored.
    approve(listing=listing, batch=upload(listing, "PAGE-CODE-000000001\n"))
    html = client.get(listing.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert (
        'href="https://example.com/x?a=1&amp;b=2" rel="nofollow noopener" target="_blank"'
        in html
    )
    assert "Only at our Leeds branch" in html
    assert "In stock" in html
    assert "Buy now" in html
    assert "/buy/" in html


def test_product_page_says_only_n_left_under_the_threshold(
    client, listing_factory, upload, approve
):
    listing = listing_factory(low_stock_threshold=5)
    approve(
        listing=listing,
        batch=upload(listing, "\n".join(f"FEW-LEFT-CODE-{n:04}X" for n in range(3))),
    )
    assert "Only 3 left" in client.get(listing.get_absolute_url()).content.decode()


def test_pending_listing_is_hidden_from_the_public_but_previewable_by_its_seller(
    client, seller_client, seller, listing_factory
):
    listing = listing_factory(seller=seller)
    assert (
        client.get(listing.get_absolute_url()).status_code == 200
    )  # seller_client shares `client`
    client.logout()
    assert client.get(listing.get_absolute_url()).status_code == 404


def test_home_lists_active_listings_only(client, listing_factory, upload, approve):
    active = listing_factory(title="Visible key")
    approve(listing=active, batch=upload(active, "HOME-CODE-1234567\n"))
    listing_factory(title="Hidden pending key")
    html = client.get("/").content.decode()
    assert "Visible key" in html
    assert "Hidden pending key" not in html


def test_home_has_an_empty_state(client, db):
    assert "Nothing on sale yet" in client.get("/").content.decode()


def test_pause_resume_and_archive(
    seller_client, seller, listing_factory, upload, approve
):
    listing = listing_factory(seller=seller)
    approve(listing=listing, batch=upload(listing, "PAUSE-CODE-12345\n"))
    seller_client.post(reverse("listings:listing-pause", args=[listing.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PAUSED
    seller_client.post(reverse("listings:listing-resume", args=[listing.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE
    seller_client.post(reverse("listings:listing-archive", args=[listing.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ARCHIVED
    response = seller_client.post(
        reverse("listings:listing-resume", args=[listing.pk]), follow=True
    )
    assert "Only a paused listing can be resumed." in response.content.decode()


def test_editing_a_rejected_listing_sends_it_back_to_review(
    seller_client, seller, listing_factory
):
    listing = listing_factory(
        seller=seller, status=Listing.Status.REJECTED, review_note="Add instructions"
    )
    response = seller_client.post(
        reverse("listings:listing-edit", args=[listing.pk]), FORM
    )
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert listing.title == "Game key"


def test_add_codes_and_withdraw_unsold_codes_of_a_batch(
    seller_client,
    seller,
    listing_factory,
    upload,
    approve,
    django_capture_on_commit_callbacks,
):
    listing = listing_factory(seller=seller)
    approve(listing=listing, batch=upload(listing, "FIRST-BATCH-CODE-1\n"))
    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(
            reverse("codes:batch-add", args=[listing.pk]),
            {
                "source": "upload",
                "file": SimpleUploadedFile(
                    "more.csv", b"SECOND-BATCH-CODE-2\nSECOND-BATCH-CODE-3\n"
                ),
            },
        )
    second = listing.batches.order_by("-pk").first()
    assert second.accepted == 2
    approve(batch=second)
    response = seller_client.post(
        reverse("codes:batch-withdraw", args=[second.pk]), follow=True
    )
    assert "Withdrew 2 unsold codes" in response.content.decode()
    first = listing.batches.order_by("pk").first()
    seller_client.post(reverse("codes:batch-withdraw", args=[first.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD_OUT


def test_batch_progress_reports_json(seller_client, seller, listing_factory, upload):
    batch = upload(listing_factory(seller=seller), "PROGRESS-CODE-1\n")
    data = seller_client.get(reverse("codes:batch-progress", args=[batch.pk])).json()
    assert data["finished"] is True
    assert data["accepted"] == 1
