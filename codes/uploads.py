"""Private storage for uploaded code files while they wait for import.

Files live under PRIVATE_UPLOAD_ROOT (never served), readable by this process's
user only, and are deleted once their batch is imported or has failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from django.conf import settings


def _path(name: str) -> Path:
    return Path(settings.PRIVATE_UPLOAD_ROOT) / name


def upload_store(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Write the chunks to a new private file. Returns its name and size in bytes."""
    name = f"batches/{uuid.uuid4().hex}.upload"
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    size = 0
    with open(path, "xb") as out:
        path.chmod(0o600)
        for chunk in chunks:
            size += len(chunk)
            out.write(chunk)
    return name, size


def upload_open(name: str) -> BinaryIO:
    """The stored file, for reading. Raises OSError when it is gone."""
    return open(_path(name), "rb")


def upload_delete(name: str) -> None:
    if name:
        _path(name).unlink(missing_ok=True)
