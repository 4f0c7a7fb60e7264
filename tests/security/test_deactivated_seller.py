"""Deactivating a seller takes their listings down and stops their API keys
(issue 11, lower findings). Before: their keys kept working."""

from __future__ import annotations

import pytest
from django.test import Client

from codes.models import Code
from tests.helpers import sitemap_xml

pytestmark = pytest.mark.django_db


def test_a_deactivated_sellers_keys_listings_and_checkout_stop(
    active_listing, api_key_for
):
    listing = active_listing(codes=3)
    seller = listing.seller
    key = api_key_for(seller)
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get("/api/v1/listings", **auth).status_code == 200

    seller.is_active = False
    seller.save(update_fields=["is_active"])

    assert client.get("/api/v1/listings", **auth).status_code == 401
    assert client.get(listing.get_absolute_url()).status_code == 404
    assert listing.title not in client.get("/").content.decode()
    assert f"/items/{listing.pk}/" not in sitemap_xml(client)
    client.post(f"/items/{listing.pk}/buy/", {"quantity": 1, "email": "b@example.com"})
    assert not Code.objects.filter(listing=listing, status="reserved").exists()

    seller.is_active = True
    seller.save(update_fields=["is_active"])
    assert client.get(listing.get_absolute_url()).status_code == 200
    assert client.get("/api/v1/listings", **auth).status_code == 200
