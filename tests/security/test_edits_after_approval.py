"""Changes to what buyers read wait for staff review once a listing is approved
(issue 11, "Edits after approval"). Before: title, description, price,
instructions and restrictions of an approved listing went live unreviewed, and
the instructions are mailed to every buyer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from listings.models import Listing, ListingRevision

pytestmark = pytest.mark.django_db


def _edit(client, listing, **changes):
    data = {
        "title": listing.title,
        "description": listing.description,
        "price": str(listing.price),
        "currency": listing.currency,
        "instructions": listing.instructions,
        "category": listing.category,
        "restrictions": listing.restrictions,
        "max_per_order": listing.max_per_order,
        "low_stock_threshold": listing.low_stock_threshold or "",
        **changes,
    }
    return client.post(
        reverse("listings:listing-edit", args=[listing.pk]), data, follow=True
    )


def _act(client, action, revision, **extra):
    return client.post(
        reverse("admin:listings_listingrevision_changelist"),
        {"action": action, "_selected_action": [revision.pk], **extra},
    )


@pytest.fixture
def reviewer(client, user_factory):
    user = user_factory(is_staff=True)
    user.groups.add(Group.objects.get(name="Reviewers"))
    return user


def test_changes_wait_for_review_while_the_approved_version_stays_on_sale(
    client,
    active_listing,
    buy,
    mailoutbox,
    reviewer,
    django_capture_on_commit_callbacks,
):
    listing = active_listing(codes=3, instructions="Redeem at https://example.com/ok")
    client.force_login(listing.seller)
    page = _edit(
        client,
        listing,
        title="Totally different product",
        price="1.00",
        instructions="Send your card number to https://evil.example",
        max_per_order=3,
    )
    assert "go live once our team has reviewed them" in page.content.decode()
    listing.refresh_from_db()
    assert listing.title != "Totally different product"
    assert listing.price == Decimal("9.99")
    assert listing.max_per_order == 3  # not what buyers read: at once
    assert (
        "Changes in review"
        in client.get(reverse("listings:listing-list")).content.decode()
    )
    client.logout()

    product = client.get(listing.get_absolute_url()).content.decode()
    assert "evil.example" not in product
    mailoutbox.clear()
    buy(listing)
    assert "evil.example" not in mailoutbox[0].body
    assert "example.com/ok" in mailoutbox[0].body

    revision = ListingRevision.objects.get(listing=listing, status="pending")
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        _act(client, "approve", revision)
    listing.refresh_from_db()
    assert listing.title == "Totally different product"
    assert listing.price == Decimal("1.00")
    assert any("are live" in m.subject for m in mailoutbox)


def test_rejected_changes_leave_the_listing_and_tell_the_seller(
    client, active_listing, reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=2)
    client.force_login(listing.seller)
    _edit(client, listing, title="A misleading title")
    revision = ListingRevision.objects.get(listing=listing)
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        _act(
            client, "reject", revision, confirm="yes", reason="The title promises more."
        )
    revision.refresh_from_db()
    listing.refresh_from_db()
    assert revision.status == ListingRevision.Status.REJECTED
    assert listing.title != "A misleading title"
    [mail] = [
        m
        for m in mailoutbox
        if m.to == [listing.seller.email] and "not approved" in m.subject
    ]
    assert "The title promises more." in mail.body


def test_a_second_edit_replaces_the_waiting_one_and_undoing_withdraws_it(
    client, active_listing
):
    listing = active_listing(codes=2)
    original = listing.title
    client.force_login(listing.seller)
    _edit(client, listing, title="First idea")
    _edit(client, listing, title="Second idea")
    assert list(
        ListingRevision.objects.filter(status="pending").values_list(
            "changes", flat=True
        )
    ) == [{"title": "Second idea"}]
    form = client.get(
        reverse("listings:listing-edit", args=[listing.pk])
    ).content.decode()
    assert "Second idea" in form  # the seller sees what they proposed
    _edit(client, listing, title=original)
    assert not ListingRevision.objects.filter(status="pending").exists()


def test_a_listing_in_review_changes_at_once(client, listing_factory, seller):
    listing = listing_factory(seller=seller)
    client.force_login(seller)
    _edit(client, listing, title="Fixed typo")
    listing.refresh_from_db()
    assert listing.title == "Fixed typo"
    assert listing.status == Listing.Status.PENDING_REVIEW
    assert not ListingRevision.objects.exists()


def test_staff_without_the_review_permission_cannot_approve_changes(
    client, active_listing, user_factory
):
    listing = active_listing(codes=2)
    client.force_login(listing.seller)
    _edit(client, listing, title="Unreviewed")
    client.force_login(user_factory(is_staff=True))
    assert _act(client, "approve", ListingRevision.objects.get()).status_code == 403
    listing.refresh_from_db()
    assert listing.title != "Unreviewed"
