"""The emulated hosts: web pages and the feed API on www.tiktok.com, media on the CDNs, and the
other web sites (web.py).

Injected faults are applied here, before routing, and every answer goes to the request log.
"""

from __future__ import annotations

import asyncio
import re

from tikrelay.sandbox.tiktok import app_api, challenge, pages
from tikrelay.sandbox.tiktok.faults import Fault, FaultKind
from tikrelay.sandbox.tiktok.media import byte_range as byte_range  # re-exported
from tikrelay.sandbox.tiktok.media import file_response
from tikrelay.sandbox.tiktok.model import (
    IMAGE_HOST,
    IMAGE_MIRROR_HOST,
    MUSIC_HOST,
    OK,
    REMOVED,
    VIDEO_HOST,
    WEB_HOST,
    MediaKind,
)
from tikrelay.sandbox.tiktok.wire import Request, Response
from tikrelay.sandbox.tiktok.world import LoggedRequest, TikTokWorld

CHAIN_COOKIE = "tt_chain_token"
_POST_PAGE = re.compile(r"/@(?P<user>[\w.-]*)/(?:video|photo)/(?P<id>\d+)/?")
_PROFILE_PAGE = re.compile(r"/@(?P<user>[\w.-]+)/?")
_SHORT_CODE = re.compile(r"/(?:t/)?(?P<code>[A-Za-z0-9]+)/?")
SHORT_HOSTS = ("vm.tiktok.com", "vt.tiktok.com")
_MEDIA_HOSTS = {
    MediaKind.VIDEO: {VIDEO_HOST},
    MediaKind.AUDIO: {MUSIC_HOST},
    MediaKind.IMAGE: {IMAGE_HOST, IMAGE_MIRROR_HOST},
}
# Bytes that are neither HTML, JSON nor a media container.
GARBAGE = bytes(range(256)) * 16


