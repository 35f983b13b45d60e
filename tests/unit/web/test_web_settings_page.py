"""The settings page's rows: every setting by its dotted key, secrets as set or unset only, and
no password of a URL or proxy."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from tikrelay.config import load_settings
from tikrelay.web.settings_shown import setting_rows


def test_every_setting_is_shown_without_a_secret(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        state_dir=str(tmp_path),
        database_url="postgresql+psycopg://tikrelay:hunter2@db.example:5432/tikrelay",
        network={"proxies": ["socks5://me:s3cret@proxy:1080", "me2:pa55@proxy2:3128"]},
        destinations={"clips": {"telegram": {"chat_id": -100123, "topic_id": 4}}},
    )
    settings.telegram.bot_token = SecretStr("123456789:AAEabcdefghijklmnopqrstuvwxyz")
    rows = dict(setting_rows(settings))
    assert rows["telegram.bot_token"] == "set"
    assert (
        rows["database_url"] == "postgresql+psycopg://tikrelay:[redacted]@db.example:5432/tikrelay"
    )
    assert rows["network.proxies"] == (
        "socks5://me:[redacted]@proxy:1080, me2:[redacted]@proxy2:3128"
    )
    assert rows["destinations.clips.telegram.topic_id"] == "4"
    assert rows["web.auth"] == "token"
    assert rows["sources"] == "[]"
    shown = " ".join(value for value in rows.values() if value is not None)
    for secret in ("hunter2", "s3cret", "pa55", "AAEabc"):
        assert secret not in shown
    unset = dict(setting_rows(load_settings(None, state_dir=str(tmp_path))))
    assert unset["telegram.bot_token"] == "unset"
