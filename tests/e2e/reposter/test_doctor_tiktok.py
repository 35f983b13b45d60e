"""``tikrelay doctor`` with a tiktok destination, against the Content Posting API emulator: an
authorized account passes (TikTok answers creator_info), and each way it can fail says its fix:
not authorized, the authorization expired, another TIKRELAY_SECRET_KEY, TikTok refusing the
account, TikTok not answering, the app's secret missing. Never a token in the output."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tests.e2e.reposter.test_doctor import checks, closed_port
from tests.e2e.reposter.test_tiktok_publish import ACCOUNT, database_file, publishing
from tests.support.relayed import Relayed
from tests.support.tiktok_posting import authorize_with_cli, posting_env
from tikrelay.sandbox.tiktok_posting import TikTokPostingEmulator

LABEL = f"tiktok {ACCOUNT}"


@pytest.fixture
def posting() -> Iterator[TikTokPostingEmulator]:
    with TikTokPostingEmulator().running() as emulator:
        emulator.add_account("relay_account", privacy_level_options=("SELF_ONLY", "FRIENDS"))
        yield emulator


def doctor_lines(relayed: Relayed, code: int) -> list[str]:
    """The lines of ``tikrelay doctor`` about the account; it exits with ``code``."""
    result = relayed.run("doctor", "--config", str(relayed.config))
    assert result.returncode == code, result.stdout + result.stderr
    lines = checks(result.stdout).get(LABEL)
    assert lines is not None, result.stdout
    return lines


def one_problem(relayed: Relayed) -> str:
    [line] = doctor_lines(relayed, 1)
    assert line.startswith(f"✗ {LABEL}: "), line
    return line


def test_an_authorized_account_passes_and_no_token_is_shown(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    publishing(relayed, posting, mode="direct")
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    result = relayed.run("doctor", "--config", str(relayed.config))
    found = checks(result.stdout)
    [line] = found[LABEL]
    assert line.startswith(f"✓ {LABEL}: @relay_account at {posting.url}, authorized until ")
    assert "privacy levels offered: SELF_ONLY, FRIENDS" in line
    assert ("POST", "/v2/post/publish/creator_info/query/") in posting.requests
    assert posting.uploads == []  # nothing posted
    for token in posting.state.issued:
        assert token not in result.stdout + result.stderr


def test_an_account_not_authorized_says_to_run_tiktok_auth(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    publishing(relayed, posting)
    assert f"is not authorized: run tikrelay tiktok-auth {ACCOUNT}" in one_problem(relayed)


def test_an_expired_authorization_says_to_authorize_again(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    with sqlite3.connect(database_file(relayed)) as db:
        db.execute("UPDATE tiktok_accounts SET refresh_expires_at = '2020-01-02 00:00:00'")
    line = one_problem(relayed)
    assert "expired on 2020-01-02" in line
    assert f"run tikrelay tiktok-auth {ACCOUNT} again" in line


def test_another_secret_key_says_which_key_to_set(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    relayed.env = {
        **posting_env(),
        "TIKRELAY_SECRET_KEY": "not the key the tokens were sealed with",
    }
    line = one_problem(relayed)
    assert "cannot be read with this TIKRELAY_SECRET_KEY" in line
    assert f"tikrelay tiktok-auth {ACCOUNT} again" in line


def test_tiktok_refusing_the_account_and_a_privacy_level_not_offered_are_named(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    publishing(relayed, posting, mode="direct", privacy_level="PUBLIC_TO_EVERYONE")
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    posting.fail_next("creator_info", "scope_not_authorized")
    line = one_problem(relayed)
    assert "did not grant video.upload/video.publish: run tikrelay tiktok-auth again" in line
    assert "privacy_level PUBLIC_TO_EVERYONE is not one the account offers" in one_problem(relayed)


def test_an_expired_access_token_is_refreshed_and_stored(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    posting.state.expire_access_tokens()
    with sqlite3.connect(database_file(relayed)) as db:
        (before,) = db.execute("SELECT tokens FROM tiktok_accounts").fetchone()
    [line] = doctor_lines(relayed, 0)
    assert line.startswith(f"✓ {LABEL}: @relay_account")
    assert posting.state.refreshes == 1
    with sqlite3.connect(database_file(relayed)) as db:
        (after,) = db.execute("SELECT tokens FROM tiktok_accounts").fetchone()
    assert after != before  # the new pair stored: the next run uses it
    [again] = doctor_lines(relayed, 0)
    assert again.startswith("✓")
    assert posting.state.refreshes == 1


def test_tiktok_not_answering_and_a_missing_client_secret_say_what_to_check(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    relayed.extra["tiktok_app"] = {
        **relayed.extra["tiktok_app"],
        "api_url": f"http://127.0.0.1:{closed_port()}",
    }
    assert "check tiktok_app.api_url" in one_problem(relayed)
    relayed.env = {k: v for k, v in posting_env().items() if "CLIENT_SECRET" not in k}
    assert "export TIKRELAY_TIKTOK_APP__CLIENT_SECRET" in one_problem(relayed)
