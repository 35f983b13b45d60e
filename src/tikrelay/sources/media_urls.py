"""Which URLs tikrelay may fetch: https on a site's own media hosts, or (for a link a person
sent the bot: ``site="web"``) http(s) on any public host; never a private address.

A post's data names the files to download (slides, the sound, video formats). That data comes
from the network, so a URL in it is checked before anything is fetched from it, and so is every
redirect target: a URL that points at the machine itself, its network or a cloud metadata service
would otherwise make tikrelay fetch it and post the answer (server-side request forgery).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from tikrelay.domain.errors import ErrorKind, TikrelayError

#: Hosts a site serves media from, as lower-case glob patterns. The one list to extend when a
#: site moves its CDN, or when another site is added.
MEDIA_HOSTS: dict[str, tuple[str, ...]] = {
    "tiktok": (
        "tiktok.com",
        "*.tiktok.com",  # pages, and video CDNs such as v16-webapp-prime.tiktok.com
        "*.tiktokcdn.com",  # v16m, v77, sf16-ies-music-va, p16-sign-va, ...
        "*.tiktokcdn-us.com",
        "*.tiktokcdn-eu.com",
        "*.tiktokv.com",
        "*.tiktokv.us",
        "*.tiktokv.eu",
        "*.byteoversea.com",
        "*.ibytedtos.com",
        "*.ibyteimg.com",
        "*.muscdn.com",
    ),
}

#: The "site" of links people send the bot: any public host, over http or https.
WEB = "web"
#: Names that mean this machine or its network whatever a resolver says (RFC 6761, RFC 8375,
#: and the suffixes cloud providers give their internal names).
LOCAL_NAMES = ("localhost", "*.localhost", "*.local", "*.internal", "*.home.arpa", "*.lan")

Resolver = Callable[[str], Iterable[str]]


def resolve_host(host: str) -> list[str]:
    """The addresses ``host`` resolves to, as the system resolver answers now."""
    try:
        answers = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TikrelayError(ErrorKind.NETWORK, f"cannot resolve {host}: {exc}") from exc
    return [str(answer[4][0]) for answer in answers]


def refuse(url: str, reason: str) -> TikrelayError:
    """The error for a URL tikrelay will not fetch: final, since the post's data will not change
    by waiting."""
    return TikrelayError(
        ErrorKind.PROTECTED, f"refused to fetch {_shown(url)}: {reason}", retryable=False
    )


def check_url(
    url: str,
    site: str = "tiktok",
    *,
    resolve: bool,
    resolver: Resolver = resolve_host,
) -> str:
    """``url`` if tikrelay may fetch it for ``site``; else a PROTECTED TikrelayError.

    For a site: ``https``, default port, no credentials, a host name (never an IP literal) that
    one of ``MEDIA_HOSTS[site]`` matches. For ``WEB`` (a link someone sent): ``http`` or
    ``https``, no credentials, a public host: an IP literal only if it is a global address, a
    name only if it is not local by itself (``localhost``, ``*.local``, a name without a dot).
    With ``resolve`` (no proxy in use) the name must also resolve to public addresses only;
    through a proxy, the proxy resolves names and this check cannot.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse(url, f"not a valid URL ({exc})") from None
    web = site == WEB
    scheme = parts.scheme.lower()
    if scheme != "https" and not (web and scheme == "http"):
        allowed = "http and https are" if web else "https is"
        raise refuse(url, f"only {allowed} allowed, not {parts.scheme or 'a relative URL'!r}")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise refuse(url, "no host")
    if (address := _ip_literal(host)) is not None:
        if not web or not address.is_global or address.is_multicast:
            where = "a private or local address" if not address.is_global else "an address"
            raise refuse(url, f"{where} ({address}), not a host name")
    elif web:
        if "." not in host or any(fnmatch.fnmatchcase(host, name) for name in LOCAL_NAMES):
            raise refuse(url, f"{host} is a local name")
    elif not any(fnmatch.fnmatchcase(host, pattern) for pattern in MEDIA_HOSTS.get(site, ())):
        raise refuse(url, f"{host} is not one of {site}'s media hosts")
    if parts.username is not None or parts.password is not None:
        raise refuse(url, "credentials in the URL")
    if not web and port not in (None, 443):
        raise refuse(url, f"port {port} is not the https port")
    if resolve and address is None:
        for answer in resolver(host):
            found = _ip_literal(answer.split("%", 1)[0])
            if found is None or not found.is_global or found.is_multicast:
                raise refuse(url, f"{host} resolves to a private or local address ({answer})")
    return url


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, including the forms ``inet_aton`` accepts (``127.1``,
    ``0x7f000001``, ``2130706433``), which some clients still connect to; IPv4-mapped IPv6
    addresses count as the IPv4 one."""
    text = host.strip("[]")
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _shown(url: str) -> str:
    """The URL without credentials or query (signatures), short enough for a report line."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return repr(url[:80])
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url.split("?")[0]
    return shown if len(shown) <= 120 else shown[:117] + "..."
