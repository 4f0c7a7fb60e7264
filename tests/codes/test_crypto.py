"""Codes are encrypted at rest, bound to their seller."""

from __future__ import annotations

import pytest

from codes.crypto import DecryptionError
from tests.helpers import raw_rows

pytestmark = pytest.mark.django_db

SECRETS = [
    "PLAINTEXT-SECRET-ALPHA",
    "PLAINTEXT-SECRET-BRAVO",
    "<i>PLAINTEXT-REJECTED</i>",
]


def test_the_database_never_holds_a_plaintext_code(listing_factory, upload):
    upload(listing_factory(), "\n".join([*SECRETS, "PLAINTEXT-SECRET-ALPHA"]))
    rows = raw_rows("SELECT * FROM codes_code") + raw_rows(
        "SELECT * FROM codes_batchissue"
    )
    assert len(rows) == 4
    dump = repr(rows).encode() + b"".join(
        bytes(v) for r in rows for v in r if isinstance(v, (bytes, memoryview))
    )
    for secret in ["PLAINTEXT-SECRET", "PLAINTEXT-REJECTED", "LAINTEXT"]:
        assert secret.encode() not in dump
        assert secret.encode("utf-16-le") not in dump
    # and nothing sits in the batch's JSON columns either
    batch_dump = repr(raw_rows("SELECT * FROM codes_codebatch"))
    assert "PLAINTEXT" not in batch_dump


def test_ciphertext_is_bound_to_its_seller(listing_factory, upload):
    batch = upload(listing_factory(), "BOUND-TO-SELLER-1\n")
    code = batch.codes.get()
    code.seller_id = code.seller_id + 1000
    with pytest.raises(DecryptionError):
        code.reveal()
