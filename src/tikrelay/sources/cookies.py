"""The user's TikTok cookies, used through a private copy that tikrelay keeps up to date.

yt-dlp saves its cookie jar into the ``cookiefile`` it was given whenever a YoutubeDL closes, by
truncating the file and writing it again: pointed at the user's file, it would rewrite that file
hundreds of times a run, and a reader (the user, another job loading it) could find it empty.
So tikrelay never writes the user's file. It copies it into the state folder (mode 0600) and
gives yt-dlp the copy; cookies TikTok sets (``tt_chain_token``, challenge cookies, refreshed
sessions) are merged into the copy by a write to a temporary file and a rename, so the copy is
always whole. When the user's file is newer than the copy (the user exported fresh cookies), the
copy is made again from it: the user's file wins.
"""

from __future__ import annotations

import os
import threading
from http.cookiejar import CookieJar
from pathlib import Path

from yt_dlp.cookies import YoutubeDLCookieJar

from tikrelay.media.files import is_fresh, write_atomically

# One process saves one jar at a time: each save merges what is on disk with its own cookies.
_lock = threading.Lock()


def private_copy(user_file: Path, jar: Path) -> Path:
    """``jar``, made from ``user_file`` if it is missing or older than ``user_file``."""
    with _lock:
        if not is_fresh(jar, than=user_file):
            data = user_file.read_bytes()
            write_atomically(jar, lambda tmp: _write_private(tmp, data))
    return jar


def save_jar(cookies: CookieJar, jar: Path) -> None:
    """Merge ``cookies`` into ``jar`` (``cookies`` win) and replace it in one rename."""
    with _lock:
        merged = YoutubeDLCookieJar(str(jar))
        if jar.is_file():
            merged.load()
        for cookie in cookies:
            merged.set_cookie(cookie)

        def make(tmp: Path) -> None:
            _write_private(tmp, b"")
            merged.save(str(tmp))

        write_atomically(jar, make)


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only, before anything is written into it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
