"""Language of the pages: a signed-in user's saved language, else the browser's."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_language_is_saved_on_the_account_and_shown_in_the_footer(client, user_factory):
    user = user_factory()
    client.force_login(user)
    client.post(
        reverse("accounts:settings"), {"language": "en", "display_currency": "EUR"}
    )
    user.refresh_from_db()
    assert user.language == "en"
    assert (
        "Your current settings: English · EUR - Euro"
        in client.get("/").content.decode()
    )


def test_a_browser_asking_for_an_unsupported_language_gets_english_throughout(
    client, db
):
    html = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="en">' in html
    assert "Sign up" in html


def test_a_spanish_browser_gets_spanish(client, db):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9").content.decode()
    assert '<html lang="es">' in html
    assert "Todavía no hay nada a la venta" in html
