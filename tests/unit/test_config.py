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


def problem(tmp_path: Path, text: str) -> str:
    """The message a config that does not load gives."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    return str(caught.value)


# -- URLs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/", "", "not a url", "https://"])
def test_an_api_url_that_is_not_http_is_refused(tmp_path: Path, url: str) -> None:
    message = problem(tmp_path, f"telegram:\n  api_url: {url!r}\n")
    assert "telegram.api_url: " in message
    assert "write http:// or https:// and a host" in message


@pytest.mark.parametrize(
    "url", ["https://api.telegram.org", "http://127.0.0.1:8081/", "http://[::1]:8081"]
)
def test_http_api_urls_load(tmp_path: Path, url: str) -> None:
    assert (
        load_settings(write(tmp_path, f"telegram:\n  api_url: {url!r}\n")).telegram.api_url == url
    )


@pytest.mark.parametrize(
    ("proxy", "says"),
    [
        ("gopher://proxy:70", "proxy scheme 'gopher' is not supported"),
        ("::::", "is not a proxy URL"),
        ("http://proxy:port", "is not a proxy URL"),
        ("http://", "is not a proxy URL"),
        ("not a proxy", "is not a proxy URL"),
    ],
)
def test_a_bad_proxy_is_named_by_its_place(tmp_path: Path, proxy: str, says: str) -> None:
    message = problem(tmp_path, f"network:\n  proxies: ['http://good:3128', {proxy!r}]\n")
    assert f"network.proxies.1: {proxy!r}" in message
    assert says in message
    assert "network.proxies.0" not in message


@pytest.mark.parametrize(
    "proxy",
    [
        "gopher://relay:hunter2@proxy:70",
        "http://relay:hunter2@proxy:port",
        "relay:hunter2@proxy:port",
        "socks5://relay:hun/ter2@proxy:x",
    ],
)
def test_a_refused_proxy_never_shows_its_password(tmp_path: Path, proxy: str) -> None:
    message = problem(tmp_path, f"network:\n  proxies: [{proxy!r}]\n")
    assert "network.proxies.0" in message
    assert "relay:[redacted]@" in message
    assert "hunter2" not in message
    assert "ter2" not in message


@pytest.mark.parametrize(
    "proxy",
    [
        "http://proxy:3128",
        "https://proxy",
        "socks5://user:pa:ss@proxy:1080",
        "socks5h://proxy:1080",
        "socks4://proxy:1080",
        "socks4a://proxy",
        "proxy.example:3128",
        "http://[::1]:3128",
    ],
)
def test_proxies_yt_dlp_understands_load(tmp_path: Path, proxy: str) -> None:
    path = write(tmp_path, f"network:\n  proxies: [{proxy!r}]\n")
    assert load_settings(path).network.proxies == [proxy]


# -- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("delivery:\n  max_upload_mb: 1e308\n", "delivery.max_upload_mb"),
        ("delivery:\n  max_upload_mb: 2001\n", "delivery.max_upload_mb"),
        ("delivery:\n  keep_media_hours: .inf\n", "delivery.keep_media_hours"),
        ("jobs:\n  timeout_seconds: .nan\n", "jobs.timeout_seconds"),
        ("jobs:\n  retry_max_seconds: 1e300\n", "jobs.retry_max_seconds"),
        ("jobs:\n  max_attempts: 100000\n", "jobs.max_attempts"),
        ("jobs:\n  kinds: {deliver: {stage_timeouts: {DOWNLOAD: .inf}}}\n", "jobs.kinds.deliver"),
        ("jobs:\n  max_queue_length: 99999999999999999999999\n", "jobs.max_queue_length"),
        ("telegram:\n  flood: {chat_per_second: 1e309}\n", "telegram.flood.chat_per_second"),
        (
            "destinations: {d: {telegram: {chat_id: '@c'}}}\n"
            "sources: [{tiktok: '@a', to: [d], every_minutes: 1e308}]\n",
            "sources.0.every_minutes",
        ),
    ],
)
def test_numbers_beyond_any_sense_are_refused(tmp_path: Path, text: str, key: str) -> None:
    assert f"{key}" in problem(tmp_path, text)


def test_every_number_key_has_an_upper_bound_and_refuses_booleans() -> None:
    """No number key is left without an upper bound; floats refuse inf and nan too."""
    from pydantic import ValidationError

    from tikrelay.config import settings as module

    required: dict[type, dict[str, object]] = {
        module.SourceSettings: {"tiktok": "@a", "to": ["d"]},
        module.TelegramDestination: {"chat_id": "@c"},
        module.ArchiveDestination: {"path": "/tmp/archive"},
    }
    checked = []
    for model in (
        module.FloodSettings,
        module.JobKindSettings,
        module.JobSettings,
        module.SourceSettings,
        module.DeliverySettings,
        module.TelegramDestination,
        module.ArchiveDestination,
    ):
        base = required.get(model, {})
        for name, field in model.model_fields.items():
            kind = str(field.annotation)
            if "float" not in kind and "int" not in kind:
                continue

            def value(number: object, name: str = name) -> object:
                return {"X": number} if name == "stage_timeouts" else number

            model.model_validate({**base, name: value(1)})
            wrong: list[object] = [10**30, True, False]
            if "float" in kind:
                wrong += [1e300, float("inf"), float("nan")]
            for number in wrong:
                with pytest.raises(ValidationError):
                    model.model_validate({**base, name: value(number)})
            checked.append(f"{model.__name__}.{name}")
    assert len(checked) == 32, checked


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("destinations: {d: {telegram: {chat_id: true}}}\n", "telegram.chat_id", "not a chat"),
        ("destinations: {d: {telegram: {chat_id: yes}}}\n", "telegram.chat_id", "not a chat"),
        (
            "destinations: {d: {telegram: {chat_id: '@c', topic_id: true}}}\n",
            "telegram.topic_id",
            "not a topic",
        ),
        ("jobs:\n  max_attempts: true\n", "jobs.max_attempts", "not a number"),
        ("delivery:\n  downloads: on\n", "delivery.downloads", "not a number"),
        ("jobs:\n  kinds: {deliver: {stage_timeouts: {SEND: no}}}\n", "SEND", "not a number"),
    ],
)
def test_true_and_false_are_not_numbers(tmp_path: Path, text: str, key: str, says: str) -> None:
    message = problem(tmp_path, text)
    assert key in message
    assert says in message


def test_a_chat_id_longer_than_telegram_makes_is_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, "destinations: {d: {telegram: {chat_id: 99999999999999999999}}}\n")
    assert "destinations.d.telegram.chat_id: 99999999999999999999 is too long" in message


def test_numbers_still_load_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKRELAY_JOBS__MAX_ATTEMPTS", "7")
    monkeypatch.setenv("TIKRELAY_DELIVERY__MAX_UPLOAD_MB", "2000")
    settings = load_settings(
        write(tmp_path, "destinations: {d: {telegram: {chat_id: '-100123'}}}\n")
    )
    assert settings.jobs.max_attempts == 7
    assert settings.delivery.max_upload_mb == 2000
    assert settings.destinations["d"].telegram.chat_id == -100123


# -- the file --------------------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "tikrelay.yaml"
    path.write_bytes(b"state_dir: data\ntelegram:\n  api_url: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"config file {path} is not UTF-8 (byte 0xe9 on line 3): save it as UTF-8"
    )


TOKEN_LINE = "telegram:\n  bot_token: '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ'\n"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_token_in_a_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path, TOKEN_LINE)
    path.chmod(mode)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert f"config file {path} holds telegram.bot_token" in message
    assert (
        f"run `chmod 600 {path}`, or better, remove the key and set TELEGRAM_BOT_TOKEN" in message
    )
    assert "ABCDEFGHIJ" not in message


def test_a_token_in_a_private_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, TOKEN_LINE)
    path.chmod(0o600)
    token = load_settings(path).telegram.bot_token
    assert token is not None
    assert token.get_secret_value() == "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_a_shared_file_without_a_token_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "telegram:\n  local_mode: false\n  bot_token: null\n")
    path.chmod(0o644)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:from-the-environment")
    token = load_settings(path).telegram.bot_token
    assert token is not None
    assert token.get_secret_value() == "123456:from-the-environment"


def test_a_token_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  bot_token: [123456, ABCDEFGHIJKLMNOPQRSTUVWXYZ]\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=r"telegram\.bot_token: ") as caught:
        load_settings(path)
    assert "ABCDEFGHIJ" not in str(caught.value)


# -- ffmpeg ----------------------------------------------------------------------------------------


def test_an_ffmpeg_that_does_not_exist_is_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIKRELAY_FFMPEG", raising=False)
    message = problem(tmp_path, "ffmpeg: /nonexistent/ffmpeg\n")
    assert "ffmpeg: '/nonexistent/ffmpeg' is neither an executable file nor a command on PATH" in (
        message
    )
    assert "or remove the key (and TIKRELAY_FFMPEG) to use the bundled ffmpeg" in message


def test_an_ffmpeg_variable_that_does_not_exist_is_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKRELAY_FFMPEG", str(tmp_path / "no-ffmpeg"))
    message = problem(tmp_path, "{}\n")
    assert f"ffmpeg (or TIKRELAY_FFMPEG): '{tmp_path / 'no-ffmpeg'}'" in message


def test_an_ffmpeg_that_is_not_executable_is_refused_and_one_that_is_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIKRELAY_FFMPEG", raising=False)
    binary = tmp_path / "ffmpeg"
    binary.write_text("#!/bin/sh\n", encoding="utf-8")
    binary.chmod(0o644)
    assert "is neither an executable file" in problem(tmp_path, f"ffmpeg: {binary}\n")
    binary.chmod(0o755)
    assert load_settings(write(tmp_path, f"ffmpeg: {binary}\n")).ffmpeg == str(binary)
    assert load_settings(write(tmp_path, "ffmpeg: sh\n")).ffmpeg == "sh"  # a command on PATH
