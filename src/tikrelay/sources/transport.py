"""How yt-dlp's requests leave tikrelay: every redirect target is checked before it is followed,
a proxy that cannot be reached is remembered even where yt-dlp swallows the error, and the cookie
jar is saved whole (see ``sources.cookies``).

yt-dlp follows redirects inside its request handlers and has no option to stop them, so
``GuardedYoutubeDL`` builds its request director from subclasses of the urllib and requests
handlers that check each ``Location`` with :func:`tikrelay.sources.media_urls.check_url` first.
For a link someone sent the bot (``site="web"``), every request is checked before it is sent.
The curl_cffi handler stays as it is for TikTok: yt-dlp uses it only for the page requests it
impersonates, whose URLs tikrelay builds itself (``https://www.tiktok.com/...``), never for media.
For a link someone sent it is left out (its redirects cannot be checked hop by hop): a site
that yt-dlp would only read while impersonating a browser is then read without.

yt-dlp's TikTok user extractor downloads the profile page with ``fatal=False``: a proxy that
refuses connections there becomes a warning and, later, "Unable to extract secondary user ID".
The director therefore records every ``ProxyError`` it raises, so the caller can report the
proxy instead of the symptom.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from curl_cffi.const import CurlECode
from yt_dlp import YoutubeDL
from yt_dlp.networking import _requests, _urllib
from yt_dlp.networking.exceptions import ProxyError, RequestError, TransportError

from tikrelay.config.logging import REDACTED
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sources.cookies import save_jar
from tikrelay.sources.media_urls import WEB, check_url

Vet = Callable[[str], object]
_REDIRECTS = (301, 302, 303, 307, 308)


class RefusedRedirectError(RequestError):  # type: ignore[misc]
    """A redirect (or, for a link someone sent, any request) to a URL tikrelay does not fetch.
    A yt-dlp RequestError, so that yt-dlp's request director does not retry the request with
    another handler, which would follow it."""

    def __init__(self, refusal: TikrelayError, what: str = "redirect") -> None:
        super().__init__(f"{what} {refusal.message}")
        self.refusal = refusal


def _vet_redirect(vet: Vet, base: str, location: str) -> None:
    try:
        vet(urljoin(base, location))
    except TikrelayError as refusal:
        raise RefusedRedirectError(refusal) from None


class _RedirectGuard(urllib.request.BaseHandler):
    """Runs before yt-dlp's RedirectHandler (order 500): refuses, or lets it follow."""

    handler_order = 400

    def __init__(self, vet: Vet) -> None:
        self._vet = vet

    def http_error_302(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any
    ) -> None:
        location = headers.get("location") or headers.get("uri")
        if location:
            try:
                _vet_redirect(self._vet, req.full_url, location)
            except RefusedRedirectError:
                fp.close()
                raise
        # Not handled here: yt-dlp's RedirectHandler, next in line, follows it.

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


# The subclasses keep yt-dlp's class names: yt-dlp keys handlers by name (RH_KEY), and so do its
# options, such as compat_opts "prefer-legacy-http-handler".


