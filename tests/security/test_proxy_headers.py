"""Headers a client could forge are believed only behind our own proxies (issue 11).

Before: X-Forwarded-Proto was always trusted, and the reveal audit took whatever
address the request came from."""

from __future__ import annotations

from django.test import RequestFactory

from distribly.http import client_ip
from tests.helpers import PRODUCTION_ENV, run_manage

FORGED = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7"}


def test_without_trusted_proxies_the_forwarded_address_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(RequestFactory().get("/", **FORGED)) == "10.0.0.2"


def test_behind_one_proxy_the_address_it_saw_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # 6.6.6.6 was written by the client itself; our proxy appended 198.51.100.7.
    assert client_ip(RequestFactory().get("/", **FORGED)) == "198.51.100.7"


def _ssl_header(env: dict[str, str]) -> str:
    result = run_manage(
        env,
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_x_forwarded_proto_is_believed_only_with_trusted_proxies():
    assert _ssl_header(PRODUCTION_ENV) == "None"
    assert "HTTP_X_FORWARDED_PROTO" in _ssl_header(
        {**PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": "1"}
    )
