"""Posts: one piece of published content, keyed by (site, native id), and what it carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class PostKind(StrEnum):
    VIDEO = "video"
    SLIDESHOW = "slideshow"
    AUDIO = "audio"


@dataclass(frozen=True)
class Sound:
    """The post's sound (TikTok's ``music``): title, artist and where its audio file is."""

    title: str | None = None
    author: str | None = None
    url: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class Post:
    """What a source knows about a post. ``images`` are the slideshow's image URLs in order."""

    site: str
    id: str
    kind: PostKind
    url: str
    author: str
    author_name: str | None = None
    text: str = ""
    created_at: datetime | None = None
    hashtags: tuple[str, ...] = ()
    views: int | None = None
    likes: int | None = None
    sound: Sound | None = None
    images: tuple[str, ...] = field(default=(), repr=False)
    # A video's heights in pixels, highest first: those a site offers (the bot's quality
    # buttons), or the one a TikTok post page states.
    heights: tuple[int, ...] = ()
    duration: float | None = None  # a video's length in seconds, as the source states it

    @property
    def key(self) -> str:
        """The post's identity across runs and machines: ``site:id``."""
        return f"{self.site}:{self.id}"


def backfill(new: Sequence[T], keep: int) -> tuple[list[T], int]:
    """On a source's first poll: the newest ``keep`` of its ``new`` posts (oldest first, as
    given), all of them when there are fewer, none when ``keep`` is 0; and how many were left
    out on purpose."""
    if keep < 0:
        raise ValueError("keep must not be negative")
    chosen = list(new[max(len(new) - keep, 0) :]) if keep else []
    return chosen, len(new) - len(chosen)
