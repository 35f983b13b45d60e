"""yt-dlp's exceptions, classified once at the boundary, by type (and by words only where
yt-dlp has no type)."""

from __future__ import annotations

import io
import sys

from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError, ProxyError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError

from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.sources import ytdlp  # noqa: F401 - registers the classifier
from tikrelay.sources.transport import RefusedRedirectError


def http_error(status: int) -> HTTPError:
    return HTTPError(Response(io.BytesIO(b""), "https://www.tiktok.com/x", {}, status=status))


def test_http_statuses() -> None:
    assert classify(http_error(404)).kind is ErrorKind.DELETED
    assert classify(http_error(429)).kind is ErrorKind.RATE_LIMIT
    assert classify(http_error(403)).kind is ErrorKind.HTTP
    server = classify(http_error(503))
    assert (server.kind, server.retryable, server.http_status) == (ErrorKind.HTTP, True, 503)


def test_network_and_extractor_errors() -> None:
    assert classify(TransportError("connection reset")).kind is ErrorKind.NETWORK
    plain = classify(ExtractorError("Unable to extract universal data for rehydration"))
    assert plain.kind is ErrorKind.EXTRACTOR
    private = classify(ExtractorError("This account is private", expected=True))
    assert (private.kind, private.retryable) == (ErrorKind.PRIVATE, True)


def test_the_cause_decides_through_yt_dlps_wrappers() -> None:
    inner = ExtractorError("Unable to download webpage", cause=http_error(404))
    try:
        raise inner
    except ExtractorError:
        wrapped = DownloadError("ERROR: Unable to download webpage", sys.exc_info())
    assert classify(wrapped).kind is ErrorKind.DELETED


def test_a_proxy_error_is_a_network_error_without_the_password() -> None:
    cause = ConnectionRefusedError("http://relay:s3cret@127.0.0.1:1 refused")
    error = classify(ProxyError(cause=cause))
    assert error.kind is ErrorKind.NETWORK
    assert error.message.startswith("proxy unreachable: ")
    assert "s3cret" not in error.message


def test_a_refused_redirect_keeps_its_refusal_through_yt_dlps_wrappers() -> None:
    refusal = TikrelayError(
        ErrorKind.PROTECTED, "refused to fetch http://10.0.0.1/", retryable=False
    )
    try:
        raise RefusedRedirectError(refusal)
    except RefusedRedirectError:
        wrapped = DownloadError("ERROR: unable to download video data", sys.exc_info())
    assert classify(wrapped) is refusal
