"""The URL guard of outgoing webhooks: SSRF refused in production."""

from __future__ import annotations

import socket

import pytest

from codes.exceptions import WebhookURLError
from codes.webhooks.signing import check_url


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://93.184.216.34/hook",  # public but not https
        "ftp://example.com/hook",
    ],
)
def test_private_loopback_and_link_local_urls_are_refused_in_production(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(WebhookURLError):
        check_url(url)


def test_public_https_urls_are_accepted(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))
        ],
    )
    check_url("https://shop.example.com/hooks")
