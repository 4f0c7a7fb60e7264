"""What POST /codes/verify costs the database (issue 15, target 3: the verify tail).

A verify is a read. Per call it runs two SELECTs (the key, the code) and writes
nothing, but for the key's last use, recorded at most once a minute: an UPDATE per
call would be a hot-row write (a WAL flush and a dead row version each time, with
no autovacuum to clean them up on a busy box).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from api.models import ApiKey

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().startswith(WRITES)
    ]


def _verify(plaintext: str, value: str) -> Any:
    """As a seller's server calls it: a fresh client, no cookies."""
    return Client().post(
        "/api/v1/codes/verify",
        {"code": value},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plaintext}",
    )


def test_verify_records_the_keys_last_use_at_most_once_a_minute(sold_code, api_key_for):
    listing, _, _, value = sold_code()
    plaintext = api_key_for(listing.seller, ["verify"])
    key = ApiKey.objects.get(prefix=plaintext.split("_")[1])
    assert key.last_used_at is None

    with CaptureQueriesContext(connection) as first:
        response = _verify(plaintext, value)
    assert response.status_code == 200
    [write] = _writes(first)
    assert write.startswith('UPDATE "codes_apikey" SET "last_used_at"')
    key.refresh_from_db()
    recorded = key.last_used_at
    assert recorded is not None

    with CaptureQueriesContext(connection) as repeats:
        for _ in range(3):
            response = _verify(plaintext, value)
            assert response.status_code == 200
            assert response.json()["valid"] is True
    assert _writes(repeats) == []
    assert len(repeats.captured_queries) == 3 * 2  # the key and the code, per call
    key.refresh_from_db()
    assert key.last_used_at == recorded

    # A minute on, the next call records the use again.
    a_minute_ago = recorded - timedelta(seconds=61)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=a_minute_ago)
    _verify(plaintext, value)
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert key.last_used_at >= recorded
