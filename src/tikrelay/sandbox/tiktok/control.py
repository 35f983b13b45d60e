"""The JSON control API, served on the proxy's port for plain (non-proxy) requests, and a small
client for it, so another process can add content, inject faults and read the request log."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from tikrelay.sandbox.tiktok.faults import Fault, FaultKind
from tikrelay.sandbox.tiktok.model import ArchiveItem, Creator, Post
from tikrelay.sandbox.tiktok.wire import BadRequestError, Request, Response
from tikrelay.sandbox.tiktok.world import LoggedRequest, TikTokWorld

CONTROL_PREFIX = "/_emulator"

Handler = Callable[[Request, re.Match[str]], Awaitable[Response]]


def creator_json(creator: Creator) -> dict[str, Any]:
    return {
        "username": creator.username,
        "nickname": creator.nickname,
        "userId": creator.user_id,
        "secUid": creator.sec_uid,
        "private": creator.private,
        "url": creator.url,
    }


def post_json(post: Post) -> dict[str, Any]:
    media = post.media
    return {
        "id": post.id,
        "kind": post.kind.value,
        "username": post.username,
        "url": post.url,
        "desc": post.desc,
        "createTime": post.create_time,
        "sha256": post.sha256,
        "playUrl": media.play_url,
        "downloadUrl": media.download_url,
        "hevcUrl": media.hevc_url,
        "musicUrl": media.music_url,
        "images": [slide.url for slide in post.slides],
    }


def archive_item_json(item: ArchiveItem) -> dict[str, Any]:
    return {
        "identifier": item.identifier,
        "url": item.url,
        "title": item.title,
        "creator": item.creator,
        "files": [
            {"name": f.name, "url": f.url, "format": f.format, "height": f.height}
            for f in item.files
        ],
    }


def request_json(entry: LoggedRequest) -> dict[str, Any]:
    return {
        "host": entry.host,
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "cookies": sorted(entry.cookies),
        "headers": entry.headers,
        "status": entry.status,
    }


class ControlAPI:
    """Routes ``/_emulator/...``; see docs/sandbox-tiktok.md for the list."""

    def __init__(self, world: TikTokWorld, ca_pem: bytes) -> None:
        self.world = world
        self._ca_pem = ca_pem
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/creators"), self._list_creators),
            ("POST", re.compile(r"/creators"), self._add_creator),
            ("POST", re.compile(r"/creators/(?P<user>[\w.-]+)/private"), self._set_private),
            ("GET", re.compile(r"/posts"), self._list_posts),
            ("POST", re.compile(r"/posts"), self._add_post),
            ("POST", re.compile(r"/posts/(?P<id>\d+)/status"), self._set_status),
            ("POST", re.compile(r"/posts/(?P<id>\d+)/patch"), self._patch_item),
            ("DELETE", re.compile(r"/posts/(?P<id>\d+)"), self._remove_post),
            ("POST", re.compile(r"/faults"), self._add_fault),
            ("DELETE", re.compile(r"/faults"), self._clear_faults),
            ("GET", re.compile(r"/throttle"), self._throttle),
            ("PUT", re.compile(r"/throttle"), self._set_throttle),
            ("GET", re.compile(r"/requests"), self._list_requests),
            ("DELETE", re.compile(r"/requests"), self._clear_requests),
            ("GET", re.compile(r"/ca\.pem"), self._ca),
            ("GET", re.compile(r"/web"), self._web),
            ("POST", re.compile(r"/web/pages"), self._add_page),
            ("POST", re.compile(r"/web/redirects"), self._add_redirect),
            ("POST", re.compile(r"/web/archive"), self._add_archive_item),
        ]

    async def handle(self, request: Request) -> Response:
        sub_path = request.path.removeprefix(CONTROL_PREFIX).rstrip("/") or "/"
        for method, pattern, handler in self._routes:
            if method == request.method and (match := pattern.fullmatch(sub_path)):
                try:
                    return await handler(request, match)
                except (BadRequestError, KeyError, ValueError, TypeError) as exc:
                    return Response.json(400, {"error": f"{type(exc).__name__}: {exc}"})
        return Response.json(404, {"error": f"no route {request.method} {request.path}"})

    async def _list_creators(self, request: Request, match: re.Match[str]) -> Response:
        return Response.json(200, [creator_json(c) for c in self.world.creators()])

    async def _add_creator(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        creator = await asyncio.to_thread(
            self.world.add_creator,
            str(body["username"]),
            nickname=body.get("nickname"),
            videos=int(body.get("videos", 0)),
            private=bool(body.get("private", False)),
        )
        return Response.json(201, creator_json(creator))

    async def _set_private(self, request: Request, match: re.Match[str]) -> Response:
        self.world.set_private(match["user"], bool(request.json().get("private", True)))
        return Response.json(200, {"ok": True})

    async def _list_posts(self, request: Request, match: re.Match[str]) -> Response:
        return Response.json(
            200, [post_json(p) for p in self.world.posts(request.query["creator"])]
        )

    async def _add_post(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        user, desc, music = str(body["creator"]), str(body.get("desc", "")), body.get("music", True)
        if body.get("kind", "video") == "slideshow":
            images = [str(fmt) for fmt in body.get("images", ["jpeg", "jpeg"])]
            post = await asyncio.to_thread(
                self.world.add_slideshow, user, images=images, desc=desc, music=bool(music)
            )
        else:
            hevc = bool(body.get("hevc", False))
            post = await asyncio.to_thread(
                self.world.add_video, user, desc=desc, hevc=hevc, music=bool(music)
            )
        return Response.json(201, post_json(post))

    async def _set_status(self, request: Request, match: re.Match[str]) -> Response:
        self.world.set_status(match["id"], int(request.json()["status"]))
        return Response.json(200, {"ok": True})

    async def _patch_item(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        fields = body["fields"]
        if not isinstance(fields, dict):
            raise TypeError(f"fields is an object of dotted paths, not {fields!r}")
        page, feed = bool(body.get("page", True)), bool(body.get("feed", True))
        self.world.patch_item(match["id"], fields, page=page, feed=feed)
        return Response.json(200, {"ok": True})

    async def _remove_post(self, request: Request, match: re.Match[str]) -> Response:
        self.world.remove(match["id"])
        return Response.json(200, {"ok": True})

    async def _add_fault(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        fault = Fault(
            FaultKind(body["kind"]),
            status=int(body.get("status", 0)),
            seconds=float(body.get("seconds", 0.0)),
            location=str(body.get("location", "")),
        )
        count = body.get("count", 1)
        self.world.inject(str(body["target"]), fault, None if count is None else int(count))
        return Response.json(201, {"ok": True})

    async def _clear_faults(self, request: Request, match: re.Match[str]) -> Response:
        self.world.clear_faults()
        return Response.json(200, {"ok": True})

    async def _throttle(self, request: Request, match: re.Match[str]) -> Response:
        return Response.json(200, {"bytes_per_second": self.world.cdn_throttle})

    async def _set_throttle(self, request: Request, match: re.Match[str]) -> Response:
        rate = request.json()["bytes_per_second"]
        if isinstance(rate, bool) or not isinstance(rate, int | None):
            raise TypeError(f"bytes_per_second is a whole number or null, not {rate!r}")
        self.world.throttle_cdn(rate)
        return await self._throttle(request, match)

    async def _list_requests(self, request: Request, match: re.Match[str]) -> Response:
        query = request.query
        entries = self.world.requests(host=query.get("host"), path=query.get("path"))
        since = int(query.get("since", 0))
        return Response.json(200, [request_json(e) for e in entries[since:]])

    async def _clear_requests(self, request: Request, match: re.Match[str]) -> Response:
        self.world.clear_log()
        return Response.json(200, {"ok": True})

    async def _ca(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, [("Content-Type", "application/x-pem-file")], self._ca_pem)

    async def _web(self, request: Request, match: re.Match[str]) -> Response:
        web = self.world.web
        site = await asyncio.to_thread(lambda: web.site)
        archive = [archive_item_json(item) for item in web.archive_items()]
        return Response.json(200, {"site": dataclasses.asdict(site), "archive": archive})

    async def _add_page(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        url = self.world.web.add_page(
            str(body["slug"]),
            title=str(body["title"]),
            kind=str(body.get("kind", "video")),
            description=str(body.get("description", "")),
        )
        return Response.json(201, {"url": url})

    async def _add_redirect(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        url = self.world.web.redirect(str(body["location"]), int(body.get("status", 302)))
        return Response.json(201, {"url": url})

    async def _add_archive_item(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        fields = {k: str(body[k]) for k in ("creator", "description", "date") if k in body}
        item = await asyncio.to_thread(
            self.world.web.add_archive_item,
            str(body["identifier"]),
            title=str(body["title"]),
            **fields,
        )
        return Response.json(201, archive_item_json(item))


class EmulatorControl:
    """A blocking client for the control API (never goes through any configured proxy)."""

    def __init__(self, control_url: str, timeout: float = 30) -> None:
        self.url = control_url.rstrip("/")
        self._timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (the URL is the emulator's own)
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with self._opener.open(request, timeout=self._timeout) as response:
            return json.loads(response.read())

    def add_creator(self, username: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/creators", {"username": username, **fields})
        return result

    def add_post(self, creator: str, kind: str = "video", **fields: Any) -> dict[str, Any]:
        body = {"creator": creator, "kind": kind, **fields}
        result: dict[str, Any] = self.call("POST", "/posts", body)
        return result

    def inject(self, target: str, kind: str, count: int | None = 1, **fields: Any) -> None:
        self.call("POST", "/faults", {"target": target, "kind": kind, "count": count, **fields})

    def patch_item(self, post_id: str, fields: dict[str, Any], **where: bool) -> None:
        self.call("POST", f"/posts/{post_id}/patch", {"fields": fields, **where})

    def throttle_cdn(self, bytes_per_second: int | None) -> None:
        self.call("PUT", "/throttle", {"bytes_per_second": bytes_per_second})

    def web(self) -> dict[str, Any]:
        """The generic site's fixture URLs (``site``) and the archive.org items (``archive``)."""
        result: dict[str, Any] = self.call("GET", "/web")
        return result

    def add_archive_item(self, identifier: str, title: str, **fields: str) -> dict[str, Any]:
        body = {"identifier": identifier, "title": title, **fields}
        result: dict[str, Any] = self.call("POST", "/web/archive", body)
        return result

    def web_redirect(self, location: str, status: int = 302) -> str:
        result = self.call("POST", "/web/redirects", {"location": location, "status": status})
        return str(result["url"])

    def requests(self, **filters: str) -> list[dict[str, Any]]:
        query = urlencode(filters)
        result: list[dict[str, Any]] = self.call(
            "GET", "/requests" + (f"?{query}" if query else "")
        )
        return result
