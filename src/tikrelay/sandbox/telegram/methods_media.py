"""Media messages (single and albums) and files: uploads, ``file_id`` reuse, ``file://`` paths."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from tikrelay.sandbox.telegram.context import (
    CAPTION_LIMIT,
    CLOUD_DOWNLOAD_LIMIT,
    Call,
    check_can_send,
    check_flood,
    method,
)
from tikrelay.sandbox.telegram.entities import format_text
from tikrelay.sandbox.telegram.errors import WRONG_FILE_ID, bad_request
from tikrelay.sandbox.telegram.files import StoredFile, media_json
from tikrelay.sandbox.telegram.methods_messages import formatted, message_extras, open_send
from tikrelay.sandbox.telegram.params import Params
from tikrelay.sandbox.telegram.world import Chat, FileRecord, post_message, resolve_thread

_SENDER_DEFINED = ("width", "height", "duration", "performer", "title")
_SPOILER_KINDS = ("photo", "video", "animation")


async def resolve_file(call: Call, value: Any, part: str, kind: str) -> StoredFile:
    """The file a parameter names: an uploaded part, ``attach://``, ``file://`` or a file_id."""
    env, uploads = call.env, call.params.uploads
    source = "upload"
    if isinstance(value, str) and value.startswith("attach://"):
        part, value = value.removeprefix("attach://"), None
    if part in uploads and not value:
        upload = uploads.pop(part)
        stored = await asyncio.to_thread(env.files.add_upload, upload, kind)
    elif not isinstance(value, str) or not value:
        raise bad_request(f"there is no {kind} in the request")
    elif value.startswith("file://"):
        path = unquote(urlparse(value).path)
        if not env.local_mode:
            raise bad_request(WRONG_FILE_ID)
        try:
            stored = await asyncio.to_thread(env.files.add_local, _local_path(path), kind)
        except OSError:
            raise bad_request(WRONG_FILE_ID) from None
        source = "local"
    elif value.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")
    else:
        found = env.files.get(value)
        if found is None:
            raise bad_request(WRONG_FILE_ID)
        stored, source = found, "file_id"
    if source != "upload":  # uploads are recorded as they arrive, even on refused calls
        call.record.files.append(
            FileRecord(part, stored.size, stored.sha256, stored.meta.get("file_name"), source)
        )
    return stored


def _local_path(path: str) -> Path:
    resolved = Path(path)
    if not resolved.is_file():
        raise OSError(path)
    return resolved


async def media_content(
    call: Call, item: Params, kind: str, value: Any, part: str
) -> dict[str, Any]:
    """The media fields of one message: the media object, thumbnail, spoiler, caption flags."""
    stored = await resolve_file(call, value, part, kind)
    overrides = {key: item.raw(key) for key in _SENDER_DEFINED}
    for key in ("width", "height", "duration"):
        overrides[key] = item.get_int(key)
    obj = media_json(stored, kind, overrides)
    thumbnail = item.raw("thumbnail")
    uploaded_thumb = item is call.params and "thumbnail" in call.params.uploads
    if kind != "photo" and (thumbnail or uploaded_thumb):
        thumb = await resolve_file(call, thumbnail, "thumbnail", "thumbnail")
        obj["thumbnail"] = media_json(thumb, "thumbnail", {})
    content: dict[str, Any] = {kind: [obj] if kind == "photo" else obj}
    if kind == "animation":
        # Telegram sends an animation as both objects, for clients that know only documents.
        content["document"] = {k: v for k, v in obj.items() if k not in ("width", "height")}
        content["document"].pop("duration", None)
    if kind in _SPOILER_KINDS and item.get_bool("has_spoiler"):
        content["has_media_spoiler"] = True
    if item.get_bool("show_caption_above_media"):
        content["show_caption_above_media"] = True
    return content


async def _send_single(call: Call, kind: str) -> dict[str, Any]:
    chat, thread_id = open_send(call, kind)
    content = formatted(call, "caption", CAPTION_LIMIT)
    extras = message_extras(call, chat)
    content.update(await media_content(call, call.params, kind, call.params.raw(kind), kind))
    content.update(extras)
    check_flood(call, chat)
    message = post_message(call.env.world, chat, call.env.world.bot, thread_id, content)
    call.record.message_ids = [message["message_id"]]
    return message


@method("sendVideo")
async def send_video(call: Call) -> dict[str, Any]:
    return await _send_single(call, "video")


@method("sendPhoto")
async def send_photo(call: Call) -> dict[str, Any]:
    return await _send_single(call, "photo")


@method("sendAudio")
async def send_audio(call: Call) -> dict[str, Any]:
    return await _send_single(call, "audio")


@method("sendDocument")
async def send_document(call: Call) -> dict[str, Any]:
    return await _send_single(call, "document")


@method("sendAnimation")
async def send_animation(call: Call) -> dict[str, Any]:
    return await _send_single(call, "animation")


def _album_items(call: Call) -> list[dict[str, Any]]:
    items = call.params.get_json("media")
    if not isinstance(items, list) or not 2 <= len(items) <= 10:
        raise bad_request("media must include 2-10 items")
    kinds = {str(item.get("type")) for item in items if isinstance(item, dict)}
    if len(kinds) != 1 and not kinds <= {"photo", "video"}:
        odd = sorted(kinds - {"photo", "video"})[0]
        raise bad_request(f"{odd} can't be mixed with other media")
    if not kinds <= {"photo", "video", "audio", "document"}:
        raise bad_request("wrong type of media in the album")
    return items


async def _album_contents(call: Call, chat: Chat, items: list[dict[str, Any]]) -> list[Any]:
    contents = []
    for item in items:
        kind = item["type"]
        check_can_send(chat, kind)
        params = Params(values=item)
        text, entities = format_text(
            params.get_str("caption"),
            params.get_str("parse_mode"),
            params.get_json("caption_entities"),
            limit=CAPTION_LIMIT,
            what="caption",
        )
        content = await media_content(call, params, kind, item.get("media"), kind)
        if text:
            content["caption"] = text
            call.record.caption = call.record.caption or text
        if entities:
            content["caption_entities"] = entities
        contents.append(content)
    return contents


@method("sendMediaGroup")
async def send_media_group(call: Call) -> list[dict[str, Any]]:
    call.record.kind = "album"
    chat = call.chat()
    items = _album_items(call)
    check_can_send(chat, items[0]["type"])
    thread_id = resolve_thread(chat, call.params.get_int("message_thread_id"))
    call.record.thread_id = thread_id
    extras = message_extras(call, chat)
    extras.pop("reply_markup", None)  # albums cannot carry keyboards
    contents = await _album_contents(call, chat, items)
    check_flood(call, chat, count=len(contents))
    group_id = str(10**17 + secrets.randbelow(9 * 10**17))
    call.record.media_group_id = group_id
    messages = []
    failure = call.album_failure
    for index, content in enumerate(contents):
        if failure is not None and index >= failure.delivered:
            raise failure.error()
        content = {**content, **extras, "media_group_id": group_id}
        messages.append(post_message(call.env.world, chat, call.env.world.bot, thread_id, content))
        call.record.message_ids.append(messages[-1]["message_id"])
    return messages


@method("getFile")
async def get_file(call: Call) -> dict[str, Any]:
    file_id = call.params.get_str("file_id", required=True) or ""
    stored = call.env.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if not call.env.local_mode and stored.size > CLOUD_DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    file_path = str(stored.path.resolve()) if call.env.local_mode else stored.file_path
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": file_path,
    }
