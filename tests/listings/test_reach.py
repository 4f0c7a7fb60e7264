"""Share, embed and be found."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from listings.models import Listing
from tests.helpers import sitemap_xml

pytestmark = pytest.mark.django_db


def test_share_links_are_correct_and_escaped(client, active_listing, settings):
    settings.SITE_URL = "https://distribly.example.com"
    listing = active_listing(codes=2, title='Keys & "Codes" <Pro>')
    html = client.get(listing.get_absolute_url()).content.decode()
    url = f"https://distribly.example.com/items/{listing.pk}/"
    x = (
        re.search(r'href="(https://twitter.com/intent/tweet\?[^"]+)"', html)
        .group(1)
        .replace("&amp;", "&")
    )
    assert parse_qs(urlsplit(x).query) == {
        "text": [f"{listing.title} on Distribly"],
        "url": [url],
    }
    fb = (
        re.search(r'href="(https://www.facebook.com/sharer/sharer.php\?[^"]+)"', html)
        .group(1)
        .replace("&amp;", "&")
    )
    assert parse_qs(urlsplit(fb).query) == {"u": [url]}
    mail = re.search(r'href="(mailto:[^"]+)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(mail).query)["subject"] == [
        f"{listing.title} on Distribly"
    ]
    assert "<Pro>" not in html
    assert "&lt;Pro&gt;" in html
    assert f'<link rel="canonical" href="{url}">' in html
    assert (
        '<meta property="og:title" content="Keys &amp; &quot;Codes&quot; &lt;Pro&gt;">'
        in html
    )


def test_json_ld_is_valid_json_with_the_right_availability(client, active_listing, buy):
    listing = active_listing(codes=1, title="</script><script>alert(1)</script>")
    html = client.get(listing.get_absolute_url()).content.decode()
    data = json.loads(
        re.search(
            r'<script type="application/ld\+json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["@type"] == "Product"
    assert data["name"] == listing.title
    assert data["offers"]["availability"] == "https://schema.org/InStock"
    assert (data["offers"]["price"], data["offers"]["priceCurrency"]) == ("9.99", "USD")
    assert "<script>alert(1)" not in html
    buy(listing)
    html = client.get(listing.get_absolute_url()).content.decode()
    data = json.loads(
        re.search(
            r'<script type="application/ld\+json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["offers"]["availability"] == "https://schema.org/SoldOut"
    assert "This item is sold out." in html  # still reachable, and says so


def test_oembed_json_and_discovery(client, active_listing, settings):
    settings.SITE_URL = "http://testserver"
    listing = active_listing(codes=2, title="Embed <me>")
    html = client.get(listing.get_absolute_url()).content.decode()
    discovery = re.search(
        r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', html
    ).group(1)
    data = client.get(discovery.replace("&amp;", "&")).json()
    assert data["type"] == "rich"
    assert data["version"] == "1.0"
    assert data["title"] == "Embed <me>"
    assert f'src="http://testserver/items/{listing.pk}/embed/"' in data["html"]
    assert "Embed &lt;me&gt; on Distribly" in data["html"]
    assert (
        client.get(
            reverse("listings:oembed"), {"url": "http://evil.example/items/1/"}
        ).status_code
        == 404
    )
    assert (
        client.get(
            reverse("listings:oembed"),
            {"url": data["provider_url"] + "items/1/", "format": "xml"},
        ).status_code
        == 501
    )


def test_only_the_embed_route_may_be_framed(client, active_listing):
    listing = active_listing(codes=1)
    embed = client.get(reverse("listings:listing-embed", args=[listing.pk]))
    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed
    assert "frame-ancestors *" in embed["Content-Security-Policy"]
    assert 'target="_blank"' in embed.content.decode()
    page = client.get(listing.get_absolute_url())
    assert page["X-Frame-Options"] == "DENY"


def test_sitemap_lists_exactly_the_listings_on_the_site_and_robots_points_to_it(
    client, active_listing, listing_factory
):
    active = active_listing(codes=1)
    pending = listing_factory()
    paused = active_listing(codes=1)
    Listing.objects.filter(pk=paused.pk).update(status=Listing.Status.PAUSED)
    xml = sitemap_xml(client)
    locs = re.findall(r"<loc>([^<]+)</loc>", xml)
    assert [loc for loc in locs if "/items/" in loc] == [
        f"http://testserver/items/{active.pk}/"
    ]
    # Category pages with listings (the factory's category), and the storefronts of
    # sellers with listings on the site (paused ones too: their product pages link there).
    assert "http://testserver/c/other/" in locs
    assert f"http://testserver/sellers/{active.seller_id}/" in locs
    assert f"/sellers/{pending.seller_id}/" not in xml
    assert f"/items/{pending.pk}/" not in xml
    robots = client.get("/robots.txt").content.decode()
    assert "Sitemap: " in robots
    assert "Disallow: /orders/" in robots
