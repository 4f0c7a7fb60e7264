"""Codes another seller already holds (issue 12), as people see them: the seller gets
the count and a warning, never who; staff see the other listings in admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from codes.models import CodeBatch

pytestmark = pytest.mark.django_db

Factory = Callable[..., Any]


def _codes(first: int, last: int) -> str:
    return "\n".join(f"LEAKED-KEY-{n:05}" for n in range(first, last + 1))


@pytest.fixture
def overlap(
    seller: Any, user_factory: Factory, listing_factory: Factory, upload: Factory
) -> tuple[CodeBatch, CodeBatch]:
    """(the other seller's batch, the seller's batch with 3 of its 4 codes)."""
    other = user_factory("first-holder@example.com")
    theirs = upload(listing_factory(seller=other, title="Original Keys"), _codes(1, 5))
    mine = upload(listing_factory(seller=seller, title="Resold Keys"), _codes(3, 6))
    assert mine.foreign_duplicates == 3
    return theirs, mine


def test_the_seller_sees_how_many_but_never_whose(
    client: Any, seller: Any, overlap: tuple[CodeBatch, CodeBatch]
) -> None:
    theirs, mine = overlap
    client.force_login(seller)
    html = client.get(mine.get_absolute_url()).content.decode()
    assert "3 of these codes are already held by another seller on Distribly." in html
    assert "staff will look at this batch" in html
    assert "first-holder@example.com" not in html
    assert "Original Keys" not in html
    assert f"#{theirs.pk}<" not in html
    progress = client.get(reverse("codes:batch-progress", args=[mine.pk])).json()
    assert "first-holder@example.com" not in str(progress)


def test_the_first_holder_is_not_warned(
    client: Any, overlap: tuple[CodeBatch, CodeBatch]
) -> None:
    theirs, _ = overlap
    client.force_login(theirs.seller)
    html = client.get(theirs.get_absolute_url()).content.decode()
    assert "already held by another seller" not in html


def test_one_code_reads_in_the_singular(
    client: Any,
    seller: Any,
    user_factory: Factory,
    listing_factory: Factory,
    upload: Factory,
) -> None:
    upload(listing_factory(seller=user_factory()), _codes(1, 1))
    mine = upload(listing_factory(seller=seller), _codes(1, 2))
    client.force_login(seller)
    html = client.get(mine.get_absolute_url()).content.decode()
    assert "1 of these codes is already held by another seller" in html


def test_staff_see_the_other_listing_seller_and_codes_in_common(
    staff_client: Any, overlap: tuple[CodeBatch, CodeBatch]
) -> None:
    theirs, mine = overlap
    html = staff_client.get(
        reverse("admin:codes_codebatch_change", args=[mine.pk])
    ).content.decode()
    assert "Other sellers holding these codes" in html
    assert "Original Keys" in html
    assert reverse("admin:listings_listing_change", args=[theirs.listing_id]) in html
    assert reverse("admin:codes_codebatch_change", args=[theirs.pk]) in html
    assert "first-holder@example.com" in html
    assert "<td>3</td>" in html
    assert "LEAKED-KEY-0000" not in html  # digests matched, nothing decrypted


def test_staff_filter_batches_held_by_another_seller(
    staff_client: Any, overlap: tuple[CodeBatch, CodeBatch]
) -> None:
    theirs, mine = overlap
    url = reverse("admin:codes_codebatch_changelist")
    response = staff_client.get(url + "?foreign=yes")
    assert list(response.context["cl"].result_list) == [mine]
    response = staff_client.get(url + "?foreign=no")
    assert list(response.context["cl"].result_list) == [theirs]
    html = staff_client.get(url).content.decode()
    assert "Held by another seller" in html
