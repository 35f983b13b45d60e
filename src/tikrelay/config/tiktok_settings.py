"""TikTok as a destination: the ``tiktok_app:`` section (the app's keys, TikTok's addresses) and a
destination's ``tiktok: {account, mode, privacy_level, credit}``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from tikrelay.config.fields import Section, shown_url, url_host_and_port

#: Who may see a direct post, as TikTok's creator_info lists the choices.
PrivacyLevel = Literal[
    "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
]


def _http_url(value: str) -> str:
    text = value.strip()
    if not text.startswith(("http://", "https://")) or url_host_and_port(text) is None:
        raise ValueError(f"{shown_url(text)!r} is not an http(s) address")
    return text


class TikTokApp(Section):
    """The TikTok developer app that posts: its keys and TikTok's addresses."""

    client_key: str | None = Field(default=None, description="The app's client key.")
    client_secret: SecretStr | None = Field(
        default=None,
        description="The client secret: set TIKRELAY_TIKTOK_APP__CLIENT_SECRET, not the file.",
    )
    redirect_uri: str = Field(
        default="http://127.0.0.1:3455/callback/",
        description="The redirect URI registered with the app (Login Kit for Desktop: "
        "localhost or 127.0.0.1 with a port); tikrelay tiktok-auth takes the address it led to.",
    )
    api_url: str = Field(
        default="https://open.tiktokapis.com",
        description="TikTok's API (tokens, creator info, uploads); a test server's otherwise.",
    )
    auth_url: str = Field(
        default="https://www.tiktok.com/v2/auth/authorize/",
        description="TikTok's authorization page, opened by the account's owner.",
    )

    @field_validator("redirect_uri", "api_url", "auth_url")
    @classmethod
    def _address(cls, value: str) -> str:
        return _http_url(value)


class TikTokDestination(Section):
    """Posts published to a TikTok account through the Content Posting API."""

    account: str = Field(
        min_length=1,
        max_length=200,
        description="The account's name, as given to tikrelay tiktok-auth NAME.",
    )
    mode: Literal["inbox", "direct"] = Field(
        default="inbox",
        description="inbox: a draft in the account's TikTok inbox; direct: posted at once.",
    )
    privacy_level: PrivacyLevel | None = Field(
        default=None,
        description="Who sees a direct post; default: the most private level the account "
        "allows (SELF_ONLY where offered), so nothing goes public unless you say so.",
    )
    credit: bool = Field(
        default=True,
        description="End the caption with the original author: 🎥 @author on TikTok.",
    )
