"""TikTok hashtags, sounds and effects as ``url:`` sources, without a network: the app's
parameters (``network.tiktok_app_info``) and API host as the config takes them, never shown;
which addresses need them; how their entries are keyed; the emulated API's paging and installs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tikrelay.config import ConfigError, load_settings
from tikrelay.config.settings import NetworkSettings, Settings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.reposter.model import SetupError, check_relay_settings, watched_sources
from tikrelay.sandbox.tiktok.model import AppInstall, app_page
from tikrelay.sources.playlists import app_entries, hidden
from tikrelay.sources.refs import app_listing, parse_playlist
from tikrelay.web.settings_shown import setting_rows

IID = "7351144126450059040"
FULL = f"{IID}/musical_ly/35.1.3/2023501030/1233"


def loaded(tmp_path: Path, network: dict[str, Any], *sources: dict[str, Any]) -> Settings:
    path = tmp_path / "tikrelay.yaml"
    data = {
        "network": network,
        "destinations": {"main": {"telegram": {"chat_id": 1}}},
        "sources": list(sources),
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_settings(path)


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ([FULL], [FULL]),
        ([f" {IID} "], [IID]),  # the install id alone: yt-dlp's defaults for the rest
        ([int(IID)], [IID]),  # unquoted in YAML
        ([f"{IID}//35.1.3"], [f"{IID}//35.1.3"]),  # an empty part: yt-dlp's default
        (FULL, [FULL]),  # one entry without the list
        ([FULL, f"{IID[:-1]}1/trill/34.2.1/2023402010/1180"], None),
    ],
)
def test_app_info_takes_yt_dlps_form(written: Any, kept: list[str] | None) -> None:
    network = NetworkSettings.model_validate({"tiktok_app_info": written})
    values = [v.get_secret_value() for v in network.tiktok_app_info]
    assert values == (kept if kept is not None else written)


@pytest.mark.parametrize(
    "written",
    [
        "not-an-iid/musical_ly",
        f"{IID}/Musical/35.1.3",  # app names are lower-case
        f"{IID}/musical_ly/35.x/2023501030/1233",  # yt-dlp reads each version part as a number
        f"{IID}/musical_ly/35.1.3/2023501030/1233/extra",
        f"{IID}/musical_ly/35.1.3/v2023501030",
        "",
        True,
    ],
)
def test_a_malformed_app_info_is_refused_by_its_key_without_showing_it(
    tmp_path: Path, written: Any
) -> None:
    with pytest.raises(ConfigError) as caught:
        loaded(tmp_path, {"tiktok_app_info": [written]})
    message = str(caught.value)
    assert "network.tiktok_app_info.0: not an app_info of the TikTok app" in message
    assert "<iid>/<app_name>/<app_version>/<manifest_app_version>/<aid>" in message
    if isinstance(written, str) and written:
        assert written not in message


def test_the_app_info_is_never_shown_with_the_settings() -> None:
    settings = Settings.model_validate({"network": {"tiktok_app_info": [FULL]}})
    assert ("network.tiktok_app_info", "set") in setting_rows(settings)
    assert IID not in repr(settings)
    assert IID not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("api22-normal-c-alisg.tiktokv.com", "api22-normal-c-alisg.tiktokv.com"),
        (" API16-normal-c-useast1a.tiktokv.com ", "api16-normal-c-useast1a.tiktokv.com"),
        ("api.tiktokv.us", "api.tiktokv.us"),
    ],
)
def test_the_api_hostname_is_a_tiktok_api_host_name(written: str, kept: str) -> None:
    assert NetworkSettings(tiktok_api_hostname=written).tiktok_api_hostname == kept


@pytest.mark.parametrize(
    "written",
    [
        "https://api22-normal-c-alisg.tiktokv.com",
        "api22-normal-c-alisg.tiktokv.com:443",
        "api22-normal-c-alisg.tiktokv.com/aweme",
        "api.example.com",  # the install id goes to TikTok's hosts only
        "tiktokv.com.example.com",
        "127.0.0.1",
    ],
)
def test_another_api_hostname_is_refused_by_its_key(tmp_path: Path, written: str) -> None:
    with pytest.raises(ConfigError, match=r"network\.tiktok_api_hostname: .* host name of TikTok"):
        loaded(tmp_path, {"tiktok_api_hostname": written})


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("https://www.tiktok.com/tag/cats", "tag"),
        ("https://tiktok.com/tag/fyp%E3%82%B7?is_copy_url=0", "tag"),
        ("https://www.tiktok.com/music/original-sound-7251000000000000001", "music"),
        ("https://www.tiktok.com/music/Build-a-Btch-6956990112127585029?lang=en", "music"),
        ("https://www.tiktok.com/sticker/MATERIAL-GWOOORL-1258156", "sticker"),
        ("https://www.tiktok.com/@alice/collection/Cats-7000000000000000000", None),
        ("https://www.youtube.com/@somechannel/shorts", None),
    ],
)
def test_hashtags_sounds_and_effects_are_the_apps_listings(address: str, kind: str | None) -> None:
    assert app_listing(address) == kind


@pytest.mark.parametrize(
    "address", ["https://m.tiktok.com/tag/cats", "https://www.tiktok.com/music/no-id-here"]
)
def test_a_tiktok_app_page_yt_dlp_cannot_list_is_refused_saying_how_to_write_it(
    address: str,
) -> None:
    with pytest.raises(ValueError, match=r"write it as https://www\.tiktok\.com/tag/NAME"):
        parse_playlist(address, app_info=True)


def test_with_app_info_a_hashtag_is_watched_and_keys_its_posts_as_tiktoks(tmp_path: Path) -> None:
    settings = loaded(
        tmp_path,
        {"tiktok_app_info": [FULL]},
        {"url": "https://www.tiktok.com/tag/cats", "to": ["main"]},
        {"url": "https://www.youtube.com/@somechannel/shorts", "to": ["main"]},
        {"tiktok": "@alice", "to": ["main"]},
    )
    check_relay_settings(settings)
    tag, channel, creator = watched_sources(settings)
    assert (tag.key, tag.playlist, tag.site) == (
        "url:https://www.tiktok.com/tag/cats",
        True,
        "tiktok",
    )
    assert (channel.site, creator.site) == ("web", "tiktok")


@pytest.mark.parametrize(
    "address",
    [
        "https://www.tiktok.com/tag/cats",
        "https://www.tiktok.com/music/original-sound-7251000000000000001",
        "https://www.tiktok.com/sticker/sparkle-123",
    ],
)
def test_without_app_info_a_hashtag_sound_or_effect_is_refused_naming_the_key(
    tmp_path: Path, address: str
) -> None:
    settings = loaded(tmp_path, {}, {"url": address, "to": ["main"]})
    with pytest.raises(SetupError) as caught:
        check_relay_settings(settings)
    message = str(caught.value)
    assert message.startswith(f"sources.0.url: {address}: ")
    assert "set network.tiktok_app_info to <iid>/<app_name>/" in message


def test_an_apps_entries_are_tiktok_posts_opened_at_their_authors_pages() -> None:
    listed = [  # as yt-dlp's _parse_aweme_video_app gives them: the newest first
        {"id": "7300000000000000003", "uploader": "bob", "timestamp": 1_700_000_300},
        {"id": "7300000000000000002", "uploader": None, "timestamp": 1_700_000_200},
        {"id": "7300000000000000003", "uploader": "bob", "timestamp": 1_700_000_300},  # again
        {"id": "not-a-post", "uploader": "eve", "timestamp": 1_700_000_250},
        {"id": "7300000000000000001", "uploader": "alice", "timestamp": 1_700_000_100},
        "not an entry",
    ]
    entries = app_entries(listed)
    assert [(e.id, e.url, e.author) for e in entries] == [
        (
            "7300000000000000001",
            "https://www.tiktok.com/@alice/video/7300000000000000001",
            "@alice",
        ),
        ("7300000000000000002", "https://www.tiktok.com/@_/video/7300000000000000002", None),
        ("7300000000000000003", "https://www.tiktok.com/@bob/video/7300000000000000003", "@bob"),
    ]
    assert entries[0].created_at == datetime.fromtimestamp(1_700_000_100, UTC)
    untimed = app_entries([{"id": "2", "uploader": "a"}, {"id": "1", "uploader": "a"}])
    assert [e.id for e in untimed] == ["1", "2"]  # the listing's order, reversed


def test_the_emulated_api_pages_by_offset() -> None:
    posts = list(range(45))
    assert app_page(posts, 0, 20) == (list(range(20)), 20, True)
    assert app_page(posts, 40, 20) == ([40, 41, 42, 43, 44], 45, False)
    assert app_page(posts, 0, 500)[1] == 30  # at most 30 a page


def test_the_emulated_api_takes_only_an_installs_own_parameters() -> None:
    install = AppInstall(iid=IID)
    query = {
        "iid": IID,
        "app_name": "musical_ly",
        "version_name": "35.1.3",
        "manifest_version_code": "2023501030",
        "aid": "1233",
    }
    assert install.app_info == FULL
    assert install.accepts(query)
    for key in query:
        assert not install.accepts({**query, key: query[key] + "0"}), key
        assert not install.accepts({k: v for k, v in query.items() if k != key}), key


def test_an_app_listings_error_and_log_lines_hide_the_apps_parameters() -> None:
    url = f"https://api16-normal-c-useast1a.tiktokv.com/aweme/v1/challenge/aweme/?iid={IID}&aid=1"
    error = TikrelayError(ErrorKind.NETWORK, f"cannot reach {url} ({FULL})", retryable=True)
    shown = hidden(error, [FULL])
    assert IID not in shown.message
    assert shown.message == (
        "cannot reach https://api16-normal-c-useast1a.tiktokv.com/aweme/v1/challenge/aweme/"
        "?iid=[redacted]&aid=1 ([redacted])"
    )
    assert (shown.kind, shown.retryable) == (ErrorKind.NETWORK, True)
    plain = TikrelayError(ErrorKind.HTTP, "HTTP 500")
    assert hidden(plain, [FULL]) is plain
