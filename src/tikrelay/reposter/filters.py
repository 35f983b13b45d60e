"""A source's filters (``sources[].filters``) decide, once its page is read, whether a post goes
to the source's destinations; this module is that decision alone, with no I/O.

Rules, all of which a post must pass:

- ``min_views``, ``min_likes``: at least that many (inclusive);
- ``max_age_days``: created at most that many days before ``now``;
- ``kinds``: the post's kind is listed (``video``, ``slideshow``);
- ``min_duration``, ``max_duration`` (seconds), ``min_height`` (pixels): of a video, inclusive;
  a slideshow has no length or height of its own and passes them;
- ``exclude``: none of its terms is in the post; ``include``: at least one is.

A figure the source does not give (no view count, no creation time, no height) passes its rule:
a post is kept from a chat only for what is known about it.

Terms are compared by :mod:`tikrelay.domain.words`, case and accents ignored, whole words only.
``#ad`` matches the hashtag ``#ad`` only (not ``#adventure``, not the word "ad"); a plain word
``ad`` matches the word "ad" in the text and the hashtag ``#ad`` (the word a reader sees), not
"adventure"; a few words (``new york``) match those words in that order in the text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from tikrelay.config.settings import FilterSettings
from tikrelay.domain.posts import Post, PostKind
from tikrelay.domain.words import hashtags, words

DAY_SECONDS = 24 * 3600


def reason_to_skip(post: Post, filters: FilterSettings | None, now: datetime) -> str | None:
    """Why ``post`` is not delivered, naming each rule it fails with the post's figure and the
    rule's (``views 812 < min_views 1000; age 8.3 days > max_age_days 7``); None when it
    passes them all."""
    if filters is None:
        return None
    found = [*_figures(post, filters, now), *_terms(post, filters)]
    return "; ".join(found) or None


def _figures(post: Post, rules: FilterSettings, now: datetime) -> list[str]:
    found = []
    if rules.kinds is not None and post.kind.value not in rules.kinds:
        found.append(f"kind {post.kind.value} not in kinds ({', '.join(rules.kinds)})")
    age = _age_days(post, now)
    if rules.max_age_days is not None and age is not None and age > rules.max_age_days:
        # Shown rounded up, so that a post a little older than the limit never reads as equal.
        shown = math.ceil(age * 10) / 10
        found.append(f"age {shown:g} days > max_age_days {rules.max_age_days:g}")
    if rules.min_views is not None and post.views is not None and post.views < rules.min_views:
        found.append(f"views {post.views} < min_views {rules.min_views}")
    if rules.min_likes is not None and post.likes is not None and post.likes < rules.min_likes:
        found.append(f"likes {post.likes} < min_likes {rules.min_likes}")
    if post.kind is not PostKind.VIDEO:
        return found
    seconds = post.duration
    if seconds is not None and rules.min_duration is not None and seconds < rules.min_duration:
        found.append(f"duration {seconds:g} s < min_duration {rules.min_duration:g}")
    if seconds is not None and rules.max_duration is not None and seconds > rules.max_duration:
        found.append(f"duration {seconds:g} s > max_duration {rules.max_duration:g}")
    height = max(post.heights) if post.heights else None
    if height is not None and rules.min_height is not None and height < rules.min_height:
        found.append(f"height {height} < min_height {rules.min_height}")
    return found


def _age_days(post: Post, now: datetime) -> float | None:
    if post.created_at is None:
        return None
    return (now - post.created_at).total_seconds() / DAY_SECONDS


def _terms(post: Post, rules: FilterSettings) -> list[str]:
    if not rules.include and not rules.exclude:
        return []
    text = words(post.text)
    tags = hashtags(post.text, post.hashtags)
    found = []
    excluded = [term for term in rules.exclude if has_term(term, text, tags)]
    if excluded:
        found.append(f"has {_quoted(excluded)} (exclude)")
    if rules.include and not any(has_term(term, text, tags) for term in rules.include):
        found.append(f"has none of include ({_quoted(rules.include)})")
    return found


def has_term(term: str, text: Sequence[str], tags: set[str]) -> bool:
    """Whether ``term`` is among a post's folded ``text`` words and hashtags ``tags``."""
    wanted = words(term)
    if term.startswith("#"):
        return wanted[0] in tags
    if len(wanted) == 1 and wanted[0] in tags:
        return True
    size = len(wanted)
    return any(list(text[i : i + size]) == wanted for i in range(len(text) - size + 1))


def _quoted(terms: Sequence[str]) -> str:
    return ", ".join(f'"{term}"' for term in terms)
