"""Private storage for uploaded code files while they wait for import.

Files live under PRIVATE_UPLOAD_ROOT (never served), readable by this process's
user only, encrypted like codes (a file of codes is as secret as the codes), and
deleted once their batch is imported or has failed. An upload is counted while
it streams in and stopped at CODES_UPLOAD_MAX_BYTES (UploadLimit), before it can
fill a disk.

The stored format: MAGIC, the key id (8 bytes), then records of a 4-byte length
and an AES-GCM sealed chunk whose associated data is the file's name and the
chunk's number (chunks cannot be swapped, dropped or moved to another file
without failing authentication; the last record is marked so truncation fails).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from codes.crypto import DecryptionError, Keyring, get_keyring

MAGIC = b"DSU1"
CHUNK = 1 << 20
_LENGTH = struct.Struct(">I")


def _path(name: str) -> Path:
    return Path(settings.PRIVATE_UPLOAD_ROOT) / name


def _aad(name: str, index: int, last: bool) -> bytes:
    return f"{name}:{index}:{'last' if last else 'more'}".encode()


def upload_store(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Encrypt the chunks into a new private file. Returns its name and plaintext size."""
    keyring = get_keyring()
    name = f"batches/{uuid.uuid4().hex}.upload"
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    size = index = 0
    with open(path, "xb") as out:
        path.chmod(0o600)
        out.write(MAGIC + keyring.primary_id.to_bytes(8, "big"))
        pending = bytearray()  # appends and front deletions without copying it all
        for chunk in chunks:
            size += len(chunk)
            pending += chunk
            while len(pending) > CHUNK:
                _write(out, keyring, name, index, bytes(pending[:CHUNK]), last=False)
                del pending[:CHUNK]
                index += 1
        _write(out, keyring, name, index, bytes(pending), last=True)
    return name, size


def _write(
    out: BinaryIO, keyring: Keyring, name: str, index: int, data: bytes, *, last: bool
) -> None:
    sealed, _key_id = keyring.seal(data, aad=_aad(name, index, last))
    out.write(_LENGTH.pack(len(sealed)) + sealed)


class DecryptingReader:
    """A stored upload, read back as plaintext (`read(n)`, a context manager)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.file = open(_path(name), "rb")  # noqa: SIM115 - closed by close()
        header = self.file.read(len(MAGIC) + 8)
        if header[: len(MAGIC)] != MAGIC:
            self.file.close()
            raise OSError("not an encrypted upload")
        self.key_id = int.from_bytes(header[len(MAGIC) :], "big")
        self.keyring = get_keyring()
        self.index = 0
        self.buffer = b""
        self.done = False

    def _next_chunk(self) -> None:
        length = self.file.read(_LENGTH.size)
        if len(length) < _LENGTH.size:
            raise DecryptionError("the encrypted upload is truncated")
        sealed = self.file.read(_LENGTH.unpack(length)[0])
        last = self.file.peek(1) == b""  # nothing after this record
        self.buffer += self.keyring.open(
            sealed, key_id=self.key_id, aad=_aad(self.name, self.index, last)
        )
        self.index += 1
        self.done = last

    def read(self, size: int = -1) -> bytes:
        while not self.done and (size < 0 or len(self.buffer) < size):
            self._next_chunk()
        if size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> DecryptingReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def upload_open(name: str) -> DecryptingReader:
    """The stored file, for reading as plaintext. Raises OSError when it is gone."""
    return DecryptingReader(name)


def upload_delete(name: str) -> None:
    if name:
        _path(name).unlink(missing_ok=True)


class UploadLimit(FileUploadHandler):
    """The first of FILE_UPLOAD_HANDLERS: counts a request's uploaded bytes (all its
    files together) as they stream in and stops past CODES_UPLOAD_MAX_BYTES, before
    the next handlers keep anything in memory or on disk. `exceeded` tells the view."""

    exceeded = False
    received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.CODES_UPLOAD_MAX_BYTES:
            self.exceeded = True
            # Read and discard the rest, so that the page can answer with the reason.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> Any:
        return None  # the next handler builds the file


def upload_exceeded(request: Any) -> bool:
    """Whether an UploadLimit of this request stopped a file."""
    return any(
        isinstance(h, UploadLimit) and h.exceeded for h in request.upload_handlers
    )
