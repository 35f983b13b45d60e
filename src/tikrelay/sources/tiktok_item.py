"""TikTok's JSON, read defensively: a post page's ``itemStruct`` and the feed's entries.

The data comes over the network and its shape changes without notice. Every field is either
tolerated with a safe default (a missing or odd view count is just not shown) or, where tikrelay
cannot go on without it, a final ``extractor`` error that names the field and the value, so the
post fails once with a reason instead of a traceback retried five times.

| field | when malformed |
| --- | --- |
| ``id`` | error when it differs from the post's id (it names another post) |
| ``createTime`` | error (a number of seconds, or such a number as text; absent: unknown) |
| ``desc`` | error unless text or a number (absent: no text) |
| ``author`` | error unless an object; ``uniqueId``/``nickname`` error unless text |
| ``stats.*`` | tolerated: not a non-negative whole number → unknown |
| ``music`` | tolerated: not an object → no sound; ``playUrl`` not text → no sound file |
| ``music.title``/``authorName`` | tolerated: not text → unknown |
| ``music.duration`` | tolerated: not a non-negative finite number → unknown |
| ``imagePost`` | error unless an object with a list of images, each with a non-empty list of URLs |
| ``textExtra`` | tolerated: entries without a hashtag name are skipped |
| ``video.duration`` | tolerated: not a positive finite number → unknown |
| ``video.height`` | tolerated: not a positive whole number → unknown |
| feed entry ``id`` | tolerated: an entry without a numeric id is skipped (and logged) |
| feed entry ``timestamp`` | tolerated: not a number → unknown |
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.sources.refs import SITE, post_url

log = structlog.get_logger("tikrelay.sources")

_HASHTAG = re.compile(r"#(\w+)")
_POST_ID = re.compile(r"\d{1,30}")
# datetime's own range, as Unix seconds: later values cannot be a post's creation time.
_MAX_SECONDS = 253_402_300_799


@dataclass(frozen=True)
class FeedEntry:
    id: str
    url: str
    created_at: datetime | None


def malformed(post_id: str, field: str, value: object, wanted: str) -> TikrelayError:
    """TikTok sent a field tikrelay cannot use: final for this post (the same page will say the
    same), and named, so a change on TikTok's side is easy to see."""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return TikrelayError(
        ErrorKind.EXTRACTOR,
        f"post {post_id}: TikTok sent {field} = {shown}, not {wanted}",
        retryable=False,
    )


def post_from_item(item: dict[str, Any], url: str, post_id: str) -> Post:
    """Our Post from TikTok's ``itemStruct``."""
    if not isinstance(item, dict):
        raise malformed(post_id, "itemStruct", item, "an object")
    own_id = item.get("id")
    if own_id not in (None, "") and str(own_id) != post_id:
        raise malformed(post_id, "id", own_id, f"this post's id {post_id}")
    author = item.get("author")
    if author is None:
        author = {}
    elif not isinstance(author, dict):
        raise malformed(post_id, "author", author, "an object")
    text = _text(item.get("desc"), post_id, "desc") or ""
    images = slide_urls(item, post_id)
    video = item.get("video")
    # A slideshow's page describes a video too, with no length or a made-up one: only a video
    # post has a duration and a height.
    height = None if images else count(_get(video, "height"))
    return Post(
        site=SITE,
        id=post_id,
        kind=PostKind.SLIDESHOW if images else PostKind.VIDEO,
        url=url,
        author=_text(author.get("uniqueId"), post_id, "author.uniqueId") or "",
        author_name=_text(author.get("nickname"), post_id, "author.nickname"),
        text=text,
        created_at=created_at(item.get("createTime"), post_id),
        hashtags=_hashtags(item.get("textExtra"), text),
        views=count(_get(item.get("stats"), "playCount")),
        likes=count(_get(item.get("stats"), "diggCount")),
        sound=_sound(item.get("music")),
        images=tuple(urls[0] for urls in images),
        heights=(height,) if height else (),
        duration=None if images else _seconds(_get(video, "duration")),
    )


def slide_urls(item: dict[str, Any], post_id: str) -> list[list[str]]:
    """Each slide's URLs (the first, then CDN mirrors), in order; none for a video."""
    image_post = item.get("imagePost")
    if image_post is None:
        return []
    if not isinstance(image_post, dict):
        raise malformed(post_id, "imagePost", image_post, "an object")
    images = image_post.get("images")
    if images is None:
        return []
    if not isinstance(images, list):
        raise malformed(post_id, "imagePost.images", images, "a list")
    found = []
    for index, image in enumerate(images):
        holder = image.get("imageURL") if isinstance(image, dict) else None
        urls = holder.get("urlList") if isinstance(holder, dict) else None
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            field = f"imagePost.images[{index}].imageURL.urlList"
            raise malformed(post_id, field, urls, "a list of URLs")
        found.append([str(u) for u in urls])
    return found


def created_at(value: object, post_id: str) -> datetime | None:
    """``createTime``: seconds since 1970, as a number or as text (post pages send text)."""
    if value is None or value == "":
        return None
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,12}\s*", value):
        seconds = float(int(value))
    if seconds is None or not math.isfinite(seconds) or not 0 <= seconds <= _MAX_SECONDS:
        raise malformed(post_id, "createTime", value, "a time in seconds")
    return datetime.fromtimestamp(seconds, UTC)


def count(value: object) -> int | None:
    """A statistic, or None when TikTok sent none or something that is not a count."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) and value.is_integer() else None
    elif isinstance(value, str):
        value = int(value) if re.fullmatch(r"\d{1,18}", value.strip()) else None
    return value if isinstance(value, int) and value >= 0 else None


def entries_from_feed(info: dict[str, Any], username: str) -> list[FeedEntry]:
    """The feed's posts, oldest first. An entry without a usable id cannot be fetched or
    delivered, so it is skipped (and logged); a bad timestamp only makes the time unknown."""
    raw = info.get("entries")
    entries: list[FeedEntry] = []
    for entry in raw if isinstance(raw, list) else []:
        post_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(post_id, int) and not isinstance(post_id, bool):
            post_id = str(post_id)
        if not isinstance(post_id, str) or not _POST_ID.fullmatch(post_id):
            log.warning("feed_entry_skipped", creator=username, id=repr(post_id)[:60])
            continue
        try:
            created = created_at(entry.get("timestamp"), post_id)
        except TikrelayError:
            created = None
        entries.append(FeedEntry(post_id, post_url(username, post_id), created))
    entries.reverse()
    return entries


def _get(holder: object, key: str) -> object:
    return holder.get(key) if isinstance(holder, dict) else None


def _text(value: object, post_id: str, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise malformed(post_id, field, value, "text")


def _loose_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _hashtags(extra: object, text: str) -> tuple[str, ...]:
    tags = [
        str(entry["hashtagName"])
        for entry in (extra if isinstance(extra, list) else [])
        if isinstance(entry, dict)
        and isinstance(entry.get("hashtagName"), str | int)
        and str(entry["hashtagName"])
    ] or _HASHTAG.findall(text)
    return tuple(dict.fromkeys(tags))


def _seconds(value: object) -> float | None:
    """A length in seconds, or None when TikTok sent none or something that is not one (0
    included: TikTok sends it for what it did not measure)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _sound(music: object) -> Sound | None:
    if not isinstance(music, dict) or not music:
        return None
    return Sound(
        title=_loose_text(music.get("title")),
        author=_loose_text(music.get("authorName")),
        url=_loose_text(music.get("playUrl")),
        duration=_seconds(music.get("duration")),
    )
