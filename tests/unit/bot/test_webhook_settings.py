"""``bot.webhook_url`` and ``bot.webhook_listen`` as the settings take them, and the webhook's
secret file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tikrelay.bot.webhook import SECRET_FILE, webhook_secret
from tikrelay.config import ConfigError, load_settings
from tikrelay.config.settings import split_listen


def problem(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tikrelay.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def loaded(tmp_path: Path, text: str) -> str | None:
    path = tmp_path / "tikrelay.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path).bot.webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.com/telegram",
        "https://bot.example.com:8443/hook",
        "https://bot.example.com:88/",
        "https://203.0.113.7/hook?x=1",
        "http://127.0.0.1:9000/hook",  # a loopback host: a local Bot API server, the sandbox
        "http://[::1]:1234",
        "http://localhost:5000/t",
        "https://127.0.0.2:1/",
    ],
)
def test_webhook_urls_that_load(tmp_path: Path, url: str) -> None:
    assert loaded(tmp_path, f"bot:\n  webhook_url: {url!r}\n") == url


def test_no_webhook_url_means_long_polling(tmp_path: Path) -> None:
    assert loaded(tmp_path, "bot: {}\n") is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://bot.example.com/hook", "must be https, Telegram posts updates only there"),
        ("http://10.0.0.5:8443/", "must be https"),
        ("https://bot.example.com:8080/", "only to ports 443, 80, 88 and 8443"),
        ("https://", "is not a webhook URL"),
        ("ftp://bot.example.com/", "is not a webhook URL"),
        ("bot.example.com/hook", "is not a webhook URL"),
        ("https://bot.example.com/#top", "is not a webhook URL"),
        ("https://bot.example.com:99999/", "is not a webhook URL"),
        ("", "is not a webhook URL"),
    ],
)
def test_webhook_urls_refused_name_the_key_and_the_fix(tmp_path: Path, url: str, says: str) -> None:
    message = problem(tmp_path, f"bot:\n  webhook_url: {url!r}\n")
    assert "bot.webhook_url: " in message
    assert says in message
    if "port" not in says:
        assert "write https://" in message


def test_a_password_in_a_refused_webhook_url_is_not_shown(tmp_path: Path) -> None:
    message = problem(tmp_path, "bot:\n  webhook_url: 'http://me:hunter2@bot.example.com/'\n")
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("127.0.0.1:8443", ("127.0.0.1", 8443)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:8443", ("::1", 8443)),
        ("bot.internal:9000", ("bot.internal", 9000)),
    ],
)
def test_listen_addresses(tmp_path: Path, listen: str, address: tuple[str, int]) -> None:
    path = tmp_path / "tikrelay.yaml"
    path.write_text(f"bot:\n  webhook_listen: {listen!r}\n", encoding="utf-8")
    assert split_listen(load_settings(path).bot.webhook_listen) == address


@pytest.mark.parametrize("listen", ["8443", ":8443", "host:", "host:0", "host:65536", "host:x"])
def test_listen_addresses_refused(tmp_path: Path, listen: str) -> None:
    message = problem(tmp_path, f"bot:\n  webhook_listen: {listen!r}\n")
    assert "bot.webhook_listen: " in message
    assert "write host:port" in message


def test_the_listen_default_is_loopback(tmp_path: Path) -> None:
    path = tmp_path / "tikrelay.yaml"
    path.write_text("{}\n", encoding="utf-8")
    assert load_settings(path).bot.webhook_listen == "127.0.0.1:8443"


def test_the_secret_is_made_once_private_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    made = webhook_secret(state)
    assert 1 <= len(made) <= 256
    assert set(made) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    assert (state / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert webhook_secret(state) == made
    assert [p.name for p in state.iterdir()] == [SECRET_FILE]  # no draft left behind


def test_a_secret_others_may_read_is_replaced(tmp_path: Path) -> None:
    made = webhook_secret(tmp_path)
    (tmp_path / SECRET_FILE).chmod(0o644)
    again = webhook_secret(tmp_path)
    assert again != made
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o777 == 0o600


def test_a_damaged_secret_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text("not a:secret\n", encoding="ascii")
    path.chmod(0o600)
    made = webhook_secret(tmp_path)
    assert made != "not a:secret"
    assert path.read_text(encoding="ascii") == made
