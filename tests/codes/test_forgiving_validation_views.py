"""Issue 13 through the pages and the API: Validate a code and POST
/api/v1/codes/verify accept a forgiving copy of a generated Crockford code, and a
case-insensitive listing (chosen on the Unique codes form) finds its codes in any
case, while other uploaded codes still match exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codes.models import Code
from listings.models import Listing
from tests.codes.generated import generate_code
from tests.helpers import codes_of, issues_of

pytestmark = pytest.mark.django_db

Factory = Callable[..., Any]
UNKNOWN = "We don&#x27;t know this code"
FORM = {
    "title": "Gift card",
    "price": "10.00",
    "currency": "USD",
    "instructions": "Redeem at the till.",
    "category": "product_vouchers",
    "max_per_order": "5",
}


@pytest.fixture
def sold_generated(
    listing_factory: Factory, approve: Factory, buy: Factory
) -> tuple[Any, Code, str]:
    """A listing and its generated Crockford code 01ABC-0DE1F, sold."""
    listing = listing_factory()
    code, value = generate_code(listing, "01ABC0DE1F")
    approve(listing=listing, batch=code.batch)
    buy(listing)
    code.refresh_from_db()
    assert code.status == Code.Status.SOLD
    return listing, code, value


def _verify(client: Any, key: str, value: str) -> Any:
    return client.post(
        "/api/v1/codes/verify",
        json.dumps({"code": value}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


@pytest.mark.parametrize("copy", ["01abc-0de1f", "oiabc-odelf", "OLABC 0DEIF"])
def test_validate_a_code_accepts_a_forgiving_copy_of_a_generated_code(
    client: Any, sold_generated: tuple[Any, Code, str], copy: str
) -> None:
    listing, code, _ = sold_generated
    client.force_login(listing.seller)
    html = client.post(reverse("codes:validate"), {"code": copy}).content.decode()
    assert "Valid" in html
    assert listing.title in html
    assert reverse("codes:validate-redeem", args=[code.pk]) in html


@pytest.mark.parametrize("copy", ["01abc-0de1f", "oiabc-odelf", "01abc0de1f"])
def test_the_api_verifies_a_forgiving_copy_of_a_generated_code(
    client: Any, sold_generated: tuple[Any, Code, str], api_key_for: Factory, copy: str
) -> None:
    listing, _, _ = sold_generated
    response = _verify(client, api_key_for(listing.seller), copy)
    assert response.status_code == 200
    body = response.json()
    assert (body["valid"], body["status"]) == (True, "sold")
    assert body["listing"] == {"id": listing.pk, "title": listing.title}


def test_an_uploaded_code_is_not_found_by_its_lowercase_copy(
    client: Any, listing_factory: Factory, upload: Factory, api_key_for: Factory
) -> None:
    listing = listing_factory()
    upload(listing, "GIFT-ABC-1\n")
    key = api_key_for(listing.seller)
    assert _verify(client, key, "GIFT-ABC-1").status_code == 200
    missed = _verify(client, key, "gift-abc-1")
    assert (missed.status_code, missed.json()) == (404, {"valid": False})
    client.force_login(listing.seller)
    html = client.post(reverse("codes:validate"), {"code": "gift-abc-1"})
    assert UNKNOWN in html.content.decode()


def test_a_case_insensitive_listings_code_is_found_in_any_case(
    client: Any, listing_factory: Factory, upload: Factory, api_key_for: Factory
) -> None:
    listing = listing_factory(codes_case_insensitive=True)
    upload(listing, "gift-abc-1\n")
    response = _verify(client, api_key_for(listing.seller), "GIFT-ABC-1")
    assert (response.status_code, response.json()["status"]) == (200, "available")
    client.force_login(listing.seller)
    html = client.post(reverse("codes:validate"), {"code": "Gift-Abc-1"})
    assert listing.title in html.content.decode()


def test_another_seller_gets_no_forgiving_match(
    client: Any,
    sold_generated: tuple[Any, Code, str],
    user_factory: Factory,
    api_key_for: Factory,
) -> None:
    other = user_factory()
    for copy in ("01ABC-0DE1F", "oiabc-odelf"):
        assert _verify(client, api_key_for(other), copy).status_code == 404
    client.force_login(other)
    html = client.post(reverse("codes:validate"), {"code": "oiabc-odelf"})
    assert UNKNOWN in html.content.decode()


def test_the_seller_chooses_case_insensitive_codes_when_creating_the_listing(
    seller_client: Any, seller: Any, django_capture_on_commit_callbacks: Any
) -> None:
    page = seller_client.get(reverse("codes:unique-codes-create")).content.decode()
    assert "Codes are case-insensitive" in page
    assert "can&#x27;t be changed later" in page
    csv = SimpleUploadedFile("codes.csv", b"abc-1\nABC-1\nxyz-2\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.post(
            reverse("codes:unique-codes-create"),
            {**FORM, "source": "upload", "file": csv, "codes_case_insensitive": "on"},
        )
    assert response.status_code == 302
    listing = Listing.objects.get(seller=seller)
    assert listing.codes_case_insensitive is True
    batch = listing.batches.get()
    assert codes_of(batch) == ["abc-1", "xyz-2"]
    assert issues_of(batch) == [(2, "duplicate", "Duplicate of line 1 in this file")]
    report = seller_client.get(batch.get_absolute_url()).content.decode()
    assert "ABC-1 and abc-1 are the same code" in report


def test_listings_are_case_sensitive_unless_ticked(
    seller_client: Any, seller: Any, django_capture_on_commit_callbacks: Any
) -> None:
    csv = SimpleUploadedFile("codes.csv", b"abc-1\nABC-1\n")
    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(
            reverse("codes:unique-codes-create"),
            {**FORM, "source": "upload", "file": csv},
        )
    listing = Listing.objects.get(seller=seller)
    assert listing.codes_case_insensitive is False
    assert codes_of(listing.batches.get()) == ["abc-1", "ABC-1"]


def test_batch_pages_show_the_setting_and_never_offer_to_change_it(
    seller_client: Any, seller: Any, listing_factory: Factory
) -> None:
    folding = listing_factory(seller=seller, codes_case_insensitive=True)
    exact = listing_factory(seller=seller)
    for url in (
        reverse("codes:batch-add", args=[folding.pk]),
        reverse("codes:listing-batches", args=[folding.pk]),
    ):
        html = seller_client.get(url).content.decode()
        assert "ABC-1 and abc-1 are the same code" in html
        assert "codes_case_insensitive" not in html
    html = seller_client.get(reverse("codes:batch-add", args=[exact.pk])).content
    assert "ABC-1 and abc-1 are different codes" in html.decode()
    # A posted value is ignored: the setting is chosen once, at creation.
    seller_client.post(
        reverse("codes:batch-add", args=[exact.pk]),
        {
            "source": "upload",
            "file": SimpleUploadedFile("c.csv", b"new-1\n"),
            "codes_case_insensitive": "on",
        },
    )
    exact.refresh_from_db()
    assert exact.codes_case_insensitive is False
