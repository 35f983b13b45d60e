"""Call parameters in every encoding python-telegram-bot and other clients use.

Parameters may come as a JSON body, an urlencoded form, the query string or multipart form data.
Form values are strings (lists and objects JSON-encoded), JSON values are typed; ``Params`` reads
both. File parts of a multipart body are streamed to disk in chunks and hashed on the way, so an
upload never sits in memory whole; a part larger than the upload limit is drained and refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, web

from tikrelay.sandbox.telegram.errors import TOO_LARGE, bad_request

CHUNK = 256 * 1024


@dataclass
class Upload:
    """One file part of a multipart request, already on disk."""

    part_name: str
    filename: str | None
    content_type: str | None
    path: Path
    size: int
    sha256: str


@dataclass
class Params:
    values: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def get_str(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty" if name == "text" else f"{name} is required")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def get_int(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is required")
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def chat_id(self) -> int | str:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None

    def plain(self) -> dict[str, Any]:
        """The non-file parameters, for the call record."""
        return dict(self.values)

    def discard_uploads(self) -> None:
        for upload in self.uploads.values():
            upload.path.unlink(missing_ok=True)
        self.uploads.clear()


async def read_params(request: web.Request, upload_dir: Path, upload_limit: int) -> Params:
    params = Params(values=dict(request.query))
    if request.method != "POST" or not request.can_read_body:
        return params
    content_type = request.content_type
    if content_type == "multipart/form-data":
        await _read_multipart(request, params, upload_dir, upload_limit)
    elif content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.values.update(body)
    else:
        form = await request.post()
        params.values.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


async def _read_multipart(
    request: web.Request, params: Params, upload_dir: Path, upload_limit: int
) -> None:
    reader = await request.multipart()
    too_large = False
    try:
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                params.values[part.name] = await part.text()
                continue
            upload = await _save_part(part, upload_dir, upload_limit)
            if upload is None:
                too_large = True
            else:
                params.uploads[part.name] = upload
    except BaseException:
        params.discard_uploads()
        raise
    if too_large:
        params.discard_uploads()
        raise TOO_LARGE


async def _save_part(part: BodyPartReader, upload_dir: Path, limit: int) -> Upload | None:
    """Stream one file part to disk; None (with the part drained) if it is over ``limit``."""
    path, out = _temp_file(upload_dir)
    digest, size = hashlib.sha256(), 0
    with out:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > limit:
                continue  # keep reading so the client gets our answer, not a broken pipe
            digest.update(chunk)
            out.write(chunk)
    if size > limit:
        os.unlink(path)
        return None
    return Upload(
        part_name=part.name or "",
        filename=part.filename,
        content_type=part.headers.get("Content-Type"),
        path=path,
        size=size,
        sha256=digest.hexdigest(),
    )


def _temp_file(upload_dir: Path) -> tuple[Path, BinaryIO]:
    upload_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=upload_dir, prefix="upload-")
    return Path(name), os.fdopen(fd, "wb")
