"""The listing form's after-sale settings (DESIGN "After the sale"): how long buyers
can report a problem, backorders, and how long codes last, posted through the
seller's own pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from codes.models import Code
from listings.models import Listing, ListingRevision
from sales.models import Claim, Order

pytestmark = pytest.mark.django_db

FORM = {
    "title": "Game key",
    "description": "Steam key for Example Game.",
    "price": "12.50",
    "currency": "USD",
    "instructions": "Redeem at https://store.example.com/redeem",
    "category": "licence_keys",
    "max_per_order": "5",
}
GENERATE = {
    "source": "generate",
    "count": "3",
    "length": "16",
    "group": "4",
    "alphabet": "crockford",
}
AFTER_SALE = {
    "claim_window_days": "30",
    "allow_backorders": "on",
    "validity_days": "365",
}


def _create(client, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            reverse("codes:unique-codes-create"), {**FORM, **GENERATE, **data}
        )


def _edit(client, listing, data):
    """Post the edit form as the seller would: what buyers read unchanged."""
    current = {
        "title": listing.title,
        "description": listing.description,
        "price": str(listing.price),
        "currency": listing.currency,
        "instructions": listing.instructions,
        "category": listing.category,
        "max_per_order": str(listing.max_per_order),
    }
    return client.post(
        reverse("listings:listing-edit", args=[listing.pk]), {**current, **data}
    )


def test_a_new_listing_saves_its_after_sale_settings(
    seller_client, seller, django_capture_on_commit_callbacks
):
    response = _create(seller_client, AFTER_SALE, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    listing = Listing.objects.get(seller=seller)
    assert (
        listing.claim_window_days,
        listing.allow_backorders,
        listing.validity_days,
    ) == (30, True, 365)
    # the edit form shows them back
    form = seller_client.get(reverse("listings:listing-edit", args=[listing.pk]))
    assert form.context["form"]["claim_window_days"].value() == 30
    assert form.context["form"]["allow_backorders"].value() is True
    assert form.context["form"]["validity_days"].value() == 365


def test_a_new_listing_left_blank_gets_the_defaults(
    seller_client, seller, django_capture_on_commit_callbacks
):
    blank = {"claim_window_days": "", "validity_days": ""}  # the box unticked
    response = _create(seller_client, blank, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    listing = Listing.objects.get(seller=seller)
    assert (
        listing.claim_window_days,
        listing.allow_backorders,
        listing.validity_days,
    ) == (14, False, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("claim_window_days", "366"),
        ("claim_window_days", "-1"),
        ("claim_window_days", "two weeks"),
        ("validity_days", "0"),
        ("validity_days", "3651"),
        ("validity_days", "-5"),
    ],
)
def test_a_new_listing_with_an_impossible_value_gets_a_field_error(
    seller_client, seller, django_capture_on_commit_callbacks, field, value
):
    response = _create(
        seller_client, {**AFTER_SALE, field: value}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    assert list(response.context["listing_form"].errors) == [field]
    assert not Listing.objects.filter(seller=seller).exists()


def test_a_claim_window_of_zero_days_gets_a_field_error(
    seller_client, seller, django_capture_on_commit_callbacks
):
    response = _create(
        seller_client,
        {**AFTER_SALE, "claim_window_days": "0"},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    assert list(response.context["listing_form"].errors) == ["claim_window_days"]


def test_editing_a_listing_in_review_saves_the_settings_at_once(
    seller_client, seller, listing_factory
):
    listing = listing_factory(seller)
    response = _edit(seller_client, listing, AFTER_SALE)
    assert response.status_code == 302
    listing.refresh_from_db()
    assert (
        listing.claim_window_days,
        listing.allow_backorders,
        listing.validity_days,
    ) == (30, True, 365)
    # unticking backorders and emptying the validity turn them off again
    _edit(seller_client, listing, {"claim_window_days": "7"})
    listing.refresh_from_db()
    assert (
        listing.claim_window_days,
        listing.allow_backorders,
        listing.validity_days,
    ) == (7, False, None)
    # an empty window keeps the one the listing has
    _edit(seller_client, listing, {"claim_window_days": ""})
    listing.refresh_from_db()
    assert listing.claim_window_days == 7


def test_on_a_listing_on_sale_the_window_and_backorders_apply_at_once_and_validity_waits_for_review(
    seller_client, seller, active_listing
):
    listing = active_listing(codes=2, seller=seller)
    response = _edit(seller_client, listing, AFTER_SALE)
    assert response.status_code == 302
    listing.refresh_from_db()
    assert (listing.claim_window_days, listing.allow_backorders) == (30, True)
    # buyers read how long codes last: staff review it first
    assert listing.validity_days is None
    revision = ListingRevision.objects.get(listing=listing, status="pending")
    assert revision.changes == {"validity_days": 365}
    assert listing.status == Listing.Status.ACTIVE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("claim_window_days", "400"),
        ("claim_window_days", "-3"),
        ("validity_days", "0"),
        ("validity_days", "forever"),
    ],
)
def test_editing_with_an_impossible_value_gets_a_field_error_and_changes_nothing(
    seller_client, seller, active_listing, field, value
):
    listing = active_listing(codes=1, seller=seller)
    response = _edit(seller_client, listing, {**AFTER_SALE, field: value})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    listing.refresh_from_db()
    assert (
        listing.claim_window_days,
        listing.allow_backorders,
        listing.validity_days,
    ) == (14, False, None)
    assert not ListingRevision.objects.filter(listing=listing).exists()


def test_a_longer_claim_window_lets_buyers_report_a_problem_later(
    client, seller, active_listing, buy, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=2, seller=seller)
    order = buy(listing)
    code = Code.objects.get(order_id=order.pk)
    twenty_days_ago = timezone.now() - timedelta(days=20)
    Order.objects.filter(pk=order.pk).update(fulfilled_at=twenty_days_ago)
    Code.objects.filter(pk=code.pk).update(sold_at=twenty_days_ago)
    report = reverse("sales:claim-report", args=[order.token, code.pk])
    assert report not in client.get(order.get_absolute_url()).content.decode()
    client.force_login(seller)
    _edit(client, listing, {"claim_window_days": "30"})
    client.logout()
    assert report in client.get(order.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(report, {"reason": "used", "message": "Already used, it says."})
    assert Claim.objects.get().code_id == code.pk
