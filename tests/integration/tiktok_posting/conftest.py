"""The Content Posting API emulator in the test's loop, an httpx client, and an account
authorized through the real OAuth flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.tiktok_posting import Saved, app_for, authorize
from tikrelay.config.tiktok_settings import TikTokApp
from tikrelay.destinations.tiktok import TikTokClient
from tikrelay.destinations.tiktok_auth import AccountCredentials, OAuthClient
from tikrelay.sandbox.tiktok_posting import TikTokPostingEmulator


@pytest.fixture
async def posting() -> AsyncIterator[TikTokPostingEmulator]:
    async with TikTokPostingEmulator() as emulator:
        emulator.add_account("mirror")
        yield emulator


@pytest.fixture
def app(posting: TikTokPostingEmulator) -> TikTokApp:
    return app_for(posting)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def client(posting: TikTokPostingEmulator, http: httpx.AsyncClient) -> TikTokClient:
    return TikTokClient(posting.url, http, status_interval=0.01)


@pytest.fixture
async def creds(app: TikTokApp, http: httpx.AsyncClient) -> AccountCredentials:
    tokens = await authorize(app, http)
    return AccountCredentials(
        "mirror", tokens, OAuthClient(app, http), now=lambda: datetime.now(UTC), save=Saved()
    )
