"""A TikTok account's authorization (OAuth 2 authorization code with PKCE, as TikTok's Login Kit
for Desktop documents it) and its tokens: exchanged, refreshed before they expire, and sealed
with Fernet under a key derived from ``TIKRELAY_SECRET_KEY`` before they reach the database.

Tokens never appear in a message, a log line or a repr: errors say what to do, never the token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tikrelay.config.tiktok_settings import TikTokApp
from tikrelay.domain.errors import ErrorKind, TikrelayError

SECRET_KEY_ENV = "TIKRELAY_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
SCOPES = ("user.info.basic", "video.upload", "video.publish")
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - an address, not a secret
#: An access token is refreshed this long before TikTok says it expires.
REFRESH_MARGIN = timedelta(minutes=10)
_TIMEOUT = httpx.Timeout(30.0)


@dataclass(frozen=True)
class Tokens:
    """What TikTok's token endpoint gave for an account; the tokens stay out of any repr."""

    open_id: str
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime

    def fresh(self, now: datetime) -> bool:
        """The access token is good for longer than the refresh margin."""
        return now + REFRESH_MARGIN < self.access_expires_at


class TokenBox:
    """Seals tokens for the database: Fernet, keyed by HKDF-SHA256 of the secret key's text."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key.strip():
            raise missing_secret_key()
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"tikrelay", info=b"tiktok-tokens"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    @classmethod
    def from_environment(cls) -> TokenBox:
        """The box of ``TIKRELAY_SECRET_KEY``; a TikrelayError names the variable when unset."""
        return cls(os.environ.get(SECRET_KEY_ENV, ""))

    def seal(self, tokens: Tokens) -> str:
        data = {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
        return self._fernet.encrypt(json.dumps(data).encode()).decode("ascii")

    def open(self, sealed: str, account: str) -> tuple[str, str]:
        """(access token, refresh token) of ``sealed``."""
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
            return str(data["access_token"]), str(data["refresh_token"])
        except (InvalidToken, ValueError, KeyError, TypeError):
            raise TikrelayError(
                ErrorKind.AUTH,
                f"the tokens of TikTok account {account!r} cannot be read with this "
                f"{SECRET_KEY_ENV}: set the key they were stored with, or run "
                f"tikrelay tiktok-auth {account} again",
                retryable=False,
            ) from None


def setup_problem(app: TikTokApp) -> str | None:
    """What keeps tiktok destinations from working, checked at start (no request is made)."""
    if not app.client_key:
        return "tiktok_app.client_key: not set: write your TikTok app's client key there"
    if app.client_secret is None or not app.client_secret.get_secret_value().strip():
        return (
            "tiktok_app.client_secret: not set: export TIKRELAY_TIKTOK_APP__CLIENT_SECRET "
            "with your TikTok app's client secret"
        )
    if not os.environ.get(SECRET_KEY_ENV, "").strip():
        return missing_secret_key().message
    return None


def missing_secret_key() -> TikrelayError:
    return TikrelayError(
        ErrorKind.AUTH,
        f"{SECRET_KEY_ENV} is not set: export a long random text in it (such as the output of "
        "`openssl rand -base64 32`); TikTok tokens are stored encrypted with it",
        retryable=False,
    )


@dataclass(frozen=True)
class Authorization:
    """One authorization under way: the page to open, and what checks the way back."""

    url: str
    state: str = field(repr=False)
    verifier: str = field(repr=False)


def code_challenge(verifier: str) -> str:
    """TikTok's desktop PKCE challenge: the SHA-256 of the verifier, hex-encoded (Login Kit
    for Desktop; not the base64url of RFC 7636's S256)."""
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def begin_authorization(app: TikTokApp) -> Authorization:
    """The authorization URL for ``app``, with a new state and PKCE verifier."""
    client_key = require_client_key(app)
    state = secrets.token_urlsafe(24)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    verifier = "".join(secrets.choice(alphabet) for _ in range(64))
    query = urlencode(
        {
            "client_key": client_key,
            "scope": ",".join(SCOPES),
            "response_type": "code",
            "redirect_uri": app.redirect_uri,
            "state": state,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in app.auth_url else "?"
    return Authorization(f"{app.auth_url}{separator}{query}", state, verifier)


def code_from_redirect(text: str, state: str) -> str:
    """The authorization code in what the user pasted: the whole address TikTok redirected to
    (its ``state`` must be this authorization's), or the code alone. ValueError says what is
    wrong."""
    given = text.strip()
    if not given:
        raise ValueError("nothing was pasted: paste the address the browser was sent to")
    if "://" not in given and "?" not in given and "=" not in given:
        return given  # the code alone
    query = parse_qs(urlsplit(given).query or given.lstrip("?"))
    error = query.get("error", [None])[0]
    if error:
        described = query.get("error_description", [""])[0]
        raise ValueError(f"TikTok refused the authorization: {error} {described}".strip())
    if query.get("state", [None])[0] != state:
        raise ValueError(
            "the address is not the answer to this authorization (its state differs): open "
            "the URL printed above and paste the address it leads to"
        )
    code = query.get("code", [""])[0]
    if not code:
        raise ValueError("the address holds no code: paste the whole address")
    return code


def require_client_key(app: TikTokApp) -> str:
    if not app.client_key:
        raise TikrelayError(
            ErrorKind.AUTH,
            "tiktok_app.client_key is not set: write your TikTok app's client key there",
            retryable=False,
        )
    return app.client_key


def _client_secret(app: TikTokApp) -> str:
    secret = app.client_secret.get_secret_value() if app.client_secret else ""
    if not secret.strip():
        raise TikrelayError(
            ErrorKind.AUTH,
            "the TikTok app's client secret is not set: export TIKRELAY_TIKTOK_APP__CLIENT_SECRET",
            retryable=False,
        )
    return secret


class OAuthClient:
    """TikTok's token endpoint: the code exchanged, tokens refreshed."""

    def __init__(self, app: TikTokApp, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    async def exchange(self, code: str, verifier: str, now: datetime) -> Tokens:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.app.redirect_uri,
                "code_verifier": verifier,
            },
            now,
            account=None,
        )

    async def refresh(self, refresh_token: str, now: datetime, account: str) -> Tokens:
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, now, account=account
        )

    async def _token(self, form: dict[str, str], now: datetime, account: str | None) -> Tokens:
        body = {
            "client_key": require_client_key(self.app),
            "client_secret": _client_secret(self.app),
            **form,
        }
        url = self.app.api_url.rstrip("/") + TOKEN_PATH
        try:
            response = await self.http.post(url, data=body, timeout=_TIMEOUT)
        except httpx.TimeoutException:
            raise TikrelayError(ErrorKind.TIMEOUT, "TikTok's token endpoint timed out") from None
        except httpx.HTTPError as exc:
            raise TikrelayError(
                ErrorKind.NETWORK, f"TikTok's token endpoint: {type(exc).__name__}"
            ) from None
        data = _json(response)
        error = data.get("error")
        if response.status_code == 429:  # the token endpoint's rate limit: later, not re-auth
            try:
                wait = max(0.0, float(response.headers.get("retry-after", "60")))
            except ValueError:
                wait = 60.0
            raise TikrelayError(
                ErrorKind.RATE_LIMIT,
                "TikTok's token endpoint asks to wait (rate limited)",
                retryable=True,
                retry_after=wait,
                http_status=429,
            )
        if response.status_code >= 500:
            raise TikrelayError(
                ErrorKind.HTTP,
                f"TikTok's token endpoint answered HTTP {response.status_code}",
                http_status=response.status_code,
            )
        if error or response.status_code != 200 or "access_token" not in data:
            again = (
                f"run tikrelay tiktok-auth {account} again"
                if account
                else "start tikrelay tiktok-auth again"
            )
            described = str(data.get("error_description") or "")[:200]
            raise TikrelayError(
                ErrorKind.AUTH,
                f"TikTok refused the token request: {error or response.status_code} "
                f"{described}; {again}".replace("  ", " "),
                retryable=False,
                http_status=response.status_code,
            )
        try:
            return Tokens(
                open_id=str(data["open_id"]),
                scope=str(data.get("scope", "")),
                access_token=str(data["access_token"]),
                refresh_token=str(data["refresh_token"]),
                access_expires_at=now + timedelta(seconds=int(data["expires_in"])),
                refresh_expires_at=now + timedelta(seconds=int(data["refresh_expires_in"])),
            )
        except (KeyError, TypeError, ValueError):
            raise TikrelayError(
                ErrorKind.HTTP, "TikTok's token endpoint answered without the expected fields"
            ) from None