class TikTokSite:
    def __init__(self, world: TikTokWorld) -> None:
        self.world = world

    async def handle(self, request: Request) -> Response:
        match = _POST_PAGE.fullmatch(request.path) if request.host == WEB_HOST else None
        post_id = match["id"] if match else None
        response = None
        for fault in self.world.faults.take(request.host, request.path, post_id):
            if fault.kind is FaultKind.DELAY:
                await asyncio.sleep(fault.seconds)
            else:
                response = self._faulty(request, fault)
        answer = request.cookies.get(challenge.COOKIE_NAME)
        if response is None and answer is not None and not self.world.challenge_solved(answer):
            # A wrong answer earns another challenge, as from TikTok's WAF.
            response = self._faulty(request, Fault(FaultKind.CHALLENGE))
        if response is None:
            web = self.world.web
            if web.serves(request.host) and not web.prepared:
                # Media are made once per world: keep a cold ffmpeg run off the event loop.
                await asyncio.to_thread(web.prepare)
            response = self._route(request)
        self._log(request, response)
        return response

    def refuse(self, request: Request) -> Response:
        """Answer (and log) a request for a host the emulator does not serve: there is no
        internet behind the proxy, and it never connects anywhere itself."""
        response = Response.text(502, f"{request.host} is not emulated and there is no internet")
        # A refused CONNECT (target host:port) is logged with an empty path.
        self._log(request, response, path="" if request.method == "CONNECT" else None)
        return response

    def _faulty(self, request: Request, fault: Fault) -> Response:
        content_type = "text/html" if request.host == WEB_HOST else "application/octet-stream"
        if fault.kind is FaultKind.STATUS:
            return Response.text(fault.status, f"<h1>{fault.status}</h1>", "text/html")
        if fault.kind is FaultKind.CHALLENGE:
            page = challenge.render_page(self.world.issue_challenge())
            return Response.text(200, page, "text/html")
        if fault.kind is FaultKind.EMPTY:
            return Response(200, [("Content-Type", content_type)])
        if fault.kind is FaultKind.GARBAGE:
            return Response(200, [("Content-Type", content_type)], GARBAGE)
        if fault.kind is FaultKind.REDIRECT:
            return Response(fault.status or 302, [("Location", fault.location)])
        return Response(0, reset=True)

    def _route(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response.text(405, "method not allowed")
        if request.host == WEB_HOST:
            return self._web(request)
        if request.host in SHORT_HOSTS:
            return self._short_link(request.path)
        if app_api.serves(request.host):
            return app_api.api(self.world, request)
        if any(request.host in hosts for hosts in _MEDIA_HOSTS.values()):
            return self._media(request)
        if self.world.web.serves(request.host):
            return self.world.web.route(request, rate=self.world.cdn_throttle)
        return Response.text(404, "not found", "text/html")

    # -- www.tiktok.com ----------------------------------------------------------------------

    def _web(self, request: Request) -> Response:
        path = request.path
        if path == "/api/creator/item_list/":
            return self._feed(request)
        if match := _POST_PAGE.fullmatch(path):
            return self._with_chain_cookie(request, self._post_page(match["id"]))
        if match := _PROFILE_PAGE.fullmatch(path):
            return self._with_chain_cookie(request, self._profile_page(match["user"]))
        if path.startswith("/t/"):
            return self._short_link(path)
        if match := app_api.TAG_PAGE.fullmatch(path):
            return self._with_chain_cookie(
                request, app_api.tag_page(self.world, request, match["name"])
            )
        return Response.text(404, "<h1>Page not available</h1>", "text/html")

    def _short_link(self, path: str) -> Response:
        """A share link: a redirect to the post's page, as TikTok answers one."""
        match = _SHORT_CODE.fullmatch(path)
        target = self.world.short_link_target(match["code"]) if match else None
        if target is None:
            return Response.text(404, "<h1>Page not available</h1>", "text/html")
        return Response(301, [("Location", target)])

    def _post_page(self, post_id: str) -> Response:
        world = self.world
        status = world.status(post_id)
        post = world.post(post_id)
        item = None
        if post is not None and status == OK:
            author = world.creator(post.username)
            if author is not None:
                sound = world.sound_of(post_id)
                item = pages.item_struct(post, author, create_time_as_text=True, sound=sound)
                pages.apply_patch(item, world.item_patch(post_id, page=True))
        title = f"{post.desc} | TikTok" if post and item else "TikTok - Make Your Day"
        scope = {"webapp.video-detail": pages.video_detail(status, item)}
        return Response.text(200, pages.html_page(title, scope), "text/html")

    def _profile_page(self, username: str) -> Response:
        creator = self.world.creator(username)
        if creator is None:
            scope = {"webapp.user-detail": {"statusCode": 10221, "statusMsg": "user not exist"}}
            return Response.text(200, pages.html_page("TikTok", scope), "text/html")
        detail = pages.user_detail(creator, len(self.world.posts(username)))
        title = f"{creator.nickname} (@{creator.username}) | TikTok"
        return Response.text(
            200, pages.html_page(title, {"webapp.user-detail": detail}), "text/html"
        )

    def _feed(self, request: Request) -> Response:
        query = request.query
        try:
            cursor = int(query.get("cursor") or 0)
            count = int(query.get("count") or 15)
        except ValueError:
            return Response.json(200, {"statusCode": 10201, "status_msg": "invalid parameters"})
        creator = self.world.creator_by_sec_uid(query.get("secUid", ""))
        if creator is None:
            return Response.json(200, pages.feed([], False, cursor))
        if creator.private:
            # TikTok does not say "private" here: it sends nothing yet claims there is more.
            # That is what makes yt-dlp, given tiktokuser:<secUid>, ask for a login.
            return Response.json(200, pages.feed([], True, cursor))
        posts, has_more = self.world.feed_page(creator.username, cursor, count)
        items = [
            pages.item_struct(
                p, creator, create_time_as_text=False, sound=self.world.sound_of(p.id)
            )
            for p in posts
        ]
        for item in items:
            pages.apply_patch(item, self.world.item_patch(str(item["id"]), page=False))
        return Response.json(200, pages.feed(items, has_more, cursor))

    def _with_chain_cookie(self, request: Request, response: Response) -> Response:
        """Pages hand out the cookie the video CDN asks for, as TikTok's do."""
        if not self.world.chain_token_ok(request.cookies.get(CHAIN_COOKIE)):
            token = self.world.issue_chain_token()
            response.headers.append(
                (
                    "Set-Cookie",
                    f"{CHAIN_COOKIE}={token}; Domain=.tiktok.com; Path=/; Max-Age=15552000; "
                    "Secure; HttpOnly; SameSite=None",
                )
            )
        return response

    # -- CDNs ----------------------------------------------------------------------------------

    def _media(self, request: Request) -> Response:
        file = self.world.media_at(request.path)
        if file is None or request.host not in _MEDIA_HOSTS[file.kind]:
            return Response.text(404, "not found")
        if file.kind is MediaKind.VIDEO:
            # The video CDN is under .tiktok.com, so the page's cookie reaches it.
            allowed = self.world.chain_token_ok(request.cookies.get(CHAIN_COOKIE))
        else:
            # A .tiktok.com cookie never reaches tiktokcdn hosts: they check the URL's signature.
            allowed = self.world.signature_ok(request.path, request.query.get("x-signature", ""))
        if not allowed:
            return Response.text(403, "Access Denied")
        if self.world.status(file.post_id) == REMOVED:
            return Response.text(404, "not found")
        headers = [("Cache-Control", "max-age=3600")]
        rate = self.world.cdn_throttle
        return file_response(request, file.path, file.content_type, rate=rate, headers=headers)

    def _log(self, request: Request, response: Response, path: str | None = None) -> None:
        self.world.record(
            LoggedRequest(
                host=request.host,
                method=request.method,
                path=request.path if path is None else path,
                query=request.query,
                cookies=frozenset(request.cookies),
                # Cookie values stay out of the log: names are in ``cookies``.
                headers={k: v for k, v in request.headers.items() if k != "cookie"},
                status=response.status,
            )
        )
