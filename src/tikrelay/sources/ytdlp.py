"""yt-dlp as our source engine: the options every instance gets from the network settings, its log
routed to structlog, and the one classifier for its exceptions."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import certifi
import structlog
from yt_dlp.networking.exceptions import HTTPError, ProxyError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

from tikrelay.config.logging import redact_text
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError, register_classifier
from tikrelay.media.files import write_atomically
from tikrelay.sources.cookies import private_copy
from tikrelay.sources.transport import GuardedYoutubeDL, RefusedRedirectError

log = structlog.get_logger("tikrelay.sources")

# A request that waits longer than this for a byte is a dead connection, not a slow one.
SOCKET_TIMEOUT = 20.0


class YtdlpLogger:
    """yt-dlp's ``logger`` option: its lines go to our log (debug chatter stays at debug)."""

    def debug(self, msg: str) -> None:
        log.debug("ytdlp", message=redact_text(msg))

    def info(self, msg: str) -> None:
        log.debug("ytdlp", message=redact_text(msg))

    def warning(self, msg: str) -> None:
        log.info("ytdlp_warning", message=redact_text(msg))

    def error(self, msg: str) -> None:
        log.info("ytdlp_error", message=redact_text(msg))


def check_cookie_file(path: Path) -> Path:
    """A cookies file holds login sessions: refuse one that others may read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise TikrelayError(
            ErrorKind.AUTH,
            f"network.cookies_file {path} does not exist: export your TikTok cookies there "
            "(Netscape format) or remove the key",
            retryable=False,
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TikrelayError(
            ErrorKind.AUTH,
            f"network.cookies_file {path} is readable by other users: run `chmod 600 {path}`",
            retryable=False,
        )
    return path


_CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def trust_ca_bundle(bundle: Path, folder: Path) -> Path:
    """Make source traffic trust ``bundle`` in addition to the CAs it trusts already.

    yt-dlp has no option for extra CAs. Its urllib and requests handlers load the default
    verify paths, which follow ``SSL_CERT_FILE``, when told not to prefer certifi
    (``compat_opts: no-certifi``); curl_cffi (impersonated page requests) takes
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` when a session starts. All three are pointed at
    one file: certifi's CAs, the file those variables named before, and ``bundle``.
    """
    try:
        extra = bundle.read_bytes()
    except OSError as exc:
        raise TikrelayError(
            ErrorKind.AUTH,
            f"network.ca_bundle {bundle} cannot be read ({exc.strerror}): fix the path",
            retryable=False,
        ) from None
    parts = [Path(certifi.where()).read_bytes()]
    for name in _CA_VARIABLES:
        current = os.environ.get(name)
        if current and Path(current).is_file() and not Path(current).name.startswith("ca-bundle-"):
            parts.append(Path(current).read_bytes())
    combined = b"\n".join([*dict.fromkeys(parts), extra])
    digest = hashlib.sha256(combined).hexdigest()[:16]
    target = folder / f"ca-bundle-{digest}.pem"
    if not target.exists():  # threads of one run may get here together: each its own temp file
        write_atomically(target, lambda tmp: tmp.write_bytes(combined))
    for name in _CA_VARIABLES:
        os.environ[name] = str(target)
    return target


def base_options(
    network: NetworkSettings,
    *,
    ca_folder: Path,
    proxy: str | None,
    cookie_jar: Path | None = None,
) -> dict[str, Any]:
    """Options for one YoutubeDL instance: quiet, our logger, the network settings. With
    ``network.cookies_file``, yt-dlp gets ``cookie_jar``, a private copy of that file (see
    ``sources.cookies``), never the file itself."""
    options: dict[str, Any] = {
        "logger": YtdlpLogger(),
        "quiet": True,
        "noprogress": True,
        "no_color": True,
        "socket_timeout": SOCKET_TIMEOUT,
        # The job engine retries with backoff and proxy rotation; yt-dlp's own retries would
        # only hide how often a source fails.
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "noplaylist": True,
        "cachedir": False,
    }
    if proxy:
        options["proxy"] = proxy
    if not network.verify_tls:
        options["nocheckcertificate"] = True
    elif network.ca_bundle is not None:
        trust_ca_bundle(network.ca_bundle, ca_folder)
        options["compat_opts"] = ["no-certifi"]
    if network.cookies_file is not None:
        if cookie_jar is None:
            raise ValueError("network.cookies_file needs a cookie_jar for its private copy")
        options["cookiefile"] = str(
            private_copy(check_cookie_file(network.cookies_file), cookie_jar)
        )
    return options


def fetch_status(options: dict[str, Any], url: str) -> int:
    """The HTTP status of one GET of ``url`` with these options (``tikrelay doctor``)."""
    with GuardedYoutubeDL(options) as ydl, contextlib.closing(ydl.urlopen(url)) as response:
        status: int = response.status
    return status


def pick_proxy(proxies: list[str], key: str, attempt: int) -> str | None:
    """Sticky per key (one post, one feed), rotated on every retry."""
    if not proxies:
        return None
    spread = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return proxies[(spread + attempt) % len(proxies)]


def _http_kind(status: int) -> TikrelayError:
    if status == 404 or status == 410:
        return TikrelayError(ErrorKind.DELETED, f"HTTP {status}: gone", http_status=status)
    if status == 429:
        return TikrelayError(ErrorKind.RATE_LIMIT, "HTTP 429: too many requests", http_status=429)
    if status in (401, 403):
        return TikrelayError(
            ErrorKind.HTTP, f"HTTP {status}: refused (blocked or needs cookies)", http_status=status
        )
    return TikrelayError(
        ErrorKind.HTTP, f"HTTP {status}", http_status=status, retryable=status >= 500
    )


_PRIVATE_WORDS = ("private", "permission to view", "log in for access", "login required")


@register_classifier
def classify_ytdlp(exc: BaseException) -> TikrelayError | None:
    """yt-dlp's exceptions by type; its cause (an HTTP or transport error) decides first."""
    if isinstance(exc, DownloadError) and exc.exc_info and exc.exc_info[1] is not None:
        inner = exc.exc_info[1]
        if inner is not exc:
            found = classify_ytdlp(inner)
            if found is not None:
                return found
    if isinstance(exc, RefusedRedirectError):
        return exc.refusal
    if isinstance(exc, HTTPError):
        return _http_kind(exc.status)
    if isinstance(exc, ProxyError):
        return TikrelayError(ErrorKind.NETWORK, f"proxy unreachable: {redact_text(str(exc))}")
    if isinstance(exc, TransportError):
        return TikrelayError(ErrorKind.NETWORK, redact_text(str(exc)))
    if isinstance(exc, GeoRestrictedError):
        return TikrelayError(ErrorKind.GEO_BLOCK, redact_text(exc.orig_msg))
    if isinstance(exc, UnsupportedError):  # no extractor, and no media on the page
        return TikrelayError(ErrorKind.UNSUPPORTED, redact_text(exc.orig_msg), retryable=False)
    if isinstance(exc, ExtractorError):
        if exc.cause is not None and exc.cause is not exc:
            found = classify_ytdlp(exc.cause)
            if found is not None:
                return found
        message = redact_text(exc.orig_msg or str(exc))
        if exc.expected and any(word in message.lower() for word in _PRIVATE_WORDS):
            # yt-dlp has no type for "log in to see this": its own words are all there is. An
            # account may turn public again, so it is tried again later, with backoff.
            return TikrelayError(ErrorKind.PRIVATE, message, retryable=True)
        return TikrelayError(ErrorKind.EXTRACTOR, message)
    if isinstance(exc, DownloadError):
        return TikrelayError(ErrorKind.EXTRACTOR, redact_text(str(exc)))
    return None


def ytdlp_version() -> str:
    """The version of the yt-dlp in use (TikTok changes often; so does yt-dlp)."""
    from yt_dlp.version import __version__

    return str(__version__)
