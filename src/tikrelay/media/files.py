"""Writing files so that a crash never leaves half a file under its final name."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_atomically(target: Path, make: Callable[[Path], object]) -> None:
    """``make(tmp)`` writes a temporary file beside ``target``, which then replaces ``target``
    in one rename; on failure the temporary file goes."""
    # Created by the writer with the usual permissions (mkstemp's 0600 would hide the file from,
    # e.g., a local Bot API server running as another user); the random part keeps writers apart.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        make(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def is_fresh(path: Path, *, than: Path) -> bool:
    """``path`` exists and is not older than ``than``."""
    try:
        return path.stat().st_mtime_ns >= than.stat().st_mtime_ns
    except FileNotFoundError:
        return False
