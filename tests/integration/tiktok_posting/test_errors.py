"""Every error TikTok documents for the Content Posting API, as the emulator answers it, lands
in the one taxonomy with the right retry; an invalid token is renewed once; the client keeps to
the per-token rate limits itself, and a 429 from elsewhere is retried later."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.support.tiktok_posting import Saved, app_for, authorize, video_file
from tikrelay.config.tiktok_settings import TikTokApp
from tikrelay.destinations.tiktok import TikTokApiError, TikTokClient
from tikrelay.destinations.tiktok_auth import (
    AccountCredentials,
    OAuthClient,
    Tokens,
    begin_authorization,
    code_from_redirect,
)
from tikrelay.destinations.tiktok_chunks import plan_chunks
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sandbox.tiktok_posting import TikTokPostingEmulator

PLAN = plan_chunks(1000)


async def test_an_expired_access_token_is_refreshed_saved_and_the_call_made_again(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials
) -> None:
    before = creds.tokens
    posting.state.expire_access_tokens("mirror")
    info = await client.creator_info(creds)
    assert info.username == "mirror"
    assert creds.refreshed == 1
    assert posting.state.refreshes == 1
    assert creds.tokens.access_token != before.access_token
    assert creds.tokens.refresh_token != before.refresh_token  # rotated, and kept
    assert isinstance(creds.save, Saved)
    assert creds.save.tokens == [creds.tokens]


async def test_a_token_near_its_expiry_is_refreshed_before_use(
    posting: TikTokPostingEmulator, app: TikTokApp, http: httpx.AsyncClient
) -> None:
    posting.state.access_lifetime = 60  # expires within the refresh margin
    tokens = await authorize(app, http)
    creds = AccountCredentials(
        "mirror", tokens, OAuthClient(app, http), now=lambda: datetime.now(UTC), save=Saved()
    )
    client = TikTokClient(posting.url, http)
    await client.creator_info(creds)
    assert creds.refreshed == 1
    assert ("POST", "/v2/post/publish/creator_info/query/") in posting.requests
    assert posting.requests.count(("POST", "/v2/oauth/token/")) == 2  # exchange, refresh


async def test_two_processes_refreshing_at_once_both_go_on(
    posting: TikTokPostingEmulator, app: TikTokApp, http: httpx.AsyncClient
) -> None:
    """A second process (a worker, doctor) holds the same stored pair; the first refreshes and
    TikTok rotates the refresh token. The second's refresh is refused; it reads the stored pair
    again and goes on with it, instead of failing as if the authorization were gone."""
    tokens = await authorize(app, http)
    stored: list[Tokens] = [tokens]

    async def save(new: Tokens) -> None:
        stored.append(new)

    loads: list[int] = []

    async def load() -> Tokens | None:
        # The second process read the store just before the first saved its new pair.
        loads.append(1)
        return tokens if len(loads) == 1 else stored[-1]

    def process() -> AccountCredentials:
        return AccountCredentials(
            "mirror",
            tokens,
            OAuthClient(app, http),
            now=lambda: datetime.now(UTC),
            save=save,
            load=load,
        )

    first, second = process(), process()
    first.load = None  # the first refreshes on its own
    posting.state.expire_access_tokens("mirror")
    client = TikTokClient(posting.url, http)
    await client.creator_info(first)
    assert first.tokens.refresh_token != tokens.refresh_token  # rotated
    # The second still holds the old pair: its expired access token is refused, its refresh
    # token no longer works; the stored pair does.
    assert (await client.creator_info(second)).username == "mirror"
    assert second.tokens == first.tokens
    assert len(loads) == 2  # before its refresh, then after TikTok refused it
    assert posting.state.refreshes == 1


async def test_a_token_still_refused_after_renewal_is_an_auth_failure(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials
) -> None:
    posting.fail_next("creator_info", "access_token_invalid", times=2)
    with pytest.raises(TikTokApiError) as refused:
        await client.creator_info(creds)
    assert refused.value.kind is ErrorKind.AUTH
    assert refused.value.retryable is False
    assert "tiktok-auth" in refused.value.message
    assert creds.refreshed == 1


async def test_an_expired_refresh_token_asks_for_a_new_authorization(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials
) -> None:
    posting.state.offset += 366 * 24 * 3600
    with pytest.raises(TikrelayError) as expired:
        await client.creator_info(creds)
    assert expired.value.kind is ErrorKind.AUTH
    assert expired.value.retryable is False
    assert "tiktok-auth mirror" in expired.value.message


async def test_a_refresh_token_tiktok_refuses_asks_for_a_new_authorization(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials
) -> None:
    posting.state.refresh_tokens.clear()  # revoked by the account's owner
    posting.state.expire_access_tokens()
    with pytest.raises(TikrelayError) as refused:
        await client.creator_info(creds)
    assert refused.value.kind is ErrorKind.AUTH
    assert "invalid_grant" in refused.value.message
    assert "tiktok-auth mirror" in refused.value.message


async def test_a_rate_limited_refresh_is_tried_later_not_a_new_authorization(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials
) -> None:
    posting.state.expire_access_tokens()
    posting.fail_next("token", "rate_limit_exceeded")
    with pytest.raises(TikrelayError) as limited:
        await client.creator_info(creds)
    assert limited.value.kind is ErrorKind.RATE_LIMIT
    assert limited.value.retryable
    assert limited.value.retry_after is not None
    assert "tiktok-auth" not in limited.value.message
    assert (await client.creator_info(creds)).privacy_level_options  # the next try refreshes


@pytest.mark.parametrize(
    ("endpoint", "code", "kind", "retryable"),
    [
        ("inbox_init", "rate_limit_exceeded", ErrorKind.RATE_LIMIT, True),
        ("inbox_init", "spam_risk_too_many_posts", ErrorKind.RATE_LIMIT, True),
        ("inbox_init", "spam_risk_user_banned_from_posting", ErrorKind.AUTH, False),
        ("inbox_init", "scope_not_authorized", ErrorKind.AUTH, False),
        ("inbox_init", "url_ownership_unverified", ErrorKind.AUTH, False),
        ("inbox_init", "invalid_params", ErrorKind.HTTP, False),
        ("inbox_init", "internal_error", ErrorKind.HTTP, True),
        ("status", "invalid_publish_id", ErrorKind.HTTP, False),
    ],
)
async def test_each_documented_error_is_classified(
    posting: TikTokPostingEmulator,
    client: TikTokClient,
    creds: AccountCredentials,
    endpoint: str,
    code: str,
    kind: ErrorKind,
    retryable: bool,
) -> None:
    posting.fail_next(endpoint, code)
    call = (
        client.status(creds, "v_inbox_file~v2.unknown")
        if endpoint == "status"
        else client.init_inbox(creds, PLAN)
    )
    with pytest.raises(TikTokApiError) as failed:
        await call
    error = failed.value
    assert (error.code, error.kind, error.retryable) == (code, kind, retryable)
    assert code in error.message
    if kind is ErrorKind.RATE_LIMIT:
        assert error.retry_after is not None
        assert error.retry_after >= 60
    assert creds.tokens.access_token not in str(error)


async def test_an_unaudited_app_may_post_only_privately(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials, tmp_path: Path
) -> None:
    posting.state.audited = False
    with pytest.raises(TikTokApiError) as refused:
        await client.init_direct(creds, PLAN, {"title": "", "privacy_level": "PUBLIC_TO_EVERYONE"})
    assert refused.value.kind is ErrorKind.AUTH
    assert refused.value.retryable is False
    assert "SELF_ONLY" in refused.value.message
    upload = await client.init_direct(creds, PLAN, {"title": "", "privacy_level": "SELF_ONLY"})
    await client.send_chunks(upload.upload_url, PLAN, video_file(tmp_path, 1000))
    assert (await client.wait_done(creds, upload.publish_id)).status == "PUBLISH_COMPLETE"


async def test_a_privacy_level_the_account_does_not_offer_is_refused(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials
) -> None:
    posting.state.accounts["mirror"].privacy_level_options = ("SELF_ONLY",)
    with pytest.raises(TikTokApiError) as refused:
        await client.init_direct(creds, PLAN, {"title": "", "privacy_level": "PUBLIC_TO_EVERYONE"})
    assert refused.value.code == "privacy_level_option_mismatch"
    assert refused.value.retryable is False


async def test_a_title_over_2200_characters_is_invalid(
    client: TikTokClient, creds: AccountCredentials
) -> None:
    with pytest.raises(TikTokApiError) as refused:
        await client.init_direct(creds, PLAN, {"title": "x" * 2201, "privacy_level": "SELF_ONLY"})
    assert refused.value.code == "invalid_params"


async def test_a_failed_processing_says_why(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials, tmp_path: Path
) -> None:
    posting.state.fail_processing = "file_format_check_failed"
    upload = await client.init_inbox(creds, PLAN)
    await client.send_chunks(upload.upload_url, PLAN, video_file(tmp_path, 1000))
    done = await client.wait_done(creds, upload.publish_id)
    assert (done.status, done.fail_reason) == ("FAILED", "file_format_check_failed")
    assert posting.published == []


class FakeTime:
    """A clock and sleep for the client that move the emulator's clock too."""

    def __init__(self, posting: TikTokPostingEmulator) -> None:
        self.posting = posting
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.posting.state.offset += seconds


