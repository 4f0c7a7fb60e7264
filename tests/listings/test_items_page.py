"""Items I'm selling, as a seller reads it: codes held by a checkout are Reserved (not
lost stock), Pause only where it changes something, the batch page's banner agrees
with the batch, and every table cell is labelled for phones."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from codes.models import Code, CodeBatch
from listings.models import Listing

pytestmark = pytest.mark.django_db


def _row(html: str, listing: Listing) -> str:
    rows = re.findall(r"<tr>.*?</tr>", html.split("<tbody>")[1], flags=re.S)
    [row] = [r for r in rows if listing.get_absolute_url() in r]
    return row


def test_reserved_counts_codes_held_by_a_checkout_in_progress(
    client, active_listing, buy
):
    listing = active_listing(codes=5)
    buy(listing, quantity=1)
    buy(listing, quantity=2, pay=False)  # the buyer never pays
    assert Code.objects.filter(listing=listing, status="reserved").count() == 2
    client.force_login(listing.seller)
    response = client.get(reverse("listings:listing-list"))
    [item] = response.context["page"].object_list
    assert (item.available, item.reserved, item.sold, item.redeemed) == (2, 2, 1, 0)
    row = _row(response.content.decode(), listing)
    assert re.search(r'data-label="Reserved">2</td>', row)
    assert re.search(r'data-label="Available quantity">2</td>', row)
    assert re.search(r'data-label="Sold">1</td>', row)


def test_pause_is_not_offered_on_a_sold_out_listing(client, active_listing, buy):
    on_sale = active_listing(codes=3)
    sold_out = active_listing(codes=1, seller=on_sale.seller)
    buy(sold_out)
    sold_out.refresh_from_db()
    assert sold_out.status == Listing.Status.SOLD_OUT
    client.force_login(on_sale.seller)
    html = client.get(reverse("listings:listing-list")).content.decode()
    assert reverse("listings:listing-pause", args=[on_sale.pk]) in _row(html, on_sale)
    sold_out_row = _row(html, sold_out)
    assert reverse("listings:listing-pause", args=[sold_out.pk]) not in sold_out_row
    assert reverse("codes:batch-add", args=[sold_out.pk]) in sold_out_row


def test_every_cell_of_items_and_batches_is_labelled_for_phones(client, active_listing):
    listing = active_listing(codes=2)
    client.force_login(listing.seller)
    for url in (
        reverse("listings:listing-list"),
        reverse("codes:listing-batches", args=[listing.pk]),
        reverse("api:keys"),
    ):
        html = client.get(url).content.decode()
        cells = re.findall(r"<td\b[^>]*>", html)
        assert all("data-label=" in cell for cell in cells), url
        if cells:
            assert '<table class="stack">' in html, url


def test_batch_page_says_the_import_finished_when_it_has(client, active_listing):
    listing = active_listing(codes=3)
    batch = listing.batches.get()
    client.force_login(listing.seller)
    html = client.get(batch.get_absolute_url()).content.decode()
    assert "Importing your codes" not in html
    assert "The import finished: 3 codes accepted and approved for sale." in html


def test_batch_page_says_a_failed_import_failed(client, active_listing):
    listing = active_listing(codes=1)
    batch = listing.batches.get()
    CodeBatch.objects.filter(pk=batch.pk).update(
        status=CodeBatch.Status.FAILED, failure_reason="The file could not be read."
    )
    client.force_login(listing.seller)
    html = client.get(batch.get_absolute_url()).content.decode()
    assert "Importing your codes" not in html
    assert "The import failed" in html
    assert "The file could not be read." in html


def test_batch_page_shows_progress_while_the_batch_waits(client, active_listing):
    listing = active_listing(codes=1)
    batch = listing.batches.get()
    CodeBatch.objects.filter(pk=batch.pk).update(status=CodeBatch.Status.IMPORTING)
    client.force_login(listing.seller)
    html = client.get(batch.get_absolute_url()).content.decode()
    assert "Importing your codes" in html
    assert "The import finished" not in html
