"""The API keys page: a key is shown once, stored hashed, revocable by its owner only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from api.models import ApiKey

pytestmark = pytest.mark.django_db


def test_api_key_is_shown_once_stored_hashed_and_revocable(client, seller):
    client.force_login(seller)
    page = client.post(
        reverse("api:keys"), {"name": "My shop", "scopes": ["verify", "redeem"]}
    )
    html = page.content.decode()
    key = ApiKey.objects.get(seller=seller)
    plaintext = re.search(r'id="new-key">(dk_[^<]+)<', html).group(1)
    assert key.key_hash not in html
    assert plaintext.split("_")[1] == key.prefix
    assert plaintext not in client.get(reverse("api:keys")).content.decode()
    assert key.scopes == ["redeem", "verify"]
    client.post(reverse("api:key-revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_api_key_form_errors(client, seller):
    client.force_login(seller)
    html = client.post(reverse("api:keys"), {"name": "", "scopes": []}).content.decode()
    assert html.count("This field is required.") == 2
    assert not ApiKey.objects.exists()


def test_another_seller_cannot_revoke_or_see_my_key(
    client, seller, user_factory, api_key_for
):
    api_key_for(seller)
    key = ApiKey.objects.get(seller=seller)
    client.force_login(user_factory())
    assert client.post(reverse("api:key-revoke", args=[key.pk])).status_code == 404
    assert key.prefix not in client.get(reverse("api:keys")).content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None
