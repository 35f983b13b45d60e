"""The ``web:`` section and the token: what is refused, with messages that name the key or the
variable and the fix, and never show the token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tikrelay.config import ConfigError, load_settings
from tikrelay.config.settings import WebSettings
from tikrelay.web.auth import WebSetupError, web_token

GOOD = "0123456789abcdef0123"


def settings_from(folder: Path, text: str) -> WebSettings:
    path = folder / "tikrelay.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path).web


def test_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKRELAY_WEB__LISTEN", raising=False)
    web = load_settings(None).web
    assert (web.listen, web.auth, web.wanted_by_serve) == ("127.0.0.1:8080", "token", False)


def test_serve_wants_the_web_when_listen_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_from(tmp_path, 'web:\n  listen: "127.0.0.1:8080"\n').wanted_by_serve
    assert not settings_from(tmp_path, "web:\n  auth: token\n").wanted_by_serve
    monkeypatch.setenv("TIKRELAY_WEB__LISTEN", "127.0.0.1:9000")
    assert load_settings(None).web.wanted_by_serve


@pytest.mark.parametrize(
    "listen", ["0.0.0.0:8080", "192.168.1.5:80", "[::]:8080", "example.org:8080"]
)
def test_auth_none_is_refused_off_loopback(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from(tmp_path, f'web:\n  listen: "{listen}"\n  auth: none\n')
    assert str(refused.value).endswith(
        f"web.auth: none is allowed only on a loopback address, and web.listen {listen!r} can "
        "be reached from other machines: remove web.auth and set TIKRELAY_WEB_TOKEN, or listen "
        "on 127.0.0.1 or [::1]"
    )


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "[::1]:8080", "localhost:0", "127.0.0.2:1"])
def test_auth_none_on_loopback_needs_no_token(tmp_path: Path, listen: str) -> None:
    web = settings_from(tmp_path, f'web:\n  listen: "{listen}"\n  auth: none\n')
    assert web_token(web, {}) is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('web:\n  listen: "8080"\n', "web.listen: '8080' is not an address to listen on"),
        ('web:\n  listen: "127.0.0.1:70000"\n', "web.listen: '127.0.0.1:70000' is not an"),
        ("web:\n  auth: password\n", "web.auth: Input should be 'token' or 'none'"),
        ("web:\n  token: abc\n", "web.token: unknown key"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        settings_from(tmp_path, text)


def test_the_token_is_required_by_default() -> None:
    with pytest.raises(WebSetupError) as missing:
        web_token(WebSettings(), {})
    assert str(missing.value) == (
        "no web token: set TIKRELAY_WEB_TOKEN in the environment (for example export "
        "TIKRELAY_WEB_TOKEN=$(openssl rand -hex 32)); only with web.listen on a loopback address "
        "may web.auth: none turn the token off"
    )
    with pytest.raises(WebSetupError, match=r"^no web token"):
        web_token(WebSettings(), {"TIKRELAY_WEB_TOKEN": "   "})


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("short-secret", "TIKRELAY_WEB_TOKEN has 12 characters: use at least 16"),
        ("with a space in it, long", "TIKRELAY_WEB_TOKEN must be printable ASCII without spaces"),
        ("ünïcödé-0123456789", "TIKRELAY_WEB_TOKEN must be printable ASCII without spaces"),
    ],
)
def test_weak_or_unsendable_tokens_are_refused_unshown(token: str, said: str) -> None:
    with pytest.raises(WebSetupError) as refused:
        web_token(WebSettings(), {"TIKRELAY_WEB_TOKEN": token})
    assert str(refused.value).startswith(said)
    assert token not in str(refused.value)


def test_a_good_token_is_kept_secret() -> None:
    token = web_token(WebSettings(), {"TIKRELAY_WEB_TOKEN": f"  {GOOD}\n"})
    assert token is not None
    assert token.get_secret_value() == GOOD
    assert GOOD not in repr(token)
    assert GOOD not in str(token)
