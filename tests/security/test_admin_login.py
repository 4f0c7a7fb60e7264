"""Staff sign in through the rate-limited site login (issue 11, "Admin login throttling").

Before: /admin/login/ took unlimited guesses; 40 wrong passwords then the right
one still signed in."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(user_factory):
    return user_factory(
        "staff@example.com", password=PASSWORD, is_staff=True, is_superuser=True
    )


def _signed_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def test_the_admin_login_form_checks_no_password(client, staff):
    for _ in range(40):
        client.post(
            reverse("admin:login"), {"username": staff.email, "password": "wrong"}
        )
    response = client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": staff.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login") + "?next=%2Fadmin%2F"
    assert not _signed_in(client)


def test_guessing_a_staff_password_locks_the_account_like_any_other(client, staff):
    login = reverse("account_login")
    for _ in range(10):
        client.post(login, {"login": staff.email, "password": "wrong"})
    client.post(login, {"login": staff.email, "password": PASSWORD})
    assert not _signed_in(client)


def test_staff_reach_the_admin_through_the_site_login(client, staff):
    page = client.get(reverse("admin:index"), follow=True)
    assert page.redirect_chain[-1][0].startswith(reverse("account_login"))
    response = client.post(
        reverse("account_login") + "?next=/admin/",
        {"login": staff.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert _signed_in(client)


def test_the_next_address_stays_on_this_site(client):
    response = client.get(reverse("admin:login") + "?next=https://evil.example/")
    assert response["Location"] == reverse("account_login") + "?next=%2Fadmin%2F"
