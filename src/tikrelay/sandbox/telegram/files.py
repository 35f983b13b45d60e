"""Stored files: ids that can be sent again, metadata Telegram derives, and download paths."""

from __future__ import annotations

import mimetypes
import os
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tikrelay.media.digest import file_sha256
from tikrelay.media.probe import MediaProbeError, probe
from tikrelay.sandbox.telegram.params import Upload

# Folder names Telegram uses in getFile paths (e.g. "videos/file_3.mp4").
_FOLDERS = {
    "photo": "photos",
    "video": "videos",
    "audio": "music",
    "document": "documents",
    "animation": "animations",
    "thumbnail": "thumbnails",
}


@dataclass
class StoredFile:
    """One file the emulator holds, with what Telegram would report about it."""

    file_id: str
    file_unique_id: str
    kind: str
    path: Path
    size: int
    sha256: str
    file_path: str
    meta: dict[str, Any] = field(default_factory=dict)


def describe(path: Path, kind: str) -> dict[str, Any]:
    """Width, height and duration as Telegram measures them (zero when it cannot tell)."""
    if kind == "photo" or kind == "thumbnail":
        from PIL import Image

        try:
            with Image.open(path) as img:
                return {"width": img.width, "height": img.height}
        except OSError:
            return {"width": 0, "height": 0}
    if kind in ("video", "animation", "audio"):
        try:
            info = probe(path)
        except MediaProbeError:
            return {"width": 0, "height": 0, "duration": 0}
        return {
            "width": info.width or 0,
            "height": info.height or 0,
            "duration": round(info.duration or 0),
        }
    return {}


class FileStore:
    """Files by id; uploads are moved (never copied) into ``root``, ``file://`` paths referenced."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = 0

    def add_upload(self, upload: Upload, kind: str) -> StoredFile:
        meta = describe(upload.path, kind)
        meta["file_name"] = upload.filename
        meta["mime_type"] = upload.content_type
        return self._register(upload.path, kind, upload.size, upload.sha256, meta, move=True)

    def add_local(self, path: Path, kind: str) -> StoredFile:
        """A file the client named by ``file://`` path (local Bot API server mode)."""
        meta = describe(path, kind)
        meta["file_name"] = path.name
        meta["mime_type"] = mimetypes.guess_type(path.name)[0]
        size = path.stat().st_size
        return self._register(path, kind, size, file_sha256(path), meta, move=False)

    def _register(
        self, path: Path, kind: str, size: int, sha256: str, meta: dict[str, Any], *, move: bool
    ) -> StoredFile:
        with self._lock:
            self._counter += 1
            number = self._counter
        suffix = Path(meta.get("file_name") or "").suffix or _default_suffix(kind)
        file_path = f"{_FOLDERS.get(kind, 'documents')}/file_{number}{suffix}"
        if move:
            target = self.root / file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            path = target
        stored = StoredFile(
            file_id=f"{kind[:2].upper()}AACAgIAAx{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{secrets.token_urlsafe(9)}",
            kind=kind,
            path=path,
            size=size,
            sha256=sha256,
            file_path=file_path,
            meta=meta,
        )
        with self._lock:
            self._by_id[stored.file_id] = stored
            self._by_path[file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        with self._lock:
            return self._by_path.get(file_path)

    def remove_all(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _default_suffix(kind: str) -> str:
    return {"photo": ".jpg", "video": ".mp4", "audio": ".mp3", "thumbnail": ".jpg"}.get(kind, "")


def media_json(stored: StoredFile, kind: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The Bot API object (Video, Audio, Document, Animation or PhotoSize) for a stored file.

    ``overrides`` are the sender's width/height/duration/performer/title: for videos, animations
    and audio the Bot API documents them as "as defined by the sender".
    """
    meta = {**stored.meta, **{k: v for k, v in overrides.items() if v is not None}}
    data: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if kind in ("photo", "thumbnail"):
        data.update(width=meta.get("width", 0), height=meta.get("height", 0))
    elif kind in ("video", "animation"):
        data.update({key: meta.get(key, 0) for key in ("width", "height", "duration")})
    elif kind == "audio":
        data["duration"] = meta.get("duration", 0)
        data.update({k: meta[k] for k in ("performer", "title") if meta.get(k)})
    if kind != "photo" and kind != "thumbnail":
        data.update({k: meta[k] for k in ("file_name", "mime_type") if meta.get(k)})
    data["file_size"] = stored.size
    return data
