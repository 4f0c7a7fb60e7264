"""A refunded code shows on its buyer's order page as cancelled and masked, never
whole (issue 11, lower findings). Before: the full value stayed visible."""

from __future__ import annotations

import pytest
from django.urls import reverse

from codes.importing.text import mask
from codes.models import Code

pytestmark = pytest.mark.django_db


def test_a_refunded_code_is_masked_and_the_kept_one_stays_whole(
    client, active_listing, buy, django_capture_on_commit_callbacks
):
    listing = active_listing(codes=3)
    order = buy(listing, quantity=2)
    refunded, kept = Code.objects.filter(order_id=order.pk).order_by("id")
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("sales:sales-refund", args=[order.reference]), {"code": refunded.pk}
        )
    client.logout()

    page = client.get(order.get_absolute_url()).content.decode()

    assert refunded.reveal() not in page
    assert mask(refunded.reveal()) in page
    assert "Cancelled (refunded)" in page
    assert kept.reveal() in page
