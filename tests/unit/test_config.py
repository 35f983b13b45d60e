from __future__ import annotations

from pathlib import Path

import pytest

from tikrelay.config import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tikrelay.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKRELAY_CONFIG", raising=False)
    settings = load_settings()
    assert settings.state_dir == Path("tikrelay-data")
    assert settings.telegram.api_url == "https://api.telegram.org"
    assert settings.network.verify_tls is True


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  api_ulr: http://x\n")
    with pytest.raises(ConfigError, match=r"telegram\.api_ulr: unknown key"):
        load_settings(path)


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  local_mode: perhaps\n")
    with pytest.raises(ConfigError, match=r"telegram\.local_mode: .*'perhaps'"):
        load_settings(path)


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tikrelay init"):
        load_settings(tmp_path / "nope.yaml")


def test_bad_yaml_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "state_dir: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_settings(path)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "telegram:\n  api_url: http://file\n")
    monkeypatch.setenv("TIKRELAY_TELEGRAM__API_URL", "http://env")
    assert load_settings(path).telegram.api_url == "http://env"


def test_token_from_either_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "{}\n")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:plain")
    token = load_settings(path).telegram.bot_token
    assert token is not None
    assert token.get_secret_value() == "123456:plain"
    assert "123456" not in repr(load_settings(path))
    monkeypatch.setenv("TIKRELAY_TELEGRAM__BOT_TOKEN", "999999:prefixed")
    token = load_settings(path).telegram.bot_token
    assert token is not None
    assert token.get_secret_value() == "999999:prefixed"
