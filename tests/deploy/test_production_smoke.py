"""The production image's own steps, without a container engine (`make smoke`).

A fresh virtualenv gets the runtime lock only (as the Dockerfile installs it);
collectstatic runs exactly as the image runs it; migrations run as the one-off
step; then gunicorn starts with gunicorn.conf.py, DJANGO_DEBUG off and a
production-like environment: an https SITE_URL behind a TLS-terminating proxy
(X-Forwarded-Proto), PostgreSQL and Redis, a real SMTP sink and the fake Stripe
API. Every public page must answer 200, static files must come with hashed names
and long cache headers, a password-reset email must reach the SMTP server, and
Buy must reach Stripe.
"""

from __future__ import annotations

import base64
import hashlib
import http.cookies
import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe as stripe_lib

from tests.e2e.helpers import SmtpSink, free_port, wait_until
from tests.fakes.stripe_server import FakeStripe
from tests.helpers import ROOT

pytestmark = pytest.mark.deploy

HOST = "distribly.example.test"
SITE = f"https://{HOST}"
VENV = ROOT / ".smoke-venv"
DATABASE = os.getenv(
    "SMOKE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/distribly_smoke"
)
REDIS = os.getenv("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/8")


def _runtime_python() -> Path:
    """A virtualenv with requirements.lock only, rebuilt when the lock changes."""
    lock = (ROOT / "requirements.lock").read_bytes()
    stamp = VENV / f".lock-{hashlib.sha256(lock).hexdigest()[:16]}"
    python = VENV / "bin" / "python"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                str(ROOT / "requirements.lock"),
            ],
            check=True,
        )
        stamp.touch()
    return python


def _production_env(smtp_port: int, stripe_url: str) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "CODES_", "STRIPE_", "PAYMENT_", "EMAIL_", "ANYMAIL_")
        )
        and k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_CURRENT_TEST")
    }
    return {
        **inherited,
        "DJANGO_DEBUG": "False",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CODES_ENCRYPTION_KEYS": base64.b64encode(os.urandom(32)).decode(),
        "CODES_DIGEST_KEY": secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "SITE_URL": SITE,
        "TRUSTED_PROXY_COUNT": "1",
        "DATABASE_URL": DATABASE,
        "REDIS_URL": REDIS,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DEFAULT_FROM_EMAIL": f"Distribly <no-reply@{HOST}>",
        "STRIPE_SECRET_KEY": "sk_test_smoke",
        "STRIPE_WEBHOOK_SECRET": "whsec_smoke",
        "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_smoke_connect",
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "PRIVATE_UPLOAD_ROOT": str(ROOT / ".smoke-uploads"),
    }


