"""Sending a post again by the file ids Telegram gave its parts: one upload per file.

The ids are kept per post and per *profile*, what decides the files a chat gets (oversize, hevc,
slideshow and slideshow_audio settings, and the upload limit): chats alike get the same files,
so one chat's upload serves every other, and the bot's answers and inline results too. The post's
caption is made again from what its page said (``posts.data``), so nothing is read from TikTok.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tikrelay.captions import clean_name
from tikrelay.config.settings import DestinationSettings
from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.media.video import TelegramVideo
from tikrelay.reposter.parts import AlbumPart, AudioPart, Part, VideoPart
from tikrelay.store import files_sql


def file_profile(dest: DestinationSettings, max_bytes: int) -> str:
    """What decides the files a destination gets of a post: chats alike get the same files."""
    chat = dest.chat
    audio = "sound" if dest.slideshow_audio else "silent"
    return f"{chat.oversize}:{'hevc' if chat.hevc else 'h264'}:{chat.slideshow}:{audio}:{max_bytes}"


def known_part(part: Part, file_ids: list[str]) -> files_sql.KnownPart:
    if isinstance(part, VideoPart):
        video = part.video
        return files_sql.KnownPart(
            part.index, "video", file_ids, video.width, video.height, video.duration
        )
    kind = "album" if isinstance(part, AlbumPart) else "audio"
    return files_sql.KnownPart(part.index, kind, file_ids)


def parts_by_id(post: Post, known: list[files_sql.KnownPart], caption: str) -> list[Part]:
    """The parts as sent before, by file id, the caption where it was."""
    parts: list[Part] = []
    for item in known:
        text = caption if not parts else None
        ids = tuple(item.file_ids)
        if item.kind == "video":
            video = TelegramVideo(
                path=Path(),
                width=item.width or 0,
                height=item.height or 0,
                duration=item.duration or 0.0,
                thumbnail=None,
                size=0,
                remuxed=True,
                reencoded=False,
            )
            parts.append(VideoPart(item.part, video, text, ids=ids))
        elif item.kind == "album":
            parts.append(AlbumPart(item.part, [], text, ids=ids))
        else:
            sound = post.sound
            title = clean_name(sound.title) if sound and sound.title else None
            performer = clean_name(sound.author) if sound and sound.author else None
            parts.append(AudioPart(item.part, Path(), title, performer, ids=ids, caption=text))
    return parts


def stored_post(data: dict[str, Any]) -> Post | None:
    """The post as :func:`_post_row` stored it, or None when it cannot be read back."""
    try:
        sound = data.get("sound")
        created = data.get("created_at")
        return Post(
            site=data["site"],
            id=data["id"],
            kind=PostKind(data["kind"]),
            url=data["url"],
            author=data["author"],
            author_name=data.get("author_name"),
            text=data.get("text") or "",
            created_at=datetime.fromisoformat(created) if created else None,
            hashtags=tuple(data.get("hashtags") or ()),
            views=data.get("views"),
            likes=data.get("likes"),
            sound=Sound(**sound) if isinstance(sound, dict) else None,
            images=tuple(data.get("images") or ()),
            heights=tuple(data.get("heights") or ()),
            duration=data.get("duration"),
        )
    except (KeyError, TypeError, ValueError):
        return None
