"""Reading an upload into lines: encodings, byte-order marks, line endings,
undecodable bytes and binary files (through the real pipeline)."""

from __future__ import annotations

import codecs

import pytest

from codes.importing import reader
from codes.models import CodeBatch
from tests.helpers import codes_of, issues_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
    ],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_supported_encoding_and_line_ending(
    listing_factory, upload, encoding, bom, newline
):
    text = (
        newline.join(["header", "ÜNÏCÖDÉ-KEY-1", "", "PLAIN-KEY-2", "日本語キー3"])
        + newline
    )
    batch = upload(listing_factory(), bom + text.encode(encoding), has_header=True)
    assert batch.status == CodeBatch.Status.IMPORTED
    assert codes_of(batch) == ["ÜNÏCÖDÉ-KEY-1", "PLAIN-KEY-2", "日本語キー3"]
    assert [c.line for c in batch.codes.order_by("line")] == [2, 4, 5]
    assert batch.skipped_blank == 1
    assert issues_of(batch) == []


def test_undecodable_bytes_are_reported_with_their_line_number(listing_factory, upload):
    content = b"GOOD-CODE-ONE\nBAD-\xff\xfe-CODE\nGOOD-CODE-TWO\n\xc3(\n"
    batch = upload(listing_factory(), content)
    assert codes_of(batch) == ["GOOD-CODE-ONE", "GOOD-CODE-TWO"]
    assert issues_of(batch) == [
        (2, "rejected", "Could not be decoded as UTF-8 text"),
        (4, "rejected", "Could not be decoded as UTF-8 text"),
    ]


def test_crlf_split_across_read_chunks_is_one_line_ending(
    listing_factory, upload, monkeypatch
):
    monkeypatch.setattr(reader, "CHUNK_BYTES", 4)
    batch = upload(listing_factory(), b"ABC\r\nDEFGHIJ\r\nKLMNOPQ\r\n")
    assert [(c.line, c.reveal()) for c in batch.codes.order_by("line")] == [
        (1, "ABC"),
        (2, "DEFGHIJ"),
        (3, "KLMNOPQ"),
    ]
    assert batch.skipped_blank == 0


def test_binary_file_fails_with_a_clear_message(listing_factory, upload):
    batch = upload(listing_factory(), b"\x00\x01\x02PK\x03\x04" * 50)
    assert batch.status == CodeBatch.Status.FAILED
    assert "binary file" in batch.failure_reason
    assert batch.codes.count() == 0