async def test_the_client_keeps_to_six_inits_a_minute_and_tiktok_enforces_it(
    posting: TikTokPostingEmulator, http: httpx.AsyncClient, creds: AccountCredentials
) -> None:
    fake = FakeTime(posting)
    paced = TikTokClient(posting.url, http, clock=fake.clock, sleep=fake.sleep)
    for _ in range(7):
        await paced.init_inbox(creds, PLAN)
    assert len(fake.slept) == 1
    assert 59 < fake.slept[0] <= 60
    # Another process with the same token, unaware of those: TikTok says 429, retry later.
    for _ in range(5):
        await TikTokClient(posting.url, http).init_inbox(creds, PLAN)
    with pytest.raises(TikTokApiError) as limited:
        await TikTokClient(posting.url, http).init_inbox(creds, PLAN)
    assert limited.value.http_status == 429
    assert limited.value.kind is ErrorKind.RATE_LIMIT
    assert limited.value.retryable is True


async def test_status_polls_keep_to_thirty_a_minute(
    posting: TikTokPostingEmulator,
    http: httpx.AsyncClient,
    creds: AccountCredentials,
    tmp_path: Path,
) -> None:
    posting.state.processing_fetches = 40  # TikTok takes its time
    fake = FakeTime(posting)
    paced = TikTokClient(posting.url, http, clock=fake.clock, sleep=fake.sleep)
    upload = await paced.init_inbox(creds, PLAN)
    await paced.send_chunks(upload.upload_url, PLAN, video_file(tmp_path, 1000))
    done = await paced.wait_done(creds, upload.publish_id)
    assert done.status == "SEND_TO_USER_INBOX"
    assert posting.requests.count(("POST", "/v2/post/publish/status/fetch/")) == 41
    assert min(fake.slept) >= 2.0  # 30 a minute: one every 2 s


async def test_wrong_client_secret_or_verifier_is_refused(
    posting: TikTokPostingEmulator, http: httpx.AsyncClient
) -> None:
    app = app_for(posting)
    wrong = app.model_copy(update={"client_secret": SecretStr("not-the-secret")})
    with pytest.raises(TikrelayError) as refused:
        await authorize(wrong, http)
    assert refused.value.kind is ErrorKind.AUTH
    assert "invalid_client" in refused.value.message
    # The PKCE verifier must match the challenge sent with the authorization.
    started = begin_authorization(app)
    page = await http.get(started.url)
    code = code_from_redirect(page.headers["location"], started.state)
    with pytest.raises(TikrelayError) as mismatched:
        await OAuthClient(app, http).exchange(code, "x" * 64, datetime.now(UTC))
    assert "invalid_request" in mismatched.value.message
