"""Share, embed and be found: share links, the embeddable card, oEmbed, JSON-LD."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from .models import Listing

EMBED_WIDTH, EMBED_HEIGHT = 360, 220


def absolute(path: str) -> str:
    """This site's absolute URL for a path; a URL that already is one (a cover on
    an S3-compatible store) as it is."""
    return settings.SITE_URL + path if path.startswith("/") else path


def share_links(listing: Listing) -> dict[str, str]:
    """Plain links: no third-party script runs on our pages."""
    url = absolute(listing.get_absolute_url())
    text = f"{listing.title} on Distribly"
    return {
        "url": url,
        "email": "mailto:?"
        + urlencode({"subject": text, "body": f"{text}: {url}"}, quote_via=quote),
        "x": "https://twitter.com/intent/tweet?"
        + urlencode({"text": text, "url": url}),
        "facebook": "https://www.facebook.com/sharer/sharer.php?"
        + urlencode({"u": url}),
    }


def embed_url(listing: Listing) -> str:
    return absolute(reverse("listings:listing-embed", args=[listing.pk]))


def embed_html(listing: Listing) -> str:
    return (
        f'<iframe src="{escape(embed_url(listing))}" width="{EMBED_WIDTH}" height="{EMBED_HEIGHT}" '
        f'style="border:0" loading="lazy" title="{escape(listing.title)} on Distribly"></iframe>'
    )


def oembed(listing: Listing) -> dict[str, Any]:
    return {
        "version": "1.0",
        "type": "rich",
        "title": listing.title,
        "author_name": listing.seller.public_name,
        "provider_name": "Distribly",
        "provider_url": settings.SITE_URL + "/",
        "html": embed_html(listing),
        "width": EMBED_WIDTH,
        "height": EMBED_HEIGHT,
    }


def product_json_ld(listing: Listing, available: int) -> str:
    """schema.org Product with an Offer; safe to place inside <script> (no "</")."""
    in_stock = listing.status == Listing.Status.ACTIVE and available > 0
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": listing.title,
        "description": listing.description[:5000],
        "url": absolute(listing.get_absolute_url()),
        "brand": {"@type": "Brand", "name": listing.seller.public_name},
        "offers": {
            "@type": "Offer",
            "price": f"{listing.price:.2f}",
            "priceCurrency": listing.currency,
            "availability": "https://schema.org/"
            + ("InStock" if in_stock else "SoldOut"),
            "url": absolute(listing.get_absolute_url()),
        },
    }
    return (
        json.dumps(data)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
