"""HTTP API v1: every endpoint and status code of DESIGN.md's table."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client

from api.models import ApiKey
from api.services import api_key_revoke
from codes.models import Code, CodeBatch

pytestmark = pytest.mark.django_db


def test_verify_a_sold_code(call, sold_code, api_key_for):
    listing, _, _, value = sold_code()
    response = call(
        "POST", "/codes/verify", api_key_for(listing.seller), {"code": f"  {value} "}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["valid"] is True
    assert data["status"] == "sold"
    assert data["listing"] == {"id": listing.pk, "title": listing.title}
    assert data["sold_at"]
    assert data["redeemed_at"] is None
    assert data["redeemed_by"] is None
    assert response["X-RateLimit-Limit"] == "600"
    assert int(response["X-RateLimit-Remaining"]) == 599


def test_unknown_and_other_sellers_codes_answer_identically(
    call, sold_code, user_factory, api_key_for
):
    _, _, _, value = sold_code()
    key = api_key_for(user_factory())
    theirs = call("POST", "/codes/verify", key, {"code": value})
    unknown = call("POST", "/codes/verify", key, {"code": "NO-SUCH-CODE-ANYWHERE"})
    malformed = call("POST", "/codes/verify", key, {"code": "<b>x</b>"})
    for response in (theirs, unknown, malformed):
        assert response.status_code == 404
        assert response.content == b'{"valid": false}'
    assert {k for k, _ in theirs.items()} == {k for k, _ in unknown.items()}


def test_own_unsold_code_is_known_but_not_valid(call, active_listing, api_key_for):
    listing = active_listing(codes=1)
    value = Code.objects.get(listing=listing).reveal()
    data = call(
        "POST", "/codes/verify", api_key_for(listing.seller), {"code": value}
    ).json()
    assert (data["valid"], data["status"]) == (False, "available")


def test_redeem_first_repeat_conflict_gone_and_unknown(
    call, sold_code, active_listing, api_key_for
):
    listing, _, code, value = sold_code()
    key = api_key_for(listing.seller)
    first = call(
        "POST", "/codes/redeem", key, {"code": value, "account": "alice@shop.example"}
    )
    assert first.status_code == 200
    assert first.json()["status"] == "redeemed"
    assert first.json()["redeemed_by"] == "alice@shop.example"
    assert (
        call(
            "POST",
            "/codes/redeem",
            key,
            {"code": value, "account": "alice@shop.example"},
        ).status_code
        == 200
    )
    other = call("POST", "/codes/redeem", key, {"code": value, "account": "mallory"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "already_redeemed"
    assert "alice@shop.example" in other.json()["error"]["message"]
    verify = call("POST", "/codes/verify", key, {"code": value}).json()
    assert (verify["valid"], verify["status"]) == (False, "redeemed")

    assert (
        call(
            "POST", "/codes/redeem", key, {"code": "NOPE-NOPE", "account": "a"}
        ).status_code
        == 404
    )
    unsold = Code.objects.filter(listing=listing, status="available").first().reveal()
    assert (
        call("POST", "/codes/redeem", key, {"code": unsold, "account": "a"}).status_code
        == 404
    )

    revoked = call(
        "POST", "/codes/revoke", key, {"code": value, "reason": "chargeback"}
    )
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "cancelled"
    gone = call(
        "POST", "/codes/redeem", key, {"code": value, "account": "alice@shop.example"}
    )
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "cancelled"
    code.refresh_from_db()
    assert (code.status, code.cancel_reason) == ("cancelled", "chargeback")


def test_revoke_an_unsold_code_withdraws_it(call, active_listing, api_key_for):
    listing = active_listing(codes=2)
    value = Code.objects.filter(listing=listing).first().reveal()
    response = call(
        "POST", "/codes/revoke", api_key_for(listing.seller), {"code": value}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert Code.objects.filter(listing=listing, status="available").count() == 1


def test_refund_cancellation_shows_in_the_api(
    call, sold_code, api_key_for, client, django_capture_on_commit_callbacks
):
    listing, order, _, value = sold_code()
    client.force_login(listing.seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/sell/sales/{order.reference}/refund/")
    client.logout()
    data = call(
        "POST", "/codes/verify", api_key_for(listing.seller), {"code": value}
    ).json()
    assert (data["valid"], data["status"]) == (False, "cancelled")


def test_listings_with_counts(call, sold_code, api_key_for):
    listing, *_ = sold_code()
    data = call("GET", "/listings", api_key_for(listing.seller, ["verify"])).json()
    assert data == [
        {
            "id": listing.pk,
            "title": listing.title,
            "status": "active",
            "available": 2,
            "sold": 1,
            "redeemed": 0,
        }
    ]


def test_upload_json_and_csv_then_read_the_batch(
    call, listing_factory, seller, api_key_for
):
    listing = listing_factory(seller=seller)
    key = api_key_for(seller, ["upload"])
    created = call(
        "POST",
        f"/listings/{listing.pk}/codes",
        key,
        {"codes": ["API-CODE-00001", "API-CODE-00002", "API-CODE-00001", "<i>x</i>"]},
    )
    assert created.status_code == 202
    batch = call("GET", f"/batches/{created.json()['batch']}", key).json()
    assert (
        batch["status"],
        batch["accepted"],
        batch["duplicates"],
        batch["rejected"],
    ) == ("imported", 2, 1, 1)
    assert batch["duplicate_lines"] == [
        {"line": 3, "reason": "Duplicate of line 1 in this file"}
    ]
    assert batch["rejected_lines"][0]["line"] == 4

    csv = io.BytesIO(b"code\nAPI-CSV-CODE-1\nAPI-CSV-CODE-2\n")
    csv.name = "codes.csv"
    created = call(
        "POST",
        f"/listings/{listing.pk}/codes",
        key,
        {"file": csv, "header": "true"},
        multipart=True,
    )
    assert created.status_code == 202
    batch = CodeBatch.objects.get(pk=created.json()["batch"])
    assert (batch.source, batch.accepted, batch.has_header) == ("api", 2, True)


def test_upload_errors_name_what_is_wrong(
    call, listing_factory, seller, user_factory, api_key_for
):
    listing = listing_factory(seller=seller)
    key = api_key_for(seller, ["upload"])
    bad = call("POST", f"/listings/{listing.pk}/codes", key, {"codes": []})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("codes:")
    others = listing_factory(seller=user_factory())
    assert (
        call(
            "POST", f"/listings/{others.pk}/codes", key, {"codes": ["X-1234567"]}
        ).status_code
        == 404
    )
    assert call("GET", "/batches/999999", key).status_code == 404


def test_authentication_and_scopes(call, sold_code, api_key_for):
    listing, _, _, value = sold_code()
    missing = call("POST", "/codes/verify", None, {"code": value})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert (
        call("POST", "/codes/verify", "dk_deadbeef_nope", {"code": value}).status_code
        == 401
    )
    verify_only = api_key_for(listing.seller, ["verify"])
    denied = call("POST", "/codes/redeem", verify_only, {"code": value, "account": "a"})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "missing_scope"
    assert call("GET", "/batches/1", verify_only).status_code == 403
    key = ApiKey.objects.get(prefix=verify_only.split("_")[1])
    api_key_revoke(api_key=key)
    assert (
        call("POST", "/codes/verify", verify_only, {"code": value}).status_code == 401
    )


def test_bad_bodies_are_400_with_the_field(call, seller, api_key_for):
    key = api_key_for(seller)
    response = call("POST", "/codes/redeem", key, {"code": "ABC"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_request",
        "message": "account: Field required",
    }
    response = Client().post(
        "/api/v1/codes/verify",
        "not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/api/v1/codes/verify",
        "/api/v1/codes/redeem",
        "/api/v1/codes/revoke",
        "/api/v1/listings",
        "/api/v1/listings/{listing_id}/codes",
        "/api/v1/batches/{batch_id}",
    } <= set(paths)
    for path, operations in paths.items():
        assert "code}" not in path  # codes travel only in bodies
        for op in operations.values():
            assert all(p["name"] != "code" for p in op.get("parameters", []))
    docs = client.get("/api/v1/docs").content.decode()
    assert "cdn." not in docs
    assert "/static/ninja/" in docs


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_redemptions_exactly_one_wins(sold_code, api_key_for):
    listing, _, code, value = sold_code()
    key = api_key_for(listing.seller)
    barrier = threading.Barrier(10)

    def redeem(n):
        try:
            barrier.wait()
            response = Client().post(
                "/api/v1/codes/redeem",
                json.dumps({"code": value, "account": f"account-{n}"}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {key}",
            )
            return response.status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(redeem, range(10)))
    assert statuses == [200] + [409] * 9
    code.refresh_from_db()
    assert code.status == "redeemed"
    assert code.redeemed_by.startswith("account-")
