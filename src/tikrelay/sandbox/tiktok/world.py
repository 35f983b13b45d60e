"""The in-memory TikTok: creators and posts, per-post statuses, faults and the request log;
``world.web`` holds the other web sites served beside it (see web.py).

Every method is safe to call from any thread while an emulator serves the world, so a test can
add a post while yt-dlp is talking to the emulator.
"""

from __future__ import annotations

import hmac
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tikrelay.sandbox.fixtures import IMAGE_FORMATS, MediaFixtures
from tikrelay.sandbox.tiktok import challenge as waf
from tikrelay.sandbox.tiktok import ids
from tikrelay.sandbox.tiktok.faults import Fault, FaultKind, FaultPlan
from tikrelay.sandbox.tiktok.media import MediaPlanner
from tikrelay.sandbox.tiktok.model import (
    MAX_SLIDES,
    OK,
    PRIVATE_ACCOUNT,
    REMOVED,
    WEB_HOST,
    AppInstall,
    Creator,
    Effect,
    Hashtag,
    MediaFile,
    Post,
    PostKind,
    Sound,
    feed_page,
)
from tikrelay.sandbox.tiktok.web import WebSites

#: The letters of share links' codes (as TikTok's: no 0, 1, I, O, l).
_CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the emulated TikTok answered (control requests are not logged)."""

    host: str
    method: str
    path: str
    query: dict[str, str]
    cookies: frozenset[str]  # names only
    headers: dict[str, str]  # lower-case names
    status: int  # 0 when the connection was reset instead


class TikTokWorld:
    """Creators, posts and switches; served by :class:`~tikrelay.sandbox.tiktok.TikTokEmulator`.

    Every post gets media files of its own, made once by ffmpeg and cached on disk; with
    ``media_variants`` posts share that many sets of files in turn instead (a world of
    thousands of creators for the polling benchmark).
    """

    def __init__(
        self,
        media: MediaFixtures | None = None,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        media_variants: int | None = None,
    ) -> None:
        if media_variants is not None and media_variants < 1:
            raise ValueError(f"media_variants must be at least 1, not {media_variants}")
        self._media_variants = media_variants
        self.media = media or MediaFixtures.at()
        self.faults = FaultPlan()
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._planner = MediaPlanner(self.media, self._rng, hmac_key=self._rng.randbytes(16))
        self._creators: dict[str, Creator] = {}
        # Look-ups by secUid and by creator, so that a world of thousands answers in its time.
        self._by_sec_uid: dict[str, str] = {}
        self._posts_of: dict[str, list[str]] = {}
        self._posts: dict[str, Post] = {}
        self._statuses: dict[str, int] = {}
        self._media: dict[str, MediaFile] = {}
        self._chain_tokens: set[str] = set()
        self._challenges: set[bytes] = set()
        self._log: list[LoggedRequest] = []
        self._newest: dict[str, int] = {}
        self._variants = 0
        self._cdn_rate: int | None = None
        self._patches: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._short_links: dict[str, str] = {}
        # The app's listings: hashtags by lower-case name, sounds and the posts that use them,
        # and the app installs whose parameters the app's API takes.
        self._hashtags: dict[str, Hashtag] = {}
        self._sounds: dict[str, Sound] = {}
        self._sound_of: dict[str, str] = {}
        self._effects: dict[str, Effect] = {}
        self._effect_of: dict[str, str] = {}
        self._installs: dict[str, AppInstall] = {}
        #: The generic media site and archive.org; requests to them share this world's log.
        self.web = WebSites(self.media, clock=clock)

    # -- content ---------------------------------------------------------------------------

    def add_creator(
        self, username: str, *, nickname: str | None = None, videos: int = 0, private: bool = False
    ) -> Creator:
        """A creator, optionally with ``videos`` posts spaced an hour apart in the past."""
        with self._lock:
            if username in self._creators:
                raise ValueError(f"creator @{username} already exists")
            creator = Creator(
                username=username,
                nickname=nickname or username.title(),
                user_id=ids.user_id(self._rng),
                sec_uid=ids.sec_uid(self._rng),
                private=private,
                followers=self._rng.randint(10, 100_000),
            )
            self._creators[username] = creator
            self._by_sec_uid[creator.sec_uid] = username
            self._posts_of[username] = []
        now = int(self._clock())
        for age in range(videos, 0, -1):
            self.add_video(username, desc=f"seeded video {videos - age + 1}", at=now - age * 3600)
        return creator

    def add_video(
        self,
        username: str,
        *,
        desc: str = "",
        hevc: bool = False,
        music: bool = True,
        silent: bool = False,
        at: int | None = None,
        file: Path | None = None,
    ) -> Post:
        """A video post; by default created now, at the head of the creator's feed.

        It gets its own clean H.264 file, a different watermarked file for ``downloadAddr``, and
        with ``hevc`` a higher-resolution video-only HEVC format in ``bitrateInfo``; with
        ``silent`` its clean file has no audio stream (TikTok's data still lists it with sound);
        ``file`` is served as its clean file instead of a generated one (any codec or size).
        """
        create_time, post_id, variant = self._reserve(username, at)
        # Media are made outside the lock: ffmpeg may take a moment on a cold cache.
        plan = self._planner.video(
            post_id, variant, hevc=hevc, music=music, silent=silent, file=file
        )
        post = Post(
            id=post_id,
            kind=PostKind.VIDEO,
            username=username,
            desc=desc,
            create_time=create_time,
            variant=variant,
            stats=self._stats(),
            media=plan.media,
        )
        return self._store(post, plan.files)

    def add_slideshow(
        self,
        username: str,
        *,
        images: Sequence[str] = ("jpeg", "jpeg"),
        desc: str = "",
        music: bool = True,
        at: int | None = None,
        files: Sequence[Path | None] = (),
    ) -> Post:
        """A photo post with 1 to 35 slides, each ``jpeg``, ``webp`` or ``heic``; ``files``
        serves given images (in that format) instead of generated ones, slide by slide."""
        if not 1 <= len(images) <= MAX_SLIDES:
            raise ValueError(f"a slideshow has 1 to {MAX_SLIDES} images, not {len(images)}")
        if bad := [fmt for fmt in images if fmt not in IMAGE_FORMATS]:
            raise ValueError(f"image formats must be among {IMAGE_FORMATS}, not {bad}")
        create_time, post_id, variant = self._reserve(username, at)
        plan = self._planner.slideshow(post_id, variant, list(images), music=music, files=files)
        post = Post(
            id=post_id,
            kind=PostKind.SLIDESHOW,
            username=username,
            desc=desc,
            create_time=create_time,
            variant=variant,
            duration=0,
            stats=self._stats(),
            media=plan.media,
        )
        return self._store(post, plan.files)

    def short_link(self, post_id: str, form: str = "vm") -> str:
        """A share link to the post, as the app makes them: ``vm`` (vm.tiktok.com/CODE/),
        ``vt`` (vt.tiktok.com/CODE/) or ``t`` (www.tiktok.com/t/CODE/); it redirects to the
        post's page."""
        with self._lock:
            post = self._require_post(post_id)
            code = "ZM" + "".join(self._rng.choice(_CODE_CHARS) for _ in range(7))
            self._short_links[code] = post.id
        if form == "t":
            return f"https://{WEB_HOST}/t/{code}/"
        return f"https://{form}.tiktok.com/{code}/"

    def short_link_target(self, code: str) -> str | None:
        """Where a share link's code leads: the post's page, as TikTok's redirect has it."""
        with self._lock:
            post_id = self._short_links.get(code)
            post = self._posts.get(post_id) if post_id else None
        return None if post is None else f"{post.url}?_r=1&u_code=emulated"

    def set_status(self, post_id: str, status: int) -> None:
        """Answer this post's page with ``statusCode`` (``OK`` restores it)."""
        with self._lock:
            self._require_post(post_id)
            self._statuses[post_id] = status

    def remove(self, post_id: str) -> None:
        """Delete a post: gone from the feed, its page says ``REMOVED``."""
        self.set_status(post_id, REMOVED)

    def patch_item(
        self, post_id: str, fields: Mapping[str, Any], *, page: bool = True, feed: bool = True
    ) -> None:
        """Serve the post's ``itemStruct`` with ``fields`` overwritten (dotted paths, see
        ``pages.apply_patch``) on its page and/or in the feed: malformed values, media URLs
        that point elsewhere. ``patch_item(id, {})`` on both removes the patches."""
        with self._lock:
            self._require_post(post_id)
            on_page, in_feed = self._patches.get(post_id, ({}, {}))
            if page:
                on_page = {**on_page, **fields} if fields else {}
            if feed:
                in_feed = {**in_feed, **fields} if fields else {}
            self._patches[post_id] = (on_page, in_feed)

    def item_patch(self, post_id: str, *, page: bool) -> dict[str, Any]:
        with self._lock:
            on_page, in_feed = self._patches.get(post_id, ({}, {}))
            return dict(on_page if page else in_feed)

    def set_private(self, username: str, private: bool = True) -> None:
        with self._lock:
            self._creators[username] = replace(self._require_creator(username), private=private)

    # -- the app's listings: hashtags, sounds, installs ------------------------------------

    def add_hashtag(self, name: str) -> Hashtag:
        """A hashtag with a page (``/tag/NAME``) and a list in the app's API: every visible
        post whose text has ``#NAME`` (in any case), newest first."""
        name = name.removeprefix("#")
        if not name or any(c.isspace() or c in "#/?&" for c in name):
            raise ValueError(f"{name!r} is not a hashtag name")
        with self._lock:
            if name.lower() in self._hashtags:
                raise ValueError(f"hashtag #{name} already exists")
            tag = Hashtag(name=name, id=str(self._rng.randint(10**6, 7 * 10**18)))
            self._hashtags[name.lower()] = tag
            return tag

    def hashtag(self, name: str) -> Hashtag | None:
        with self._lock:
            return self._hashtags.get(name.removeprefix("#").lower())

    def hashtag_posts(self, hashtag_id: str) -> list[Post]:
        """The hashtag's visible posts, newest first (none for an unknown id)."""
        with self._lock:
            tag = next((t for t in self._hashtags.values() if t.id == hashtag_id), None)
            if tag is None:
                return []
            found = [p for p in self._posts.values() if tag.name.lower() in _hashtags(p.desc)]
        return self._visible(found)

    def add_sound(self, title: str, *, author: str = "", posts: Sequence[str] = ()) -> Sound:
        """A sound with a page (``/music/TITLE-ID``) and a list in the app's API: the visible
        posts that use it (``posts``, or later ``use_sound``), newest first."""
        with self._lock:
            sound = Sound(id=ids.sound_id(self._rng), title=title, author=author)
            self._sounds[sound.id] = sound
        self.use_sound(sound.id, *posts)
        return sound

    def use_sound(self, sound_id: str, *post_ids: str) -> None:
        """These posts use the sound: their pages and the feed name it as their ``music``."""
        with self._lock:
            if sound_id not in self._sounds:
                raise KeyError(f"no sound {sound_id}; add it with add_sound()")
            for post_id in post_ids:
                self._require_post(post_id)
                self._sound_of[post_id] = sound_id

    def sound(self, sound_id: str) -> Sound | None:
        with self._lock:
            return self._sounds.get(sound_id)

    def sound_of(self, post_id: str) -> Sound | None:
        """The sound a post uses, when it uses one of the world's (else its original sound)."""
        with self._lock:
            found = self._sound_of.get(post_id)
            return None if found is None else self._sounds[found]

    def sound_posts(self, sound_id: str) -> list[Post]:
        """The sound's visible posts, newest first (none for an unknown id)."""
        with self._lock:
            found = [self._posts[p] for p, s in self._sound_of.items() if s == sound_id]
        return self._visible(found)

    def add_effect(self, name: str, *, posts: Sequence[str] = ()) -> Effect:
        """An effect with a page (``/sticker/NAME-ID``) and a list in the app's API: the
        visible posts made with it (``posts``), newest first."""
        with self._lock:
            effect = Effect(id=str(self._rng.randint(10**5, 10**7)), name=name)
            self._effects[effect.id] = effect
            for post_id in posts:
                self._require_post(post_id)
                self._effect_of[post_id] = effect.id
            return effect

    def effect_posts(self, effect_id: str) -> list[Post]:
        """The effect's visible posts, newest first (none for an unknown id)."""
        with self._lock:
            found = [self._posts[p] for p, e in self._effect_of.items() if e == effect_id]
        return self._visible(found)

    def add_app_install(self, **parameters: str) -> AppInstall:
        """An install of the TikTok app whose parameters the app's API takes; ``parameters``
        override the defaults (``app_name``, ``app_version``, ``manifest_app_version``,
        ``aid``). Its ``app_info`` is what yt-dlp's extractor argument takes."""
        with self._lock:
            install = AppInstall(iid=ids.install_id(self._rng), **parameters)
            self._installs[install.iid] = install
            return install

    def app_install_for(self, query: dict[str, str]) -> AppInstall | None:
        """The install a request of the app's API comes from, when its parameters are all
        that install's; None otherwise (the API then answers with an empty body)."""
        with self._lock:
            install = self._installs.get(query.get("iid", ""))
        return install if install is not None and install.accepts(query) else None

    # -- faults ----------------------------------------------------------------------------

    def inject(self, target: str, fault: Fault, count: int | None = 1) -> None:
        """Arm ``fault`` for the next ``count`` requests matching ``target`` (None: until cleared).

        ``target`` is a post id, a path glob starting with ``/`` or a ``host/path`` glob.
        """
        self.faults.arm(target, fault, count)

    def fail_next(self, target: str, status: int, count: int = 1) -> None:
        self.inject(target, Fault(FaultKind.STATUS, status=status), count)

    def challenge(self, target: str, count: int = 1) -> None:
        self.inject(target, Fault(FaultKind.CHALLENGE), count)

    def empty_next(self, target: str, count: int = 1) -> None:
        self.inject(target, Fault(FaultKind.EMPTY), count)

    def garbage_next(self, target: str, count: int = 1) -> None:
        self.inject(target, Fault(FaultKind.GARBAGE), count)

    def reset_next(self, target: str, count: int = 1) -> None:
        self.inject(target, Fault(FaultKind.RESET), count)

    def redirect_next(
        self, target: str, location: str, count: int | None = 1, status: int = 302
    ) -> None:
        self.inject(target, Fault(FaultKind.REDIRECT, status=status, location=location), count)

    def delay(self, target: str, seconds: float, count: int | None = 1) -> None:
        self.inject(target, Fault(FaultKind.DELAY, seconds=seconds), count)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- bandwidth -------------------------------------------------------------------------

    def throttle_cdn(self, bytes_per_second: int | None) -> None:
        """Send media from the CDN hosts at most this fast, per connection (None: full speed).

        Pages and the feed API stay fast. A media response keeps the rate it started with.
        """
        if bytes_per_second is not None and bytes_per_second < 1:
            raise ValueError(f"bytes_per_second must be at least 1, not {bytes_per_second}")
        with self._lock:
            self._cdn_rate = bytes_per_second

    @property
    def cdn_throttle(self) -> int | None:
        """Bytes a second per CDN media response, or None when media go at full speed."""
        with self._lock:
            return self._cdn_rate

    # -- reading ---------------------------------------------------------------------------

    def creators(self) -> list[Creator]:
        with self._lock:
            return list(self._creators.values())

    def creator(self, username: str) -> Creator | None:
        with self._lock:
            return self._creators.get(username)

    def creator_by_sec_uid(self, sec_uid: str) -> Creator | None:
        with self._lock:
            username = self._by_sec_uid.get(sec_uid)
            return None if username is None else self._creators[username]

    def post(self, post_id: str) -> Post | None:
        with self._lock:
            return self._posts.get(post_id)

    def status(self, post_id: str) -> int:
        """The post's ``statusCode``: its own switch, else its account's privacy, else ``OK``."""
        with self._lock:
            post = self._posts.get(post_id)
            if post is None:
                return REMOVED
            if (own := self._statuses.get(post_id, OK)) != OK:
                return own
            return PRIVATE_ACCOUNT if self._creators[post.username].private else OK

    def posts(self, username: str) -> list[Post]:
        """The creator's visible posts, newest first (removed ones and private accounts: none)."""
        with self._lock:
            creator = self._require_creator(username)
            if creator.private:
                return []
            mine = [
                self._posts[post_id]
                for post_id in self._posts_of[username]
                if self._statuses.get(post_id) != REMOVED
            ]
        return sorted(mine, key=lambda p: (p.create_time, p.id), reverse=True)

    def feed_page(self, username: str, cursor_ms: int, count: int) -> tuple[list[Post], bool]:
        posts = self.posts(username)
        return feed_page(posts, cursor_ms, count, now_ms=int(self._clock() * 1000))

    def media_at(self, path: str) -> MediaFile | None:
        with self._lock:
            return self._media.get(path)

    def signature_ok(self, path: str, signature: str) -> bool:
        return hmac.compare_digest(self._planner.sign(path), signature)

    # -- cookies and challenges (used by the site) ------------------------------------------

    def issue_chain_token(self) -> str:
        with self._lock:
            value = ids.token(self._rng, 40)
            self._chain_tokens.add(value)
            return value

    def chain_token_ok(self, value: str | None) -> bool:
        with self._lock:
            return value is not None and value in self._chain_tokens

    def issue_challenge(self) -> waf.Challenge:
        with self._lock:
            issued = waf.new_challenge(self._rng)
            self._challenges.add(issued.base)
            return issued

    def challenge_solved(self, cookie_value: str | None) -> bool:
        base = waf.solution_base(cookie_value) if cookie_value else None
        with self._lock:
            return base is not None and base in self._challenges

    # -- request log -----------------------------------------------------------------------

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def requests(self, host: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Logged requests, oldest first, optionally only those to ``host`` and/or ``path``."""
        with self._lock:
            return [
                r
                for r in self._log
                if (host is None or r.host == host) and (path is None or r.path == path)
            ]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- internals -------------------------------------------------------------------------

    def _reserve(self, username: str, at: int | None) -> tuple[int, str, int]:
        """Creation time, id and media variant of a new post."""
        with self._lock:
            self._require_creator(username)
            newest = self._newest.get(username, 0)
            if at is None:
                # Strictly increasing, so a new post is always the head of the feed.
                at = max(int(self._clock()), newest + 1)
            self._newest[username] = max(newest, at)
            variant = self._variants
            self._variants += 1
            if self._media_variants is not None:
                variant %= self._media_variants
            return at, ids.post_id(at, self._rng), variant

    def _store(self, post: Post, files: dict[str, MediaFile]) -> Post:
        with self._lock:
            if post.id not in self._posts:
                self._posts_of[post.username].append(post.id)
            self._posts[post.id] = post
            self._media.update(files)
        return post

    def _visible(self, posts: Sequence[Post]) -> list[Post]:
        """Posts a listing shows, newest first: not removed, not of a private account."""
        with self._lock:
            shown = [
                p
                for p in posts
                if self._statuses.get(p.id) != REMOVED and not self._creators[p.username].private
            ]
        return sorted(shown, key=lambda p: (p.create_time, p.id), reverse=True)

    def _stats(self) -> dict[str, int]:
        plays = self._rng.randint(100, 2_000_000)
        return {
            "playCount": plays,
            "diggCount": plays // 10,
            "shareCount": plays // 200,
            "commentCount": plays // 150,
            "collectCount": plays // 300,
        }

    def _require_creator(self, username: str) -> Creator:
        if (creator := self._creators.get(username)) is None:
            raise KeyError(f"no creator @{username}; add it with add_creator()")
        return creator

    def _require_post(self, post_id: str) -> Post:
        if (post := self._posts.get(post_id)) is None:
            raise KeyError(f"no post {post_id}")
        return post


def _hashtags(text: str) -> set[str]:
    """The hashtags of a post's text, lower-case, as its page's ``textExtra`` lists them."""
    return {word[1:].lower() for word in text.split() if word[:1] == "#"}
