"""Accounts: sign up and verify, who may reach the seller pages, the menu, and the
settings page."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from codes.models import Code
from distribly.context_processors import buyer_country

pytestmark = pytest.mark.django_db


def test_signup_sends_verification_email_and_verified_user_can_log_in(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new.seller@example.com",
            "display_name": "New Seller",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = re.search(r"http://[^\s]+/accounts/confirm-email/[^\s]+/", body).group()
    path = (
        link.split("testserver", 1)[-1]
        if "testserver" in link
        else "/" + link.split("/", 3)[3]
    )

    client.logout()
    confirm_page = client.get(path)
    assert confirm_page.status_code == 200
    response = client.post(path)
    assert response.status_code == 302
    assert EmailAddress.objects.get(email="new.seller@example.com").verified
    client.logout()
    login = client.post(
        reverse("account_login"),
        {"login": "new.seller@example.com", "password": "a-long-enough-passphrase"},
    )
    assert login.status_code == 302
    page = client.get(reverse("listings:listing-add"))
    assert page.status_code == 200
    assert "Unique codes" in page.content.decode()


def test_unverified_user_cannot_reach_seller_pages(client, user_factory):
    user = user_factory(verified=False)
    client.force_login(user)
    for name in [
        "listings:listing-add",
        "listings:listing-list",
        "codes:unique-codes-create",
    ]:
        response = client.get(reverse(name))
        assert response.status_code == 200
        html = response.content.decode()
        assert "Verify Your Email Address" in html or "verify" in html.lower()
        assert "Sell unique codes" not in html
    # and the page re-sent a verification email
    assert any(user.email in m.to for m in mail.outbox)


def test_anonymous_user_is_sent_to_login_from_seller_pages(client):
    response = client.get(reverse("listings:listing-list"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_menu_for_anonymous_shows_login_and_signup_only(client):
    html = client.get("/").content.decode()
    assert "Log in" in html
    assert "Sign up" in html
    assert "My account" not in html
    assert "Items I&#x27;m selling" not in html
    assert "Items I'm selling" not in html


def test_menu_for_signed_in_user_shows_account_pages(client, user_factory):
    client.force_login(user_factory())
    html = client.get("/").content.decode()
    assert "My account" in html
    for entry in ["Add an item to sell", "Items I'm selling", "Settings", "Log out"]:
        assert entry in html
    assert "Log in" not in html
    assert ">Admin<" not in html


def test_menu_for_staff_links_admin(client, user_factory):
    client.force_login(user_factory(is_staff=True))
    assert ">Admin<" in client.get("/").content.decode()


def test_menu_lists_the_seller_pages(client, seller):
    client.force_login(seller)
    html = client.get("/").content.decode()
    for entry in [
        "Validate a code",
        "Sales",
        "API keys",
        "Webhooks",
        "My purchases",
        "Settings",
    ]:
        assert entry in html
    assert Code.objects.count() == 0


def test_settings_page_saves_the_seller_name(client, user_factory):
    user = user_factory()
    client.force_login(user)
    response = client.post(reverse("accounts:settings"), {"display_name": "Keys & Co"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.display_name == "Keys & Co"


def test_the_profile_takes_a_plain_text_bio_for_the_storefront(client, user_factory):
    user = user_factory()
    client.force_login(user)
    url = reverse("accounts:settings")
    client.post(url, {"display_name": "Keys & Co", "bio": "  Keys since 2019.  "})
    user.refresh_from_db()
    assert user.bio == "Keys since 2019."
    response = client.post(url, {"display_name": "Keys & Co", "bio": "<b>Best</b>"})
    assert response.status_code == 200
    assert "HTML" in response.content.decode()
    user.refresh_from_db()
    assert user.bio == "Keys since 2019."


def test_the_country_in_settings_is_kept_for_guests_and_accounts(client, user_factory):
    url = reverse("accounts:settings")
    prefs = {"language": "en", "display_currency": "USD"}
    response = client.post(url, {**prefs, "country": "FR"})
    assert response.cookies["country"].value == "FR"
    assert buyer_country(client.get(url).wsgi_request) == "FR"
    assert client.post(url, {**prefs, "country": "XX"}).status_code == 200  # refused

    user = user_factory()
    client.force_login(user)
    client.post(url, {**prefs, "country": "ES"})
    user.refresh_from_db()
    assert user.country == "ES"
    # The account's choice wins over an older cookie.
    client.cookies["country"] = "FR"
    assert buyer_country(client.get(url).wsgi_request) == "ES"
