"""Every page's <title> is "page · Distribly" (not "My purchasesDistribly")."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _title(response) -> str:
    return (
        re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)
        .group(1)
        .strip()
    )


def test_page_titles_separate_the_page_from_the_site(client, seller):
    assert (
        _title(client.get("/"))
        == "Buy licence keys, vouchers and access codes · Distribly"
    )
    assert _title(client.get(reverse("account_login"))).endswith(" · Distribly")
    client.force_login(seller)
    assert _title(client.get(reverse("sales:purchases"))) == "My purchases · Distribly"
    assert (
        _title(client.get(reverse("listings:listing-list")))
        == "Items I'm selling · Distribly"
    )
