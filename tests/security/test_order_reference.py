"""Buyers and sellers see a random order reference, not the sequential id that would
tell them how many orders the shop takes (issue 11, lower findings)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sales.models import REFERENCE_ALPHABET, Order

pytestmark = pytest.mark.django_db


def test_order_pages_emails_and_sales_show_the_reference_not_the_id(
    client, active_listing, buy, mailoutbox
):
    listing = active_listing(codes=3)
    first, second = buy(listing), buy(listing)
    assert first.reference != second.reference
    assert re.fullmatch(
        rf"[{REFERENCE_ALPHABET}]{{5}}-[{REFERENCE_ALPHABET}]{{5}}", first.reference
    )

    page = client.get(second.get_absolute_url()).content.decode()
    assert f"Order #{second.reference}" in page
    # A reference may start with the id's digit ("Order #2DDMT-…"), so look for the id
    # as a whole word.
    assert not re.search(rf"Order #{second.pk}\b", page)
    delivery = [m for m in mailoutbox if m.to == [second.email]][-1]
    assert f"#{second.reference}" in delivery.body
    assert not re.search(rf"#{second.pk}\b", delivery.body)

    client.force_login(listing.seller)
    assert second.reference in client.get(reverse("sales:sales-list")).content.decode()
    export = b"".join(
        client.get(reverse("sales:sales-export")).streaming_content
    ).decode()
    rows = export.splitlines()[1:]
    assert {row.split(",")[0] for row in rows} == set(
        Order.objects.values_list("reference", flat=True)
    )
