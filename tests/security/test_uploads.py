"""Uploads are counted while they stream in and stored encrypted (issue 11).

Before: the size was checked only once the whole file was on disk (the API even
copied it first), and waiting uploads were plaintext files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import (
    MemoryFileUploadHandler,
    TemporaryFileUploadHandler,
)
from django.urls import reverse

from codes.models import CodeBatch
from codes.services.batches import batch_create_upload
from codes.services.imports import code_batch_import

pytestmark = pytest.mark.django_db
LIMIT = 100_000


@pytest.fixture
def stored_bytes(monkeypatch, settings):
    """How many bytes of uploads reached Django's own handlers (memory or disk)."""
    settings.CODES_UPLOAD_MAX_BYTES = LIMIT
    received = []
    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        real = handler.receive_data_chunk

        def counting(self, raw_data, start, real=real):
            received.append(len(raw_data))
            return real(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    return received


def _big_file() -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "codes.csv", b"CODE-0000000000-XXXX\n" * 15_000
    )  # ~315 kB


def test_a_web_upload_stops_at_the_limit_while_it_streams(
    client, seller, listing_factory, stored_bytes
):
    listing = listing_factory(seller=seller)
    client.force_login(seller)
    response = client.post(
        reverse("codes:batch-add", args=[listing.pk]),
        {"source": "upload", "file": _big_file()},
    )
    assert "The file is larger than 97.7\xa0KB" in response.content.decode()
    assert sum(stored_bytes) <= LIMIT
    assert not CodeBatch.objects.exists()


def test_an_api_upload_stops_at_the_limit_while_it_streams(
    client, seller, listing_factory, api_key_for, stored_bytes
):
    listing = listing_factory(seller=seller)
    response = client.post(
        f"/api/v1/listings/{listing.pk}/codes",
        {"file": _big_file()},
        HTTP_AUTHORIZATION=f"Bearer {api_key_for(seller)}",
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("file: larger than")
    assert sum(stored_bytes) <= LIMIT
    assert not CodeBatch.objects.exists()


def test_a_waiting_upload_is_encrypted_and_still_imports(settings, listing_factory):
    codes = [f"PLAIN-SECRET-{i:04}" for i in range(50)]
    batch = batch_create_upload(
        listing=listing_factory(),
        file=io.BytesIO("\n".join(codes).encode()),
        filename="c.csv",
        has_header=False,
    )
    stored = (Path(settings.PRIVATE_UPLOAD_ROOT) / batch.upload_name).read_bytes()
    assert not any(code.encode() in stored for code in codes)
    assert code_batch_import(batch_id=batch.pk).accepted == 50


def test_a_damaged_upload_fails_with_a_clear_reason(settings, listing_factory):
    batch = batch_create_upload(
        listing=listing_factory(),
        file=io.BytesIO(b"ONE-CODE-1234\nTWO-CODE-5678\n"),
        filename="c.csv",
        has_header=False,
    )
    path = Path(settings.PRIVATE_UPLOAD_ROOT) / batch.upload_name
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    result = code_batch_import(batch_id=batch.pk)
    assert result.status == CodeBatch.Status.FAILED
    assert "could not be read back" in result.failure_reason
