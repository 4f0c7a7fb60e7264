"""The import engine, through the real pipeline (upload → task → merge): each line
accepted or reported with its line number, limits, and duplicates (within a file,
across a seller's batches and listings)."""

from __future__ import annotations

import pytest

from codes.models import CodeBatch
from codes.services.batches import batch_withdraw_unsold
from tests.helpers import codes_of, issues_of

pytestmark = pytest.mark.django_db


def test_each_line_is_accepted_or_reported_with_its_line_number(
    listing_factory, upload
):
    listing = listing_factory()
    content = "\n".join(
        [
            "code",  # 1 header
            "GOOD-0001-AAAA",  # 2
            "",  # 3 blank
            "   ",  # 4 blank (whitespace only)
            "  TRIM-ME-PLEASE  ",  # 5
            "<b>bold</b>",  # 6 HTML
            "x" * 255,  # 7 exactly the limit
            "y" * 256,  # 8 too long
            "TAB\tINSIDE",  # 9 control character
            '"QUOTED-CODE"',  # 10 single CSV-quoted field
            "Visit https://example.com/redeem?code=ZX81 to redeem",  # 11 text and URL allowed
            "a<b but not html",  # 12 a lone < is fine
            "GOOD-0001-AAAA",  # 13 duplicate of line 2
        ]
    )
    batch = upload(listing, content, has_header=True)
    assert batch.status == CodeBatch.Status.IMPORTED
    assert batch.skipped_blank == 2
    assert issues_of(batch) == [
        (6, "rejected", "Contains HTML, which can't be used in codes"),
        (8, "rejected", "Too long: 256 characters; the limit is 255"),
        (9, "rejected", "Contains a control character (U+0009 TAB) at column 4"),
        (13, "duplicate", "Duplicate of line 2 in this file"),
    ]
    assert codes_of(batch) == [
        "GOOD-0001-AAAA",
        "TRIM-ME-PLEASE",
        "x" * 255,
        "QUOTED-CODE",
        "Visit https://example.com/redeem?code=ZX81 to redeem",
        "a<b but not html",
    ]
    assert (batch.accepted, batch.rejected, batch.duplicates) == (6, 3, 1)
    assert batch.lines_processed == 13


def test_without_header_the_first_line_is_a_code(listing_factory, upload):
    batch = upload(listing_factory(), "FIRST-LINE-CODE\nSECOND-LINE-CODE\n")
    assert codes_of(batch) == ["FIRST-LINE-CODE", "SECOND-LINE-CODE"]


def test_too_many_lines_fails_the_batch_and_keeps_nothing(
    listing_factory, upload, settings
):
    settings.CODES_UPLOAD_MAX_LINES = 5
    batch = upload(
        listing_factory(), "\n".join(f"CODE-NUMBER-{i:04}" for i in range(6))
    )
    assert batch.status == CodeBatch.Status.FAILED
    assert "more than 5 lines" in batch.failure_reason
    assert batch.codes.count() == 0


def test_duplicate_within_a_file_names_the_first_line(listing_factory, upload):
    batch = upload(
        listing_factory(), "AAA-111-XYZ\nBBB-222-XYZ\nAAA-111-XYZ\nAAA-111-XYZ\n"
    )
    assert codes_of(batch) == ["AAA-111-XYZ", "BBB-222-XYZ"]
    assert issues_of(batch) == [
        (3, "duplicate", "Duplicate of line 1 in this file"),
        (4, "duplicate", "Duplicate of line 1 in this file"),
    ]


def test_duplicates_across_batches_of_one_listing(listing_factory, upload):
    listing = listing_factory()
    first = upload(listing, "AAA-111-XYZ\nBBB-222-XYZ\n")
    second = upload(listing, "CCC-333-XYZ\nBBB-222-XYZ\n")
    assert codes_of(second) == ["CCC-333-XYZ"]
    assert issues_of(second) == [
        (
            2,
            "duplicate",
            f'Duplicate of a code you already have (batch #{first.pk} of "{listing.title}")',
        )
    ]


def test_duplicates_across_listings_of_the_same_seller_any_status(
    listing_factory, upload, seller
):
    one = listing_factory(seller=seller)
    two = listing_factory(seller=seller)
    first = upload(one, "SHARED-CODE-123\n")
    batch_withdraw_unsold(batch=first)  # withdrawn codes still count
    second = upload(two, "SHARED-CODE-123\nNEW-CODE-456\n")
    assert codes_of(second) == ["NEW-CODE-456"]
    assert issues_of(second)[0][:2] == (1, "duplicate")
    assert one.title in issues_of(second)[0][2]


def test_the_same_code_is_fine_for_two_different_sellers(listing_factory, upload):
    a = upload(listing_factory(), "SAME-CODE-EVERYWHERE\n")
    b = upload(listing_factory(), "SAME-CODE-EVERYWHERE\n")
    assert codes_of(a) == codes_of(b) == ["SAME-CODE-EVERYWHERE"]
    assert issues_of(b) == []


def test_normalised_forms_are_duplicates(listing_factory, upload):
    batch = upload(
        listing_factory(), 'CAFÉ-CODE-1\n"CAFE\u0301-CODE-1"\n  CAFÉ-CODE-1 \n'
    )
    assert codes_of(batch) == ["CAFÉ-CODE-1"]
    assert [i[0] for i in issues_of(batch)] == [2, 3]
