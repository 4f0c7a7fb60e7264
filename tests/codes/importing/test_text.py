"""Normalising each value: invisible characters, Unicode NFC and CSV quoting
(through the real pipeline)."""

from __future__ import annotations

import pytest

from tests.helpers import codes_of

pytestmark = pytest.mark.django_db


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
