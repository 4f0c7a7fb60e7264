"""The Webhooks settings page: URL checks and ownership."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_settings_page_refuses_a_private_url_with_a_message(
    client, seller, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    client.force_login(seller)
    response = client.post(reverse("codes:webhooks"), {"url": "https://127.0.0.1/x"})
    assert response.status_code == 200
    assert "private or internal address" in response.content.decode()


def test_another_seller_cannot_see_my_webhooks(client, seller, user_factory, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    client.force_login(seller)
    client.post(reverse("codes:webhooks"), {"url": "http://127.0.0.1:9/hook"})
    secret = seller.webhook_endpoint.secret
    client.force_login(user_factory())
    assert secret not in client.get(reverse("codes:webhooks")).content.decode()
    # and cannot ask for it either
    assert client.post(reverse("codes:webhook-secret")).status_code == 404


def test_the_signing_secret_shows_only_on_request_and_is_never_cached(
    client, seller, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    client.force_login(seller)
    client.post(reverse("codes:webhooks"), {"url": "http://127.0.0.1:9/hook"})
    secret = seller.webhook_endpoint.secret

    page = client.get(reverse("codes:webhooks"))
    assert secret not in page.content.decode()
    assert "Show secret" in page.content.decode()
    assert page["Cache-Control"] == "no-store"

    shown = client.post(reverse("codes:webhook-secret"))
    assert secret in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
