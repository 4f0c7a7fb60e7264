from __future__ import annotations

import pytest
from django.core.management import call_command

from codes.crypto import DecryptionError, generate_key
from codes.models import BatchIssue, Code
from tests.conftest import codes_of, raw_rows

pytestmark = pytest.mark.django_db

SECRETS = [
    "PLAINTEXT-SECRET-ALPHA",
    "PLAINTEXT-SECRET-BRAVO",
    "<i>PLAINTEXT-REJECTED</i>",
]


def test_the_database_never_holds_a_plaintext_code(listing_factory, upload):
    upload(listing_factory(), "\n".join(SECRETS + ["PLAINTEXT-SECRET-ALPHA"]))
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


def test_key_rotation_keeps_every_code_readable(listing_factory, upload, settings):
    listing = listing_factory()
    batch = upload(listing, "ROTATE-ME-ONE\nROTATE-ME-TWO\n<b>rejected</b>\n")
    old = settings.CODES_ENCRYPTION_KEYS[0]
    new = generate_key()
    settings.CODES_ENCRYPTION_KEYS = [new, old]
    assert codes_of(batch) == [
        "ROTATE-ME-ONE",
        "ROTATE-ME-TWO",
    ]  # old key still decrypts
    call_command("rotate_code_keys")
    settings.CODES_ENCRYPTION_KEYS = [new]  # old key removed
    assert codes_of(batch) == ["ROTATE-ME-ONE", "ROTATE-ME-TWO"]
    assert (
        len(
            {c.key_id for c in Code.objects.all()}
            | {i.key_id for i in BatchIssue.objects.all()}
        )
        == 1
    )
    # dedupe still works after rotation: the digest key did not change
    again = upload(listing, "ROTATE-ME-ONE\n")
    assert again.accepted == 0 and again.duplicates == 1