class AccountCredentials:
    """An account's tokens while jobs use them: the access token refreshed before it expires,
    or when TikTok no longer takes it; each new pair given to ``save`` at once. ``load`` reads
    the stored pair again first: another process may have refreshed it already (TikTok may
    rotate the refresh token, and the old one then no longer works)."""

    def __init__(
        self,
        account: str,
        tokens: Tokens,
        oauth: OAuthClient,
        *,
        now: Callable[[], datetime],
        save: Callable[[Tokens], Awaitable[None]],
        load: Callable[[], Awaitable[Tokens | None]] | None = None,
        lock: asyncio.Lock | None = None,
    ) -> None:
        self.account = account
        self.tokens = tokens
        self.oauth = oauth
        self.now = now
        self.save = save
        self.load = load
        self.lock = lock or asyncio.Lock()
        self.refreshed = 0

    async def token(self) -> str:
        current = self.tokens
        if not current.fresh(self.now()):
            return await self.renew(current.access_token)
        return current.access_token

    async def renew(self, stale: str) -> str:
        """A new access token in place of ``stale`` (unless it was replaced meanwhile)."""
        async with self.lock:
            if self.tokens.access_token != stale and self.tokens.fresh(self.now()):
                return self.tokens.access_token
            if self.load is not None:
                stored = await self.load()
                if stored is not None:
                    self.tokens = stored
                    if stored.access_token != stale and stored.fresh(self.now()):
                        return stored.access_token
            if self.tokens.refresh_expires_at <= self.now():
                raise TikrelayError(
                    ErrorKind.AUTH,
                    f"the authorization of TikTok account {self.account!r} expired (a year "
                    f"passed): run tikrelay tiktok-auth {self.account} again",
                    retryable=False,
                )
            try:
                self.tokens = await self.oauth.refresh(
                    self.tokens.refresh_token, self.now(), self.account
                )
            except TikrelayError as refused:
                # Another process (a second worker, doctor) may have refreshed at the same
                # moment, and TikTok rotated the refresh token under us: take the stored pair.
                stored = await self.load() if self.load is not None else None
                if (
                    refused.kind is not ErrorKind.AUTH
                    or stored is None
                    or stored.refresh_token == self.tokens.refresh_token
                ):
                    raise
                self.tokens = stored
                if stored.fresh(self.now()):
                    return stored.access_token
                self.tokens = await self.oauth.refresh(
                    stored.refresh_token, self.now(), self.account
                )
            self.refreshed += 1
            await self.save(self.tokens)
            return self.tokens.access_token


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
