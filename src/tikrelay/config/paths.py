"""The one place that builds file paths under the state folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    def locks(self) -> Path:
        """Lock files of one-at-a-time work shared by processes on this machine."""
        return self.root / "locks"

    @property
    def sandbox(self) -> Path:
        return self.root / "sandbox"

    def ensure(self) -> StatePaths:
        """Create the state folder (private to the user: it holds the database and cookies)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def fixtures_cache_dir() -> Path:
    """Where generated media fixtures are cached between runs (not inside any state folder)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tikrelay" / "fixtures"
