"""Writing settings into the config file in place: the user's comments, order, quoting and
indentation survive; a key the file lacks goes after its section's last key, before the comment
lines that follow it; what the loader reads back is what was written and nothing else changed;
and a refused write (a secret, the catalog, a section, an unknown key, a key the environment
sets, a value the settings refuse, no file) leaves the file as it was, byte for byte."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tikrelay.config import load_settings
from tikrelay.config.edit import ConfigFileError, edited_text, write_settings
from tikrelay.config.example import EXAMPLE
from tikrelay.config.setting_keys import (
    InvalidSettingsError,
    KeyOverriddenError,
    KeyRefusedError,
    overriding_variable,
    setting_key,
)

MINE = """\
# my tikrelay
state_dir: ./data        # where it keeps things

jobs:
    max_attempts: 5      # five tries
    # keep_days: 7       # the default, kept in mind
    kinds: {}

# the delivery
delivery: {downloads: 3}
network:
    proxies:
    - "http://proxy:8080"
"""


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def config(folder: Path, text: str = MINE, mode: int = 0o640) -> Path:
    path = folder / "tikrelay.yaml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_example_round_trips_byte_for_byte() -> None:
    assert edited_text(EXAMPLE, {}) == EXAMPLE


def test_a_new_key_goes_after_its_sections_last_key_before_the_comments() -> None:
    text = edited_text(
        EXAMPLE,
        {("delivery", "keep_media_hours"): 12, ("jobs", "max_attempts"): 7, ("web", "listen"): "x"},
    )
    lines = text.splitlines()
    downloads = next(n for n, line in enumerate(lines) if line.startswith("  downloads: 3"))
    assert lines[downloads + 1] == "  keep_media_hours: 12"
    assert lines[downloads + 2].startswith("  # max_upload_mb: 50")
    workers = next(n for n, line in enumerate(lines) if line.startswith("  worker_concurrency"))
    assert lines[workers + 1] == "  max_attempts: 7"
    assert lines[-2:] == ["web:", "  listen: x"]  # a section the file lacks comes last
    assert comments(text) == comments(EXAMPLE)
    assert len(lines) == len(EXAMPLE.splitlines()) + 4


def test_the_files_own_indentation_and_styles_are_kept() -> None:
    text = edited_text(
        MINE,
        {
            ("jobs", "max_attempts"): 7,
            ("jobs", "kinds", "poll", "max_attempts"): 3,
            ("delivery", "keep_media_hours"): 12,
            ("network", "proxies"): ["http://a:1", "http://b:2"],
        },
    )
    assert "    max_attempts: 7      # five tries\n" in text
    assert "delivery: {downloads: 3, keep_media_hours: 12}\n" in text
    assert '    proxies:\n    - "http://a:1"\n    - "http://b:2"\n' in text  # quotes kept
    assert "        poll:\n            max_attempts: 3\n" in text
    assert comments(text) == comments(MINE)
    assert yaml.safe_load(text)["jobs"]["kinds"] == {"poll": {"max_attempts": 3}}


@pytest.mark.parametrize(
    "value", ["yes", "on", "1:20", "null", "", " spaced ", "@name", "a: b", "#x", "é", 1e-07, 1e20]
)
def test_what_is_written_reads_back_the_same(value: object) -> None:
    """The loader reads YAML 1.1 (``yes`` is true, ``1:20`` is 80, ``1e-07`` is text), where
    ruamel.yaml writes YAML 1.2: such text is quoted, such a float gets its dot."""
    read = yaml.safe_load(edited_text(MINE, {("bot", "archive_to"): value}))
    assert read["bot"]["archive_to"] == value
    assert type(read["bot"]["archive_to"]) is type(value)


@given(value=st.text(st.characters(exclude_categories=("Cs",))) | st.floats(allow_nan=False))
def test_any_text_or_number_reads_back_the_same(value: str | float) -> None:
    read = yaml.safe_load(edited_text(MINE, {("ffmpeg",): value}))["ffmpeg"]
    assert type(read) is type(value)
    assert read == value


def test_comments_only_and_empty_files_get_the_keys_after_them() -> None:
    assert edited_text("# nothing yet\n", {("jobs", "max_attempts"): 7}) == (
        "# nothing yet\njobs:\n  max_attempts: 7\n"
    )
    assert edited_text("", {("jobs", "max_attempts"): 7}) == "jobs:\n  max_attempts: 7\n"


def test_a_write_changes_the_values_and_keeps_comments_and_mode(tmp_path: Path) -> None:
    path = config(tmp_path)
    written = write_settings(path, {"jobs.max_attempts": 7, "delivery.keep_media_hours": 12})
    assert written.keys == ["jobs.max_attempts", "delivery.keep_media_hours"]
    assert written.settings.jobs.max_attempts == 7
    text = path.read_text(encoding="utf-8")
    assert "    max_attempts: 7      # five tries\n" in text
    assert "# the delivery\n" in text
    assert comments(text) == comments(MINE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_settings(path).delivery.keep_media_hours == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tikrelay.yaml"]  # no temporary left


def test_a_link_stays_a_link_to_the_file_written(tmp_path: Path) -> None:
    real = config(tmp_path)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    write_settings(link, {"jobs.max_attempts": 9})
    assert link.is_symlink()
    assert load_settings(real).jobs.max_attempts == 9


def test_a_value_the_settings_refuse_names_the_key_and_writes_nothing(tmp_path: Path) -> None:
    path = config(tmp_path)
    before = path.read_bytes()
    with pytest.raises(InvalidSettingsError) as refused:
        write_settings(path, {"delivery.downloads": 4, "jobs.max_attempts": 5000})
    assert refused.value.key == "jobs.max_attempts"  # the key at fault, of the two
    assert "jobs.max_attempts: Input should be less than or equal to 1000" in str(refused.value)
    assert str(path) in str(refused.value)
    assert ".tmp" not in str(refused.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tikrelay.yaml"]


@pytest.mark.parametrize(
    ("key", "reason", "says"),
    [
        ("telegram.bot_token", "secret", "set TELEGRAM_BOT_TOKEN in the environment"),
        # Lists of secrets: Apprise URLs hold tokens, app_info a device's identity.
        ("notify.apprise", "secret", "TIKRELAY_NOTIFY__APPRISE"),
        ("network.tiktok_app_info", "secret", "TIKRELAY_NETWORK__TIKTOK_APP_INFO"),
        ("sources", "catalog", "/api/sources"),
        ("sources.0.depth", "catalog", "Sources page"),
        ("destinations.clips.link", "catalog", "tikrelay destinations add"),
        ("jobs", "section", "jobs.worker_concurrency"),
        ("jobs.kinds.poll", "section", "jobs.kinds.poll.max_attempts"),
        ("jobs.max_atempts", "unknown", "did you mean jobs.max_attempts?"),
        ("jobs.max_attempts.x", "unknown", "unknown key"),
        ("", "malformed", "not a key"),
        ("jobs..max_attempts", "malformed", "not a key"),
        # Where secrets and traffic go, what runs, who reaches the dashboard: by hand only.
        ("telegram.api_url", "guarded", "in the config file by hand"),
        ("network.proxies", "guarded", "sends its secrets and traffic"),
        ("network.verify_tls", "guarded", "by hand"),
        # The SMTP password and the app's install id go where these say.
        ("notify.email.smtp_url", "guarded", "by hand"),
        ("notify.email.ca_bundle", "guarded", "by hand"),
        ("network.tiktok_api_hostname", "guarded", "by hand"),
        ("ffmpeg", "guarded", "what it runs"),
        ("database_url", "guarded", "by hand"),
        ("web.listen", "guarded", "who reaches this dashboard"),
        ("web.auth", "guarded", "by hand"),
    ],
)
def test_keys_that_are_never_written(key: str, reason: str, says: str, tmp_path: Path) -> None:
    path = config(tmp_path)
    before = path.read_bytes()
    with pytest.raises(KeyRefusedError) as refused:
        write_settings(path, {key: 1})
    assert (refused.value.reason, refused.value.key) == (reason, key)
    assert says in str(refused.value)
    assert path.read_bytes() == before


def test_what_a_key_is() -> None:
    assert setting_key("jobs.max_attempts").kind == "number"
    assert setting_key("jobs.max_attempts").integer
    assert setting_key("jobs.max_running").optional
    assert setting_key("bot.enabled").kind == "bool"
    assert setting_key("telegram.admins").kind == "list"
    assert setting_key("telegram.storage_chat_id").integer  # a number, or a @name
    assert setting_key("jobs.kinds").kind == "mapping"
    assert setting_key("jobs.kinds.poll.stage_timeouts.DOWNLOAD").kind == "number"


def test_a_key_the_environment_sets_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config(tmp_path)
    before = path.read_bytes()
    monkeypatch.setenv("tikrelay_jobs__max_attempts", "3")  # any case, as pydantic reads it
    with pytest.raises(KeyOverriddenError) as refused:
        write_settings(path, {"jobs.max_attempts": 7})
    assert refused.value.variable == "tikrelay_jobs__max_attempts"
    assert "wins over the config file" in str(refused.value)
    assert path.read_bytes() == before
    key = setting_key("jobs.kinds.poll.max_attempts")
    assert overriding_variable(key, {"TIKRELAY_JOBS": '{"keep_days": 1}'}) is None
    assert overriding_variable(key, {"TIKRELAY_JOBS": '{"kinds": {"poll": {"max_attempts": 2}}}'})
    inside = {"TIKRELAY_JOBS__KINDS__POLL__MAX_ATTEMPTS": "2"}
    assert overriding_variable(setting_key("jobs.kinds"), inside)


def test_without_a_config_file_nothing_can_be_written() -> None:
    with pytest.raises(ConfigFileError, match="start it with --config FILE"):
        write_settings(None, {"jobs.max_attempts": 7})


def test_keys_inside_each_other_and_impossible_values_are_refused(tmp_path: Path) -> None:
    path = config(tmp_path)
    with pytest.raises(KeyRefusedError, match=r"inside jobs\.kinds"):
        write_settings(path, {"jobs.kinds": {}, "jobs.kinds.poll.max_attempts": 2})
    with pytest.raises(InvalidSettingsError, match="finite number"):
        write_settings(path, {"jobs.keep_days": math.nan})
    with pytest.raises(InvalidSettingsError, match="UTF-8"):
        write_settings(path, {"bot.archive_to": "\ud800"})
    deep: list[object] = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(InvalidSettingsError, match="nests more than 16 levels"):
        write_settings(path, {"telegram.admins": deep})


def test_a_file_that_cannot_be_edited_is_left_alone(tmp_path: Path) -> None:
    missing = tmp_path / "gone.yaml"
    with pytest.raises(ConfigFileError, match="does not exist"):
        write_settings(missing, {"jobs.max_attempts": 7})
    listed = config(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigFileError, match="mapping"):
        write_settings(listed, {"jobs.max_attempts": 7})


def test_a_file_that_cannot_be_replaced_stays_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config(tmp_path)
    before = path.read_bytes()

    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ConfigFileError, match=r"cannot be written \(Permission denied\)"):
        write_settings(path, {"jobs.max_attempts": 7})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tikrelay.yaml"]
