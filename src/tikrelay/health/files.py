"""The ``state folder`` and ``cookies`` checks: what a run will find on disk, looked at without
creating or changing anything."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from tikrelay.domain.errors import TikrelayError
from tikrelay.health.report import Check, failed, passed


def check_state_folder(root: Path) -> Check:
    """What ``StatePaths.ensure`` will find, without creating or changing anything."""
    from tikrelay.config.paths import StateDirError, nearest_existing_parent

    name = "state folder"
    if root.exists():
        if not root.is_dir():
            return failed(name, str(StateDirError.is_a_file(root)))
        try:
            with tempfile.TemporaryFile(dir=root):
                pass
        except OSError as exc:
            return failed(name, str(StateDirError.not_writable(root, exc.strerror or str(exc))))
        return passed(name, f"{root} is writable", shared_note(root))
    parent = nearest_existing_parent(root)
    if not parent.is_dir():
        return failed(name, str(StateDirError.under_a_file(root, parent)))
    if os.access(parent, os.W_OK | os.X_OK):
        return passed(name, f"{root} does not exist yet; it is created on the next run")
    return failed(name, str(StateDirError.cannot_create(root, parent)))


def shared_note(path: Path | None) -> tuple[str, ...]:
    """A note when others have permissions on ``path``; the next run takes them away."""
    if path is None or not path.exists():
        return ()
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return ()
    return (f"other users may read {path} (mode {mode:04o}); the next run makes it private",)


def check_cookies(path: Path) -> Check:
    """The cookies file a run would hand yt-dlp exists and only its owner may read it."""
    from tikrelay.sources.ytdlp import check_cookie_file

    try:
        check_cookie_file(path)
    except TikrelayError as exc:
        return failed("cookies", exc.message)
    return passed("cookies", f"{path} exists and only its owner may read it")
