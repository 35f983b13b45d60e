"""The one place that builds file paths under the state folder, and keeps that folder private."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

from tikrelay.config.loader import ConfigError

log = structlog.get_logger(__name__)

_ELSEWHERE = "or point state_dir at a folder you own"


class StateDirError(ConfigError):
    """``state_dir`` cannot be used; the message names the key and the fix."""

    @classmethod
    def is_a_file(cls, root: Path) -> StateDirError:
        return cls(f"state_dir {root} is a file: move it away, {_ELSEWHERE}")

    @classmethod
    def not_writable(cls, root: Path, reason: str) -> StateDirError:
        return cls(
            f"state_dir {root} is not writable ({reason}): run `chmod u+rwx {root}`, {_ELSEWHERE}"
        )

    @classmethod
    def under_a_file(cls, root: Path, blocker: Path) -> StateDirError:
        return cls(
            f"state_dir {root} cannot be created: {blocker} is a file: move it away, {_ELSEWHERE}"
        )

    @classmethod
    def cannot_create(cls, root: Path, parent: Path, reason: str | None = None) -> StateDirError:
        why = f" ({reason})" if reason else ""
        return cls(
            f"state_dir {root} cannot be created in {parent}{why}: create it yourself, {_ELSEWHERE}"
        )


#: The webhook secret's file name in ``state_dir``.
WEBHOOK_SECRET = "webhook-secret"  # noqa: S105 - a file name


@dataclass(frozen=True)
class StatePaths:
    """Every file and folder tikrelay keeps, derived from ``state_dir``."""

    root: Path

    @property
    def database_file(self) -> Path:
        return self.root / "tikrelay.sqlite3"

    @property
    def media_cache(self) -> Path:
        return self.root / "media"

    def post_media(self, site: str, post_id: str) -> Path:
        """A post's downloads and their Telegram-ready forms, shared by every destination."""
        safe = "".join(c for c in post_id if c.isalnum() or c in "-_") or "_"
        return self.media_cache / site / safe

    @property
    def webhook_secret(self) -> Path:
        """The secret Telegram sends with every webhook request (0600)."""
        return self.root / WEBHOOK_SECRET

    def job_log(self, job_id: int) -> Path:
        """A job's timeline written out for the bot's /debug."""
        return self.root / "logs" / f"job-{job_id}.txt"

    @property
    def cookie_jar(self) -> Path:
        """A private copy of ``network.cookies_file``, kept up to date by the source (0600)."""
        return self.root / "cookies.txt"

    @property
    def locks(self) -> Path:
        """Lock files of one-at-a-time work shared by processes on this machine."""
        return self.root / "locks"

    @property
    def sandbox(self) -> Path:
        return self.root / "sandbox"

    @property
    def stats_chart(self) -> Path:
        """The bot's /stats chart, drawn anew for each asking."""
        return self.root / "bot" / "stats.png"

    def ensure(self) -> StatePaths:
        """Create the state folder private to the user (it holds the database, media and the CA
        bundle), or make an existing one private; raise StateDirError when it cannot be used."""
        root = self.root
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:  # mkdir's exist_ok covers folders only
            raise StateDirError.is_a_file(root) from None
        except OSError as exc:  # a file on the way, a read-only or foreign parent
            parent = nearest_existing_parent(root)
            if not parent.is_dir():
                raise StateDirError.under_a_file(root, parent) from None
            raise StateDirError.cannot_create(root, parent, exc.strerror) from None
        if not os.access(root, os.W_OK | os.X_OK):
            raise StateDirError.not_writable(root, "permission denied")
        make_private(root, 0o700)
        return self


def nearest_existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def make_private(path: Path, mode: int) -> None:
    """Take group and other permissions off ``path`` (ours, created before with looser ones);
    warn when that cannot be done, for the folder holds what others should not read."""
    try:
        found = path.stat()
    except OSError:  # not there (yet), or under a file: whoever opens it reports that
        return
    if not found.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return
    current = stat.S_IMODE(found.st_mode)
    problem = None
    if found.st_uid != os.geteuid():
        problem = "it belongs to another user"
    else:
        try:
            path.chmod(current & mode)
        except OSError as exc:
            problem = exc.strerror or str(exc)
    if problem is not None:
        log.warning(
            "not_private",
            path=str(path),
            mode=f"{current:04o}",
            problem=problem,
            fix=f"other users may read it: run `chmod go-rwx {path}` as its owner",
        )


def fixtures_cache_dir() -> Path:
    """Where generated media fixtures are cached between runs (not inside any state folder)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tikrelay" / "fixtures"
