"""What a code (one line of a file) may contain, and how it is normalised.

The same `normalise` serves imports and look-ups, so a code pasted into the
validation page or sent to the API matches what the seller uploaded. The same
`case_fold` serves both for listings whose codes are case-insensitive.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _

# One definition of "HTML" for codes and seller text. A lone "<" (as in "a<b")
# is not HTML and stays allowed.
from distribly.text import HTML_RE

MAX_CODE_LENGTH = 255
ASCII_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class InvalidCode(ValueError):
    """A value that cannot be a code; the message is safe to show (no value inside)."""


@dataclass(frozen=True)
class Normalised:
    value: str
    invisible_removed: int


def _describe_char(ch: str) -> str:
    names = {
        "\t": "TAB",
        "\x00": "NUL",
        "\x0b": "VERTICAL TAB",
        "\x0c": "FORM FEED",
        "\x7f": "DELETE",
    }
    name = names.get(ch) or unicodedata.name(ch, "") or "control character"
    return f"U+{ord(ch):04X} {name}"


def normalise(text: str) -> Normalised:
    """Trim, strip invisible format characters, NFC-normalise and validate one code.

    Raises InvalidCode for control characters, HTML and over-long values. A blank
    result comes back as "" for the caller to count or refuse.
    """
    removed = 0
    if not text.isascii():
        # Invisible format characters (zero-width space/joiners, BOMs, bidi marks).
        kept = [ch for ch in text if unicodedata.category(ch) != "Cf"]
        removed = len(text) - len(kept)
        text = unicodedata.normalize("NFC", "".join(kept))
    text = _unquote(text.strip())
    if text:
        _check(text)
    return Normalised(text, removed)


def case_fold(value: str) -> str:
    """The form of a normalised code that a case-insensitive listing stores the digest
    of (Listing.codes_case_insensitive): the import digests it, and a look-up tries it.

    Upper case, so that generated codes (upper case already) are their own folded
    form. Unicode's full mapping: "straße" and "STRASSE" are one code too.
    """
    return value.upper()


def _unquote(text: str) -> str:
    """A single CSV-quoted field ("" inside means a quote) loses its quotes. Anything
    else, such as two quoted fields, is kept as written: text is allowed in codes."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        if '"' not in inner.replace('""', ""):
            return inner.replace('""', '"').strip()
    return text


def _check(text: str) -> None:
    """Refuse control characters (with their column), HTML and over-long values."""
    if text.isascii():
        bad = ASCII_CONTROL_RE.search(text)
        control = (bad.group(), bad.start()) if bad else None
    else:
        control = next(
            (
                (ch, i)
                for i, ch in enumerate(text)
                if unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029"
            ),
            None,
        )
    if control is not None:
        raise InvalidCode(
            _("Contains a control character (%(char)s) at column %(column)d")
            % {"char": _describe_char(control[0]), "column": control[1] + 1}
        )
    if "<" in text and HTML_RE.search(text):
        raise InvalidCode(_("Contains HTML, which can't be used in codes"))
    if len(text) > MAX_CODE_LENGTH:
        raise InvalidCode(
            _("Too long: %(length)d characters; the limit is %(limit)d")
            % {"length": len(text), "limit": MAX_CODE_LENGTH}
        )


def mask(value: str) -> str:
    """Enough of a code to recognise its shape, not enough to use it."""
    if len(value) <= 6:
        return "•" * len(value)
    keep = min(4, max(1, len(value) // 8))
    return f"{value[:keep]}{'•' * min(8, len(value) - 2 * keep)}{value[-keep:]}"
