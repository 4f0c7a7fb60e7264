"""With DJANGO_DEBUG off the app refuses to start on anything that would fail open,
naming the variable (issue 11, "Fail closed"). Each case starts `manage.py` in a
fresh process with a production environment that has exactly one thing wrong."""

from __future__ import annotations

import re

import pytest

from tests.helpers import PRODUCTION_ENV, ROOT, run_manage


def _example(name: str) -> str:
    """The value .env.example gives a variable: a placeholder someone may keep."""
    match = re.search(rf"^{name}=(.*)$", (ROOT / ".env.example").read_text(), re.M)
    assert match, name
    return match.group(1)


def _refused(**changes: str | None) -> str:
    env = {k: v for k, v in {**PRODUCTION_ENV, **changes}.items() if v is not None}
    result = run_manage(env, "check")
    assert result.returncode != 0, "started although it must not"
    assert "Refusing to start with DJANGO_DEBUG off" in result.stderr
    return result.stderr


def test_a_complete_production_environment_starts():
    result = run_manage(PRODUCTION_ENV, "check")
    assert result.returncode == 0, result.stderr


def test_no_email_backend_is_refused_instead_of_printing_emails_to_the_log():
    # Before: the console backend, so codes and reset links went to the server log.
    assert "EMAIL_URL" in _refused(EMAIL_URL=None)


def test_an_email_provider_without_its_key_is_refused():
    assert "ANYMAIL_API_KEY" in _refused(EMAIL_URL=None, ANYMAIL_ESP="postmark")


def test_the_dev_payment_provider_is_refused():
    # Before: no Stripe key meant the free /pay/test/ page in production.
    stderr = _refused(STRIPE_SECRET_KEY=None, STRIPE_WEBHOOK_SECRET=None)
    assert "PAYMENT_PROVIDER is 'dev'" in stderr
    assert "PAYMENT_PROVIDER is 'dev'" in _refused(PAYMENT_PROVIDER="dev")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_SECRET_KEY", None),
        ("DJANGO_SECRET_KEY", "dev-insecure-secret-key-do-not-use-in-production"),
        (
            "DJANGO_SECRET_KEY",
            "example",
        ),  # replaced by .env.example's placeholder below
        ("DJANGO_SECRET_KEY", "too-short-but-random-9f8e7d6c5b4a"),
        ("CODES_ENCRYPTION_KEYS", None),
        ("CODES_ENCRYPTION_KEYS", "ZGV2LWluc2VjdXJlLWNvZGVzLWtleS0zMi1ieXRlcyE="),
        ("CODES_ENCRYPTION_KEYS", "c2hvcnQ="),  # base64 of 5 bytes
        ("CODES_DIGEST_KEY", None),
        ("CODES_DIGEST_KEY", "dev-insecure-digest-key"),
        ("CODES_DIGEST_KEY", "short-digest-key"),
    ],
)
def test_a_missing_development_example_or_short_secret_is_refused(name, value):
    if value == "example":
        value = _example(name)
    assert name in _refused(**{name: value})


def test_plain_http_site_url_and_private_webhooks_are_refused():
    assert "SITE_URL is not https://" in _refused(
        SITE_URL="http://distribly.example.com"
    )
    assert "WEBHOOKS_ALLOW_PRIVATE_URLS" in _refused(WEBHOOKS_ALLOW_PRIVATE_URLS="True")


def test_the_stripe_placeholders_of_env_example_are_refused():
    stderr = _refused(STRIPE_SECRET_KEY=_example("STRIPE_SECRET_KEY"))
    assert "STRIPE_SECRET_KEY" in stderr


def test_the_secret_key_placeholder_chain_is_closed():
    """With .env.example's DJANGO_SECRET_KEY anyone can sign an email confirmation
    for any address, verify it, and read that address's orders (and codes) in
    My purchases. The chain starts at start-up: that key never runs."""
    stderr = _refused(DJANGO_SECRET_KEY=_example("DJANGO_SECRET_KEY"))
    assert "DJANGO_SECRET_KEY is a development or example value" in stderr


def test_sellers_payouts_without_the_connect_secret_are_refused():
    # Payout accounts would never learn they can receive money, or lose it.
    assert "STRIPE_CONNECT_WEBHOOK_SECRET" in _refused(
        STRIPE_CONNECT_WEBHOOK_SECRET=None
    )


def test_a_live_key_pointed_at_a_stand_in_api_is_refused():
    assert "STRIPE_API_BASE" in _refused(
        STRIPE_SECRET_KEY="sk_live_0123456789", STRIPE_API_BASE="http://127.0.0.1:12111"
    )
