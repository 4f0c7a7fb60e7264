"""What the seller sees on a reported code: their own system's redemption (the API
or Validate a code) and every time its value was shown to them."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from codes.models import Code
from sales.models import Claim

pytestmark = pytest.mark.django_db

FRAGMENT = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


@pytest.fixture
def delivered(active_listing, buy):
    """(listing, order, code): one code delivered to a guest."""
    listing = active_listing(codes=2)
    order = buy(listing, email="buyer@example.com")
    return listing, order, Code.objects.get(order_id=order.pk)


def _report(client, order, code, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("sales:claim-report", args=[order.token, code.pk]),
            {"reason": "used", "message": "The store says it was already used."},
        )
    return Claim.objects.get(code=code)


def _evidence_page(client, claim):
    client.force_login(claim.order.listing.seller)
    response = client.get(reverse("sales:claim-detail", args=[claim.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_claim_shows_the_api_redemption_and_each_time_the_seller_saw_the_code(
    client, delivered, api_key_for, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    key = api_key_for(listing.seller)
    redeemed = client.post(
        "/api/v1/codes/redeem",
        json.dumps({"code": code.reveal(), "account": "alice@shop.example"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert redeemed.status_code == 200
    client.force_login(listing.seller)
    for _ in range(2):
        shown = client.post(
            reverse("sales:sales-show-code", args=[code.pk]), **FRAGMENT
        )
        assert shown.status_code == 200
    client.logout()
    claim = _report(client, order, code, django_capture_on_commit_callbacks)
    code.refresh_from_db()
    assert code.status == "redeemed"
    page = _evidence_page(client, claim)
    assert "No redemption recorded" not in page
    assert f"{code.redeemed_at:%Y-%m-%d %H:%M} UTC by “alice@shop.example”" in page
    assert "2 times: Show code" in page
    assert "Shown to you</dt><dd>Never" not in page
    assert code.reveal() not in page  # evidence, never the value


def test_the_claim_shows_a_validate_a_code_redemption_and_a_batch_download(
    client, delivered, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    client.force_login(listing.seller)
    client.post(
        reverse("codes:validate-redeem", args=[code.pk]), {"account": "front desk"}
    )
    download = client.get(reverse("codes:batch-codes-download", args=[code.batch_id]))
    assert code.reveal() in b"".join(download.streaming_content).decode()
    client.logout()
    claim = _report(client, order, code, django_capture_on_commit_callbacks)
    code.refresh_from_db()
    page = _evidence_page(client, claim)
    assert f"{code.redeemed_at:%Y-%m-%d %H:%M} UTC by “front desk”" in page
    assert "1 time: Downloaded a generated batch" in page


def test_another_codes_reveals_are_not_this_codes_evidence(
    client, delivered, buy, django_capture_on_commit_callbacks
):
    listing, order, code = delivered
    other = Code.objects.get(order_id=buy(listing, email="other@example.com").pk)
    client.force_login(listing.seller)
    client.post(reverse("sales:sales-show-code", args=[other.pk]), **FRAGMENT)
    client.logout()
    claim = _report(client, order, code, django_capture_on_commit_callbacks)
    page = _evidence_page(client, claim)
    assert "No redemption recorded" in page
    assert "Shown to you</dt><dd>Never</dd>" in page
