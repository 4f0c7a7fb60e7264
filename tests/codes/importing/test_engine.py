"""The import engine, through the real pipeline (upload → task → merge)."""

from __future__ import annotations

import codecs

import pytest

from codes.models import CodeBatch
from tests.conftest import codes_of, issues_of

pytestmark = pytest.mark.django_db


def test_each_line_is_accepted_or_reported_with_its_line_number(
    listing_factory, upload
):
    listing = listing_factory()
    content = "\n".join(
        [
            "code",  # 1 header
            "GOOD-0001-AAAA",  # 2
            "",  # 3 blank
            "   ",  # 4 blank (whitespace only)
            "  TRIM-ME-PLEASE  ",  # 5
            "<b>bold</b>",  # 6 HTML
            "x" * 255,  # 7 exactly the limit
            "y" * 256,  # 8 too long
            "TAB\tINSIDE",  # 9 control character
            '"QUOTED-CODE"',  # 10 single CSV-quoted field
            "Visit https://example.com/redeem?code=ZX81 to redeem",  # 11 text and URL allowed
            "a<b but not html",  # 12 a lone < is fine
            "GOOD-0001-AAAA",  # 13 duplicate of line 2
        ]
    )
    batch = upload(listing, content, has_header=True)
    assert batch.status == CodeBatch.Status.IMPORTED
    assert batch.skipped_blank == 2
    assert issues_of(batch) == [
        (6, "rejected", "Contains HTML, which can't be used in codes"),
        (8, "rejected", "Too long: 256 characters; the limit is 255"),
        (9, "rejected", "Contains a control character (U+0009 TAB) at column 4"),
        (13, "duplicate", "Duplicate of line 2 in this file"),
    ]
    assert codes_of(batch) == [
        "GOOD-0001-AAAA",
        "TRIM-ME-PLEASE",
        "x" * 255,
        "QUOTED-CODE",
        "Visit https://example.com/redeem?code=ZX81 to redeem",
        "a<b but not html",
    ]
    assert (batch.accepted, batch.rejected, batch.duplicates) == (6, 3, 1)
    assert batch.lines_processed == 13


def test_without_header_the_first_line_is_a_code(listing_factory, upload):
    batch = upload(listing_factory(), "FIRST-LINE-CODE\nSECOND-LINE-CODE\n")
    assert codes_of(batch) == ["FIRST-LINE-CODE", "SECOND-LINE-CODE"]


def test_invisible_characters_are_removed_with_a_warning_and_text_is_nfc(
    listing_factory, upload
):
    content = (
        "ZERO\u200bWIDTH-CODE\n\ufeffBOM-IN-MIDDLE-OF-FILE\nCAFE\u0301-LATTE-CODE\n"
    )
    batch = upload(listing_factory(), content)
    assert codes_of(batch) == [
        "ZEROWIDTH-CODE",
        "BOM-IN-MIDDLE-OF-FILE",
        "CAF\u00c9-LATTE-CODE",
    ]
    assert any(
        "Removed 2 invisible character(s)" in w and "2 line(s)" in w
        for w in batch.warnings
    )


def test_quoted_field_with_doubled_quotes_is_unquoted(listing_factory, upload):
    batch = upload(listing_factory(), '"SAY ""HELLO"" CODE"\n"A","B"\n')
    assert codes_of(batch) == ['SAY "HELLO" CODE', '"A","B"']


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
    from codes.importing import reader

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


def test_too_many_lines_fails_the_batch_and_keeps_nothing(
    listing_factory, upload, settings
):
    settings.CODES_UPLOAD_MAX_LINES = 5
    batch = upload(
        listing_factory(), "\n".join(f"CODE-NUMBER-{i:04}" for i in range(6))
    )
    assert batch.status == CodeBatch.Status.FAILED
    assert "more than 5 lines" in batch.failure_reason
    assert batch.codes.count() == 0


def test_uploaded_file_is_deleted_once_imported(listing_factory, upload, settings):
    batch = upload(listing_factory(), "SOME-CODE-VALUE\n")
    assert batch.upload_name == ""
    leftovers = list((settings.PRIVATE_UPLOAD_ROOT / "batches").iterdir())
    assert leftovers == []
