"""A Content-Security-Policy on every page; scripts only from our files; only the
embed card may be framed (issue 11, lower findings)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>", re.I
)


def test_every_page_has_the_policy_and_no_inline_script(
    client, active_listing, buy, user_factory
):
    listing = active_listing(codes=3)
    order = buy(listing)
    client.force_login(listing.seller)
    pages = [
        "/",
        listing.get_absolute_url(),
        order.get_absolute_url(),
        reverse("listings:listing-list"),
        reverse("sales:sales-list"),
        reverse("codes:validate"),
        reverse("api:keys"),
        reverse("codes:webhooks"),
        reverse("codes:unique-codes-create"),
        "/api/v1/docs",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy, page
        assert "frame-ancestors 'none'" in policy, page
        assert not INLINE_SCRIPT.search(response.content.decode()), page
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    admin = client.get(reverse("admin:index"))
    assert "script-src 'self';" in admin["Content-Security-Policy"]


def test_only_the_embed_card_may_be_framed(client, active_listing):
    listing = active_listing(codes=1)
    embed = client.get(reverse("listings:listing-embed", args=[listing.pk]))
    assert "frame-ancestors *" in embed["Content-Security-Policy"]
    assert "script-src 'self';" in embed["Content-Security-Policy"]
    page = client.get(listing.get_absolute_url())
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
