"""The product page's found facts (issue 14): cover, category, platform, region and
the buyer's-country warning, share tags; the embed card's cover."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image

from distribly.context_processors import COUNTRY_COOKIE
from listings.images import cover_from_upload, cover_store
from listings.models import Listing


@pytest.fixture
def with_cover(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"

    def add(listing: Listing) -> Listing:
        out = io.BytesIO()
        Image.new("RGB", (1200, 630), "#336699").save(out, "PNG")
        card, share = cover_store(cover_from_upload(out))
        Listing.objects.filter(pk=listing.pk).update(cover_card=card, cover_share=share)
        listing.refresh_from_db()
        return listing

    return add


@pytest.mark.django_db
def test_product_page_shows_cover_category_platform_and_region(
    client, active_listing, with_cover
):
    listing = with_cover(
        active_listing(
            codes=1,
            title="Lyon museum pass",
            category=Listing.Category.ACCESS_CODES,
            platform=Listing.Platform.IN_STORE,
            region=["FR", "ES"],
        )
    )
    html = client.get(listing.get_absolute_url()).content.decode()
    assert (
        f'<img class="product-cover" src="{listing.cover_card.url}" width="640" '
        'height="360" alt="Lyon museum pass">'
    ) in html
    assert '<dd><a href="/c/access-codes/">Access codes</a></dd>' in html
    assert "<dt>Platform</dt><dd>In store</dd>" in html
    assert "<dt>Works in</dt><dd>France, Spain</dd>" in html
    assert 'role="alert"' not in html  # no country chosen: no warning


@pytest.mark.django_db
def test_a_listing_without_cover_or_region_shows_a_placeholder_and_any_country(
    client, active_listing
):
    listing = active_listing(codes=1, category=Listing.Category.GIFT_VOUCHERS)
    html = client.get(listing.get_absolute_url()).content.decode()
    assert '<div class="product-cover card-cover-empty" aria-hidden="true">' in html
    assert "<dt>Works in</dt><dd>Any country</dd>" in html
    assert "og:image" not in html
    assert '<meta name="twitter:card" content="summary">' in html


@pytest.mark.django_db
def test_buyer_is_warned_when_their_country_is_outside_the_region(
    client, active_listing, user_factory
):
    listing = active_listing(codes=1, region=["FR"])
    client.force_login(user_factory(country="ES"))
    html = client.get(listing.get_absolute_url()).content.decode()
    assert (
        '<p class="message warning" role="alert">This code doesn\'t work in Spain, '
        "your country in Settings: it works only in France.</p>"
    ) in html

    # A guest's country comes from the Settings cookie.
    client.logout()
    client.cookies[COUNTRY_COOKIE] = "FR"
    assert (
        "doesn't work in" not in client.get(listing.get_absolute_url()).content.decode()
    )
    client.cookies[COUNTRY_COOKIE] = "DE"
    assert (
        "doesn't work in Germany"
        in client.get(listing.get_absolute_url()).content.decode()
    )


@pytest.mark.django_db
def test_no_region_warning_for_a_listing_that_works_everywhere(
    client, active_listing, user_factory
):
    listing = active_listing(codes=1)
    client.force_login(user_factory(country="ES"))
    assert (
        "doesn't work in" not in client.get(listing.get_absolute_url()).content.decode()
    )


@pytest.mark.django_db
def test_share_tags_use_an_absolute_share_image(
    client, active_listing, with_cover, settings
):
    settings.SITE_URL = "https://distribly.example"
    listing = with_cover(active_listing(codes=1, title="Shared key"))
    html = client.get(listing.get_absolute_url()).content.decode()
    image = "https://distribly.example" + listing.cover_share.url
    assert listing.cover_share.url.startswith("/")
    assert f'<meta property="og:image" content="{image}">' in html
    assert '<meta property="og:image:width" content="1200">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert f'<meta name="twitter:image" content="{image}">' in html


@pytest.mark.django_db
def test_cards_and_embed_show_the_cover(client, active_listing, with_cover):
    listing = with_cover(active_listing(codes=1, title="Covered key"))
    home = client.get("/").content.decode()
    assert (
        f'<img class="card-cover" src="{listing.cover_card.url}" width="640" '
        'height="360" alt="" loading="lazy">'
    ) in home
    embed = client.get(reverse("listings:listing-embed", args=[listing.pk]))
    assert (
        f'class="embed-cover" src="{listing.cover_card.url}"' in embed.content.decode()
    )
