"""TikTok as a destination: the ``tiktok_app:`` section (the app's keys, the API's address) and a
destination's ``tiktok: {account, mode}``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from tikrelay.config.fields import Section


class TikTokApp(Section):
    """The TikTok developer app that posts: its keys and TikTok's addresses."""

    client_key: str | None = Field(default=None, description="The app's client key.")
    client_secret: SecretStr | None = Field(
        default=None,
        description="The client secret: set TIKRELAY_TIKTOK_APP__CLIENT_SECRET, not the file.",
    )


class TikTokDestination(Section):
    """Posts published to a TikTok account through the Content Posting API."""

    account: str = Field(
        min_length=1, description="The account's name, as given to tikrelay tiktok-auth NAME."
    )
    mode: Literal["inbox", "direct"] = Field(
        default="inbox",
        description="inbox: a draft in the account's TikTok inbox; direct: posted at once.",
    )