class UrllibRH(_urllib.UrllibRH):  # type: ignore[misc]
    """yt-dlp's urllib handler, checking each redirect target before following it."""

    def __init__(self, *, vet: Vet, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._vet = vet

    def _create_instance(self, *args: Any, **kwargs: Any) -> Any:
        opener = super()._create_instance(*args, **kwargs)
        opener.add_handler(_RedirectGuard(self._vet))
        return opener


class RequestsRH(_requests.RequestsRH):  # type: ignore[misc]
    """yt-dlp's requests handler, checking each redirect target before following it."""

    def __init__(self, *, vet: Vet, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._vet = vet

    def _create_instance(self, *args: Any, **kwargs: Any) -> Any:
        session = super()._create_instance(*args, **kwargs)
        vet, target = self._vet, session.get_redirect_target

        def checked_target(response: Any) -> str | None:
            location: str | None = target(response)
            if location:
                try:
                    _vet_redirect(vet, response.url, location)
                except RefusedRedirectError:
                    response.close()
                    raise
            return location

        session.get_redirect_target = checked_target
        return session


_GUARDED: dict[Any, Callable[..., Any]] = {
    _urllib.UrllibRH: UrllibRH,
    _requests.RequestsRH: RequestsRH,
}


def uses_proxy(proxies: dict[str, str]) -> bool:
    """Whether https requests go through a proxy with these yt-dlp proxy settings."""
    chosen = proxies.get("https") or proxies.get("all")
    return bool(chosen) and chosen != "__noproxy__"


def shown_proxy(url: str) -> str:
    """A proxy URL fit for a report: its password replaced, as in every log line."""
    try:
        parts = urlsplit(url)
        host, port, user = parts.hostname, parts.port, parts.username
    except ValueError:
        return "(a proxy URL that does not parse)"
    if host is None:
        return url.split("@")[-1]
    host = f"[{host}]" if ":" in host else host
    login = (
        f"{user or ''}:{REDACTED}@" if parts.password is not None else f"{user}@" if user else ""
    )
    return f"{parts.scheme}://{login}{host}" + (f":{port}" if port else "")


def _innermost(exc: BaseException) -> str:
    seen = exc
    for _ in range(10):
        inner = seen.__cause__ or seen.__context__
        if inner is None:
            break
        seen = inner
    return f"{type(seen).__name__}: {seen}"[:200]


def _unreachable(exc: BaseException) -> str | None:
    """Why a connection through a proxy could not even reach the proxy, or None if it did: with
    a proxy every connection goes to the proxy, so a refused one is the proxy's refusal."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        code = getattr(seen, "code", None)  # curl_cffi's error (impersonated page requests)
        if code == CurlECode.COULDNT_CONNECT:
            return "could not connect"
        if code == CurlECode.COULDNT_RESOLVE_PROXY:
            return "its name does not resolve"
        seen = seen.__cause__ or seen.__context__
    return None


class GuardedYoutubeDL(YoutubeDL):  # type: ignore[misc]
    """A YoutubeDL whose redirects are checked and whose proxy failures are kept in
    ``proxy_failures`` (newest last)."""

    def __init__(
        self, params: dict[str, Any] | None = None, site: str = "tiktok", *, extractors: bool = True
    ) -> None:
        """``extractors=False``: without yt-dlp's default extractors (loading them takes a
        tenth of a second), for an instance that is given the one it uses."""
        self.proxy_failures: list[TransportError] = []
        self.site = site
        super().__init__(params, auto_init=extractors)

    def vet(self, url: str) -> str:
        """``url`` if it may be fetched as media with this instance's proxy settings."""
        return check_url(url, self.site, resolve=not uses_proxy(self.proxies))

    def save_cookies(self) -> None:
        """Save the jar whole, by a rename (yt-dlp truncates and rewrites it in place)."""
        cookiefile = self.params.get("cookiefile")
        if cookiefile is not None:
            save_jar(self.cookiejar, Path(cookiefile))

    def proxy_error(self) -> TikrelayError | None:
        """A network error naming the proxy, when a request of this instance could not reach
        it: the real cause of whatever yt-dlp reported after swallowing that failure."""
        if not self.proxy_failures:
            return None
        proxy = self.proxies.get("https") or self.proxies.get("all") or ""
        failure = self.proxy_failures[-1]
        reason = _unreachable(failure) or _innermost(failure)
        return TikrelayError(ErrorKind.NETWORK, f"proxy {shown_proxy(proxy)} unreachable: {reason}")

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        guarded = [
            partial(_GUARDED[handler], vet=self.vet) if handler in _GUARDED else handler
            for handler in handlers
            if self.site != WEB or getattr(handler, "RH_KEY", None) != "CurlCFFI"
        ]  # a proxy for a handler class: build_request_director only calls it
        director = super().build_request_director(guarded, preferences)
        send = director.send

        def recording_send(request: Any) -> Any:
            if self.site == WEB:  # a link someone sent: every page, manifest and file it leads to
                try:
                    self.vet(request.url)
                except TikrelayError as refusal:
                    raise RefusedRedirectError(refusal, "request") from None
            try:
                return send(request)
            except ProxyError as exc:
                self.proxy_failures.append(exc)
                raise
            except TransportError as exc:
                # Through a proxy every connection goes to the proxy: a refused one is the proxy.
                if uses_proxy(self.proxies) and _unreachable(exc):
                    self.proxy_failures.append(exc)
                raise

        director.send = recording_send
        return director
