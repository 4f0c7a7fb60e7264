"""Streaming a code file into numbered lines, in constant memory.

Encodings: UTF-8 with or without BOM, UTF-16 LE/BE with BOM (Excel's "Unicode
text"). Line endings LF, CRLF or CR. Bytes that do not decode never reach a
code: the line is reported as undecodable with its number.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from django.utils.translation import gettext as _

CHUNK_BYTES = 1 << 20
NEWLINE_RE = re.compile(r"\r\n|\r|\n")
# Lone surrogates never come out of a valid decode, so they mark undecodable bytes.
SURROGATE_RE = re.compile("[\ud800-\udfff]")
_ERROR_HANDLER = "distribly-undecodable"


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):  # registered for decoding only
        raise error
    return "\udc00", error.end


codecs.register_error(_ERROR_HANDLER, _mark_undecodable)


class Readable(Protocol):
    """What the reader needs of a file: a binary `read`."""

    def read(self, size: int = -1, /) -> bytes: ...


class UnreadableFile(Exception):
    """The file cannot be read as text at all (message is user-safe)."""


@dataclass
class Line:
    number: int  # 1-based physical line of the file
    text: str | None  # None: the line's bytes do not decode


@dataclass
class ReadState:
    encoding: str = "utf-8"
    bytes_read: int = 0


def _detect(head: bytes) -> tuple[str, int]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", len(codecs.BOM_UTF8)
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    if b"\x00" in head[:4096]:
        raise UnreadableFile(
            _(
                "This looks like a binary file or UTF-16 text without a byte-order mark. "
                "Save it as CSV (UTF-8) or as Unicode text and upload it again."
            )
        )
    return "utf-8", 0


def iter_lines(stream: Readable, state: ReadState | None = None) -> Iterator[Line]:
    state = state if state is not None else ReadState()
    first = stream.read(CHUNK_BYTES)
    encoding, skip = _detect(first)
    state.encoding = encoding
    decoder = codecs.getincrementaldecoder(encoding)(errors=_ERROR_HANDLER)
    pending = ""
    number = 0
    chunk = first[skip:]
    state.bytes_read = len(first)
    while True:
        final = not chunk
        text = pending + decoder.decode(chunk, final=final)
        # A trailing "\r" may be the first half of a CRLF split across chunks.
        hold = "\r" if not final and text.endswith("\r") else ""
        if hold:
            text = text[:-1]
        pieces = NEWLINE_RE.split(text)
        # The last piece is an unfinished line (or "" after a final newline).
        pending = pieces.pop() + hold
        if final and pending:
            pieces.append(pending)
        for piece in pieces:
            number += 1
            yield Line(number, None if SURROGATE_RE.search(piece) else piece)
        if final:
            return
        chunk = stream.read(CHUNK_BYTES)
        state.bytes_read += len(chunk)