def _manage(python: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(python), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _seller_onboarded(
    python: Path, env: dict[str, str], fake: FakeStripe, email: str
) -> None:
    """Production sells only for sellers who can be paid: give the demo seller a
    connected account that finished onboarding at the (fake) Stripe."""
    account = stripe_lib.StripeClient(
        env["STRIPE_SECRET_KEY"], base_addresses={"api": fake.url}
    ).v1.accounts.create(
        params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    fake.complete_onboarding(account["id"])
    _manage(
        python,
        env,
        "shell",
        "-c",
        "from distribly.accounts.models import PayoutAccount, User; "
        f"PayoutAccount.objects.update_or_create(user=User.objects.get(email={email!r}), "
        f"defaults=dict(provider='stripe', account_id={account['id']!r}, "
        "details_submitted=True, charges_enabled=True, payouts_enabled=True))",
    )


class Site:
    """HTTP to gunicorn as the TLS-terminating proxy would send it. Cookies are kept
    by hand: they are Secure and for the public host, which a cookie jar would never
    send to http://127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(_NoRedirect())

    def request(self, path: str, data: dict[str, str] | None = None) -> Any:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=body,
            headers={
                "Host": HOST,
                "X-Forwarded-Proto": "https",
                "Referer": SITE + path,
                "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            },
        )
        try:
            response = self.opener.open(request, timeout=15)
        except urllib.error.HTTPError as e:
            response = e
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in http.cookies.SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def csrf(self) -> str:
        return self.cookies["csrftoken"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture(scope="module")
def production() -> Iterator[tuple[Site, SmtpSink, FakeStripe, dict[str, str], Path]]:
    python = _runtime_python()
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-q",
            "-c",
            "DROP DATABASE IF EXISTS distribly_smoke",
        ],
        check=True,
    )
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-q",
            "-c",
            "CREATE DATABASE distribly_smoke",
        ],
        check=True,
    )
    sink = SmtpSink()
    sink.controller.start()
    with FakeStripe() as stripe:
        env = _production_env(sink.port, stripe.url)
        # The image's build step, then its one-off migration step.
        build_env = {k: v for k, v in env.items() if k != "DJANGO_DEBUG"} | {
            "DJANGO_DEBUG": "True"
        }
        _manage(python, build_env, "collectstatic", "--noinput", "--clear")
        _manage(python, env, "migrate", "--noinput")
        seeded = json.loads(_manage(python, env, "seed_demo", "--force", "--json"))
        _seller_onboarded(python, env, stripe, seeded["seller"]["email"])
        port = free_port()
        server = subprocess.Popen(  # the image's CMD
            [str(python.parent / "gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        site = Site(port)
        try:
            wait_until(
                lambda: _healthy(site), timeout=30, what="gunicorn answering /healthz"
            )
            yield site, sink, stripe, seeded, python
        finally:
            server.terminate()
            _out, errors = server.communicate(timeout=30)
            sink.controller.stop()
            if "Traceback" in (errors or ""):
                print(errors[-5000:])


def _healthy(site: Site) -> bool:
    try:
        return bool(site.request("/healthz").status == 200)
    except urllib.error.URLError:  # not listening yet
        return False


def _listing_path(seeded: dict[str, Any]) -> str:
    return urllib.parse.urlsplit(seeded["listing"]["url"]).path


def test_every_public_page_answers_200(production):
    site, _sink, _stripe, seeded, _python = production
    item = _listing_path(seeded)
    pages = [
        "/",
        item,
        f"{item}embed/",
        "/oembed?" + urllib.parse.urlencode({"url": SITE + item}),
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/account/settings/",
        "/sitemap.xml",
        "/robots.txt",
        "/healthz",
        "/api/v1/docs",
        "/api/v1/openapi.json",
    ]
    answers = {page: site.request(page).status for page in pages}
    assert answers == dict.fromkeys(pages, 200)


def test_plain_http_is_sent_to_https(production):
    site = production[0]
    request = urllib.request.Request(site.base + "/", headers={"Host": HOST})
    try:
        response = site.opener.open(request, timeout=15)
    except urllib.error.HTTPError as e:
        response = e
    assert response.status == 301
    assert response.headers["Location"] == SITE + "/"


def test_static_files_are_hashed_and_cached_for_a_year(production):
    site = production[0]
    html = site.request("/").read().decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert assets
    for asset in assets:
        assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg|png|ico)$", asset), asset
    response = site.request(assets[0])
    assert response.status == 200
    cache = response.headers["Cache-Control"]
    assert "immutable" in cache
    assert int(re.search(r"max-age=(\d+)", cache).group(1)) >= 365 * 24 * 3600


def test_email_reaches_the_smtp_server(production):
    site, sink, _stripe, seeded, _python = production
    site.request("/accounts/password/reset/")
    response = site.request(
        "/accounts/password/reset/",
        {"email": seeded["buyer"]["email"], "csrfmiddlewaretoken": site.csrf()},
    )
    assert response.status == 302
    wait_until(lambda: sink.to(seeded["buyer"]["email"]), timeout=15)
    [message] = sink.to(seeded["buyer"]["email"])
    assert f"no-reply@{HOST}" in message["From"]


def test_buy_goes_to_stripe_checkout(production):
    site, _sink, stripe, seeded, _python = production
    item = _listing_path(seeded)
    site.request(item)
    response = site.request(
        f"{item}buy/",
        {
            "quantity": "1",
            "email": "smoke@example.com",
            "csrfmiddlewaretoken": site.csrf(),
        },
    )
    assert response.status == 302
    [session] = stripe.sessions.values()
    assert response.headers["Location"] == session["url"]
    assert session["success_url"].startswith(SITE + "/orders/")


def test_the_container_health_check_passes_as_the_image_calls_it(production):
    site = production[0]
    # Exactly the Dockerfile's HEALTHCHECK: plain http, Host 127.0.0.1, no proxy headers.
    with urllib.request.urlopen(site.base + "/healthz", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ok"
