from __future__ import annotations

import pytest

from tests.conftest import codes_of, issues_of

pytestmark = pytest.mark.django_db


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
    from codes.services.batches import batch_withdraw_unsold

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
