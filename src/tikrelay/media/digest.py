"""Content digests of files, read in chunks (media files can be large)."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 16


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
