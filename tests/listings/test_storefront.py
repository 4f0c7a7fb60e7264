"""A seller's storefront (issue 14), reached from their product pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from listings.models import Listing
from tests.helpers import sitemap_xml


@pytest.mark.django_db
def test_storefront_shows_the_seller_their_record_and_their_listings(
    client, user_factory, active_listing, listing_factory, buy
):
    seller = user_factory(
        display_name="Café Lumière",
        bio="Coffee in Lyon. Menu at https://example.com/menu",
        date_joined=dt.datetime(2024, 3, 5, tzinfo=dt.UTC),
    )
    voucher = active_listing(seller=seller, codes=3, title="Espresso voucher")
    buy(voucher, quantity=2)
    paused = active_listing(seller=seller, codes=1, title="Paused voucher")
    Listing.objects.filter(pk=paused.pk).update(status=Listing.Status.PAUSED)
    other = listing_factory(status=Listing.Status.SOLD_OUT, title="Someone else's")

    response = client.get(reverse("listings:storefront", args=[seller.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Café Lumière</h1>" in html
    assert "Coffee in Lyon." in html
    assert '<a href="https://example.com/menu" rel="nofollow noopener"' in html
    assert "March 2024" in html
    assert "<dt>Codes sold</dt><dd>2</dd>" in html
    assert "Espresso voucher" in html
    assert "Paused voucher" not in html
    assert other.title not in html
    assert seller.email not in html


@pytest.mark.django_db
def test_product_page_links_the_seller_name_to_the_storefront(client, active_listing):
    listing = active_listing(codes=1)
    url = reverse("listings:storefront", args=[listing.seller_id])
    html = client.get(listing.get_absolute_url()).content.decode()
    assert f'Sold by <a href="{url}">{listing.seller.public_name}</a>' in html
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_no_storefront_for_users_who_do_not_sell_or_cannot(
    client, user_factory, listing_factory, settings
):
    buyer = user_factory(display_name="Just a buyer")
    drafter = user_factory()
    listing_factory(seller=drafter, status=Listing.Status.PENDING_REVIEW)
    gone = user_factory()
    listing_factory(seller=gone, status=Listing.Status.ACTIVE)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    for user in (buyer, drafter, gone):
        url = reverse("listings:storefront", args=[user.pk])
        assert client.get(url).status_code == 404
    assert client.get(reverse("listings:storefront", args=[99999])).status_code == 404

    # A seller who cannot take payments (no payout account) has no storefront either.
    seller = user_factory()
    listing_factory(seller=seller, status=Listing.Status.ACTIVE)
    url = reverse("listings:storefront", args=[seller.pk])
    assert client.get(url).status_code == 200
    settings.SELLERS_NEED_PAYOUTS = True
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_storefront_pages_its_listings(client, user_factory, listing_factory):
    seller = user_factory(display_name="Bulk Seller")
    for i in range(26):
        listing_factory(
            seller=seller,
            status=Listing.Status.SOLD_OUT,
            title=f"Bulk item {i:02d}",
            created_at=timezone.now(),
        )
    url = reverse("listings:storefront", args=[seller.pk])
    first = client.get(url).content.decode()
    assert first.count('class="card listing-card"') == 24
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('class="card listing-card"') == 2


@pytest.mark.django_db
def test_sitemap_lists_category_pages_and_storefronts(client, listing_factory):
    listing = listing_factory(
        status=Listing.Status.SOLD_OUT, category=Listing.Category.GIFT_VOUCHERS
    )
    xml = sitemap_xml(client)
    assert "<loc>http://testserver/c/gift-vouchers/</loc>" in xml
    assert "<loc>http://testserver/c/licence-keys/</loc>" not in xml  # empty
    assert f"<loc>http://testserver/sellers/{listing.seller_id}/</loc>" in xml
    assert f"<loc>http://testserver/items/{listing.pk}/</loc>" in xml
