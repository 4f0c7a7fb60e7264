"""allauth's pages use the site's page and form layout (templates/allauth/elements/,
templates/account/), in sentence case; its emails are branded Distribly."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

ALLAUTH_DEFAULT_MARKUP = ["<strong>Menu:</strong>", "Sign In", "Sign Up", "Sign Out"]


def _page(client, name, *args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200, name
    html = response.content.decode()
    assert 'class="site-header"' in html, name  # the site's own page around it
    assert 'class="panel narrow auth-panel"' in html, name
    for text in ALLAUTH_DEFAULT_MARKUP:
        assert text not in html, (name, text)
    return html


def test_login_page_uses_the_site_layout_and_sentence_case(client):
    html = _page(client, "account_login")
    assert "<title>Log in · Distribly</title>" in html
    assert "<h1>Log in</h1>" in html
    assert '<div class="field">' in html
    assert "<p>\n" not in html  # not form.as_p
    assert re.search(r'<button type="submit">\s*Log in\s*</button>', html)
    assert '<label for="id_remember">Remember me</label>' in html
    # The password input points at its help text, which is the reset link.
    assert 'aria-describedby="id_password_helptext"' in html
    assert re.search(
        r'<small class="help" id="id_password_helptext"><a class="tap-target" href="/accounts/password/reset/">Forgot your password\?</a>',
        html,
    )


@pytest.mark.parametrize(
    ("name", "heading", "button"),
    [
        ("account_signup", "Sign up", "Sign up"),
        ("account_reset_password", "Reset your password", "Email me a reset link"),
    ],
)
def test_entrance_pages(client, name, heading, button):
    html = _page(client, name)
    assert f"<h1>{heading}</h1>" in html
    assert re.search(rf'<button type="submit">\s*{button}\s*</button>', html)


def test_signed_in_pages(client, user_factory):
    client.force_login(user_factory())
    html = _page(client, "account_change_password")
    assert "<h1>Change password</h1>" in html
    assert '<label for="id_oldpassword">Current password:</label>' in html
    html = _page(client, "account_email")
    assert "<h1>Email addresses</h1>" in html
    assert "<legend>Your email addresses</legend>" in html
    assert '<span class="badge ok">Verified</span>' in html
    assert re.search(
        r'<button type="submit" name="action_primary">\s*Make primary', html
    )
    html = _page(client, "account_logout")
    assert "<h1>Log out</h1>" in html


def test_email_confirmation_page_and_email(client, user_factory, mailoutbox):
    user = user_factory(verified=False)
    client.force_login(user)
    client.post(reverse("account_email"), {"action_send": "", "email": user.email})
    [message] = mailoutbox
    assert message.subject == "[Distribly] Confirm your email address"
    assert message.body.startswith("Hello from Distribly,")
    assert "The Distribly team" in message.body
    assert "testserver" not in message.body.split("http")[0]  # no host as the name
    path = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", message.body)
    html = _page(client, "account_confirm_email", path.group(1).split("/")[-2])
    assert "<h1>Confirm your email address</h1>" in html
    assert re.search(r'<button type="submit">\s*Confirm\s*</button>', html)
    client.post(path.group(1))
    assert EmailAddress.objects.get(email=user.email).verified


def test_password_reset_email_is_branded(client, user_factory):
    user = user_factory()
    client.post(reverse("account_reset_password"), {"email": user.email})
    [message] = mail.outbox
    assert message.subject == "[Distribly] Reset your password"
    assert message.body.startswith("Hello from Distribly,")
    assert "/accounts/password/reset/key/" in message.body
    assert message.body.rstrip().endswith("The Distribly team")


def test_reset_for_an_unknown_address_is_branded(client, settings):
    settings.ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = True
    client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    [message] = mail.outbox
    assert message.subject == "[Distribly] No account with this email address"
    assert "nobody@example.com" in message.body
    assert "/accounts/signup/" in message.body
    assert message.body.startswith("Hello from Distribly,")


def test_logging_in_and_out_say_so_in_the_sites_words(client, user_factory):
    user = user_factory(password="a-long-enough-passphrase")
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": "a-long-enough-passphrase"},
        follow=True,
    )
    assert f"You&#x27;re logged in as {user.email}." in response.content.decode()
    response = client.post(reverse("account_logout"), follow=True)
    assert "You&#x27;re logged out." in response.content.decode()
