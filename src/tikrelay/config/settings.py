"""The settings model. Every key a user can write is declared here, with its default."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from tikrelay.config.fields import (
    DAY,
    HOUR,
    MAX_CHAT_ID,
    MAX_TOPIC_ID,
    MAX_UPLOAD_MB,
    MINUTE,
    PROXY_SCHEMES,
    WEBHOOK_PORTS,
    WEEK,
    NotBool,
    Section,
    TimeZone,
    machine_zone,
    refuse_bool_chat,
    shown_url,
    url_host_and_port,
)
from tikrelay.config.notify_settings import NotifySettings
from tikrelay.config.tiktok_settings import TikTokApp, TikTokDestination
from tikrelay.domain.schedule import (
    PostingRules,
    ScheduleError,
    parse_clock,
    parse_days,
    parse_hours,
)
from tikrelay.domain.words import term_problem, words


def _refuse_bool_user(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a user id: write the number, e.g. 123456789")
    return value


def check_api_url(value: str) -> str:
    """``telegram.api_url``: an http(s) address with a host, nothing after the path."""
    text = value.strip()
    parts = urlsplit(text)
    if (
        parts.scheme.lower() not in ("http", "https")
        or url_host_and_port(text) is None
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            f"{shown_url(text)!r} is not a Bot API address: write http:// or https:// and a "
            "host, such as https://api.telegram.org, or http://127.0.0.1:8081 for a local Bot "
            "API server"
        )
    return text


def check_proxy(value: str) -> str:
    """One ``network.proxies`` entry: ``scheme://[user:password@]host[:port]``; without a
    scheme it is http, as yt-dlp reads it. Passwords never appear in the error."""
    text = value.strip()
    url = text if "://" in text else f"http://{text}"
    scheme = urlsplit(url).scheme.lower()
    allowed = ", ".join(PROXY_SCHEMES)
    if scheme not in PROXY_SCHEMES:
        raise ValueError(
            f"{shown_url(text)!r}: proxy scheme {scheme!r} is not supported; use one of "
            f"{allowed}, as in socks5://user:password@host:1080"
        )
    if url_host_and_port(url) is None:
        raise ValueError(
            f"{shown_url(text)!r} is not a proxy URL: write it as scheme://host:port or "
            f"scheme://user:password@host:port (schemes: {allowed})"
        )
    return text


class FloodSettings(Section):
    chat_per_second: Annotated[float, NotBool] = Field(
        default=1.0,
        gt=0,
        le=10_000,
        description="Messages per second to one chat (after the burst).",
    )
    chat_burst: Annotated[int, NotBool] = Field(
        default=3, ge=1, le=10_000, description="Messages one chat may get at once."
    )
    group_per_minute: Annotated[int, NotBool] = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="Messages per rolling minute to one group or channel.",
    )
    bot_per_second: Annotated[int, NotBool] = Field(
        default=30, ge=1, le=100_000, description="Messages per second overall."
    )


class TelegramSettings(Section):
    api_url: Annotated[str, AfterValidator(check_api_url)] = Field(
        default="https://api.telegram.org",
        description="Bot API base; calls go to {api_url}/bot{token}/{method}.",
    )
    local_mode: bool = Field(
        default=False, description="True for a local Bot API server (uploads up to 2000 MB)."
    )
    bot_token: SecretStr | None = Field(
        default=None,
        description="Bot token; prefer TELEGRAM_BOT_TOKEN in the environment to writing it here.",
    )
    flood: FloodSettings = Field(
        default_factory=FloodSettings,
        description="The pace tikrelay keeps; Telegram's published guidance by default.",
    )
    admins: list[Annotated[int, BeforeValidator(_refuse_bool_user)]] = Field(
        default_factory=list,
        description="Telegram user ids that may use the bot's admin commands.",
    )
    storage_chat_id: Annotated[int | str, BeforeValidator(refuse_bool_chat)] | None = Field(
        default=None,
        description="A chat where the bot uploads media once for inline answers.",
    )


#: ``network.tiktok_app_info``, part by part, as yt-dlp's ``app_info`` extractor argument reads
#: it: ``<iid>/<app_name>/<app_version>/<manifest_app_version>/<aid>``; a part after the install
#: id may be left empty (yt-dlp's default), and trailing ones left out.
_APP_INFO_PARTS = (
    re.compile(r"\d{1,30}"),  # the install id
    re.compile(r"[a-z_]{0,30}"),  # musical_ly, trill, aweme
    re.compile(r"(?:\d{1,4}(?:\.\d{1,4}){0,3})?"),  # 35.1.3: yt-dlp reads each part as a number
    re.compile(r"\d{0,20}"),
    re.compile(r"\d{0,10}"),
)
_APP_INFO_EXAMPLE = "7351144126450059040/musical_ly/35.1.3/2023501030/1233"
#: The domains of TikTok's mobile API hosts: the install id goes to no other host.
APP_API_DOMAINS = ("tiktokv.com", "tiktokv.us", "tiktokv.eu")
_HOST_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def check_app_info(value: object) -> object:
    """One ``network.tiktok_app_info`` entry. The error never shows it: an install id identifies
    a device."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # the install id alone, unquoted in YAML
    parts = value.strip().split("/") if isinstance(value, str) else []
    if not 1 <= len(parts) <= len(_APP_INFO_PARTS) or not all(
        pattern.fullmatch(part) for pattern, part in zip(_APP_INFO_PARTS, parts, strict=False)
    ):
        raise ValueError(
            "not an app_info of the TikTok app: write "
            "<iid>/<app_name>/<app_version>/<manifest_app_version>/<aid>, such as "
            f"{_APP_INFO_EXAMPLE} (the install id is digits; a part after it may be left "
            "empty for yt-dlp's default, e.g. 7351144126450059040//35.1.3)"
        )
    return "/".join(parts)


def _app_info_list(value: object) -> object:
    """One entry written alone is a list of one: pydantic's own type error would show it."""
    return value if isinstance(value, list | tuple) else [value]


def check_api_hostname(value: str) -> str:
    """``network.tiktok_api_hostname``: a host name of TikTok's mobile API, nothing more."""
    host = value.strip().lower()
    domains = ", ".join(f"*.{d}" for d in APP_API_DOMAINS)
    if not _HOST_NAME.fullmatch(host) or not host.endswith(tuple(f".{d}" for d in APP_API_DOMAINS)):
        raise ValueError(
            f"{value.strip()[:80]!r} is not a host name of TikTok's mobile API: write the name "
            f"alone (no scheme, port or path), one of {domains}, such as "
            "api22-normal-c-alisg.tiktokv.com"
        )
    return host


class NetworkSettings(Section):
    proxies: list[Annotated[str, AfterValidator(check_proxy)]] = Field(
        default_factory=list,
        description="Proxies for all source traffic, any site (pages, APIs, media).",
    )
    verify_tls: bool = Field(
        default=True, description="False disables certificate checks for source traffic only."
    )
    ca_bundle: Path | None = Field(
        default=None, description="Extra CA certificates for source traffic."
    )
    cookies_file: Path | None = Field(
        default=None,
        description="TikTok cookies (Netscape format) for source traffic; mode 0600. Only read: "
        "tikrelay works on a private copy in state_dir (docs/security.md).",
    )
    tiktok_app_info: Annotated[
        list[Annotated[SecretStr, BeforeValidator(check_app_info)]],
        BeforeValidator(_app_info_list),
    ] = Field(
        default_factory=list,
        description="The TikTok app's parameters, <iid>/<app_name>/<app_version>/"
        "<manifest_app_version>/<aid> (yt-dlp's app_info), one or more: they let url: sources "
        "watch TikTok hashtags and sounds. Secrets: never shown or logged.",
    )
    tiktok_api_hostname: Annotated[str, AfterValidator(check_api_hostname)] | None = Field(
        default=None,
        description="The TikTok mobile API host those listings use; default yt-dlp's "
        "(api16-normal-c-useast1a.tiktokv.com).",
    )


Seconds = Annotated[float, NotBool, Field(gt=0, le=WEEK)]


#: Days a finished job is kept: a fraction is fine (0.25 is six hours), a century the most.
KeepDays = Annotated[float, NotBool, Field(gt=0, le=36500)]


class JobKindSettings(Section):
    max_attempts: Annotated[int, NotBool] | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Attempts for jobs of this kind; default jobs.max_attempts.",
    )
    max_running: Annotated[int, NotBool] | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="At most this many jobs of this kind run at once, overall.",
    )
    timeout_seconds: Seconds | None = Field(
        default=None, description="Time limit for one attempt; default jobs.timeout_seconds."
    )
    stage_timeouts: dict[str, Seconds] = Field(
        default_factory=dict, description="Time limit per stage name, in seconds."
    )
    keep_days: KeepDays | None = Field(
        default=None,
        description="Completed jobs of this kind are deleted this long after they finished; "
        "default: the kind's own, else jobs.keep_days.",
    )


class JobSettings(Section):
    worker_concurrency: Annotated[int, NotBool] = Field(
        default=4,
        ge=1,
        le=1000,
        description="Jobs one `tikrelay worker` process runs at the same time.",
    )
    poll_interval_seconds: Annotated[float, NotBool] = Field(
        default=1.0, gt=0, le=HOUR, description="How often an idle worker looks for due work."
    )
    lease_seconds: Annotated[float, NotBool] = Field(
        default=30.0,
        gt=0,
        le=DAY,
        description="A claimed job belongs to its worker this long; renewed every third of it.",
    )
    max_attempts: Annotated[int, NotBool] = Field(
        default=5, ge=1, le=1000, description="Attempts per job unless its kind says."
    )
    timeout_seconds: Seconds = Field(
        default=1800.0, description="Time limit for one attempt of a job."
    )
    retry_base_seconds: Annotated[float, NotBool] = Field(
        default=30.0,
        gt=0,
        le=DAY,
        description="First retry delay; doubles with every attempt.",
    )
    retry_max_seconds: Seconds = Field(default=3600.0, description="Longest retry delay.")
    shutdown_grace_seconds: Annotated[float, NotBool] = Field(
        default=30.0,
        ge=0,
        le=DAY,
        description="On SIGTERM/SIGINT running jobs get this long to finish, then are released.",
    )
    drain_wait_seconds: Annotated[float, NotBool] = Field(
        default=15.0,
        ge=0,
        le=DAY,
        description="A draining run (run --once, worker --drain) waits for retries due this soon.",
    )
    max_running: Annotated[int, NotBool] | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="At most this many jobs run at once across all workers.",
    )
    max_queue_length: Annotated[int, NotBool] | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,
        description="Enqueuing beyond this many waiting jobs is refused with a clear error.",
    )
    keep_days: KeepDays = Field(
        default=7.0,
        description="Completed jobs and their timelines are deleted this long after they "
        "finished (hourly under serve, worker and bot; at the end of run --once; by cleanup).",
    )
    keep_failed_days: KeepDays = Field(
        default=30.0,
        description="Failed and cancelled jobs and their timelines are deleted this long after "
        "they finished.",
    )
    kinds: dict[str, JobKindSettings] = Field(
        default_factory=dict, description="Per job kind: attempts, limits, timeouts, retention."
    )


def _refuse_bool_topic(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(
            f"{str(value).lower()} is not a topic: write the topic's number (its "
            "message_thread_id), or leave topic_id out for the General topic"
        )
    return value


class TelegramDestination(Section):
    chat_id: Annotated[int | str, BeforeValidator(refuse_bool_chat)] = Field(
        description="The chat: a numeric id (channels and supergroups start with -100) or @channel."
    )
    topic_id: Annotated[int, BeforeValidator(_refuse_bool_topic)] | None = Field(
        default=None,
        ge=1,
        le=MAX_TOPIC_ID,
        description="A forum topic (message_thread_id); omit for General.",
    )
    oversize: Literal["compress", "skip"] = Field(
        default="compress",
        description="A video over the upload limit: compress re-encodes it to fit; skip fails the "
        "post as too large.",
    )
    hevc: bool = Field(
        default=False,
        description="Send HEVC videos tagged hvc1 as they are (smaller, sharper; some older "
        "players cannot show them); default: every video is H.264.",
    )
    slideshow: Literal["album", "video", "both"] = Field(
        default="album",
        description="A photo slideshow: album sends its photos in albums of ten; video makes one "
        "video of the slides with the sound; both sends the albums, then the video.",
    )

    @field_validator("chat_id")
    @classmethod
    def _chat_reference(cls, value: int | str) -> int | str:
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                value = int(text)
            elif not text.startswith("@") or len(text) < 2:
                raise ValueError("write a numeric chat id such as -1001234567890, or @channelname")
            else:
                return text
        if abs(value) > MAX_CHAT_ID:
            raise ValueError(
                f"{value} is too long for a Telegram chat id: copy the id again "
                "(such as -1001234567890), or write @channelname"
            )
        return value


ARCHIVE_SCHEMES = ("s3", "az")


class ArchiveDestination(Section):
    path: Path | None = Field(
        default=None,
        description="A local folder: posts are stored as DIR/tiktok/{author}/{YYYY}/{MM}/{id}/.",
    )
    url: str | None = Field(
        default=None,
        description="Object storage instead of a folder: s3://BUCKET/PREFIX or "
        "az://CONTAINER/PREFIX; credentials come from the environment.",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="The storage server's address, for S3-compatible services other than AWS "
        "(MinIO, moto) or an Azure emulator.",
    )
    keep_days: Annotated[float, NotBool] | None = Field(
        default=None,
        gt=0,
        le=36500,
        description="Posts archived longer ago than this are deleted (hourly); default: kept.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> ArchiveDestination:
        if (self.path is None) == (self.url is None):
            raise ValueError(
                "give exactly one of path (a local folder) and url (s3://BUCKET/PREFIX or "
                "az://CONTAINER/PREFIX)"
            )
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme.lower() not in ARCHIVE_SCHEMES or not parts.netloc:
                raise ValueError(
                    f"url {self.url!r} is not an archive address: write s3://BUCKET/PREFIX or "
                    "az://CONTAINER/PREFIX"
                )
        elif self.endpoint_url is not None:
            raise ValueError("endpoint_url goes with url (object storage), not with path")
        if self.endpoint_url is not None:
            check_endpoint_url(self.endpoint_url)
        return self


def check_endpoint_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or url_host_and_port(value) is None:
        raise ValueError(
            f"endpoint_url {shown_url(value)!r} is not a server address: write http:// or "
            "https:// and a host, such as http://127.0.0.1:9000"
        )
    return value


#: What ``api_key_env`` may name: an environment variable, as a shell would write it.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
AI_CAPTION_TIMEOUT = 30.0


class AiCaptionSettings(Section):
    """A caption written by a language model behind an OpenAI-compatible API."""

    base_url: str = Field(
        description="The API's address up to /chat/completions, such as https://api.openai.com/v1."
    )
    model: str = Field(
        min_length=1, max_length=200, description="The model to ask, such as gpt-4o-mini."
    )
    prompt: str = Field(
        min_length=1,
        description="The request (Jinja2, with the caption template's variables), such as "
        "'Rewrite for a Telegram channel: {{ text }}'.",
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY",
        description="The environment variable that holds the API key (never the key itself).",
    )
    timeout_seconds: Annotated[float, NotBool] = Field(
        default=AI_CAPTION_TIMEOUT,
        gt=0,
        le=10 * MINUTE,
        description="How long the one request may take; then the caption template is used.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_address(cls, value: str) -> str:
        text = value.strip().rstrip("/")
        parts = urlsplit(text)
        if (
            parts.scheme.lower() not in ("http", "https")
            or url_host_and_port(text) is None
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                f"{shown_url(text)!r} is not an API address: write http:// or https:// and a "
                "host, up to the path before /chat/completions, such as https://api.openai.com/v1"
            )
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                f"{shown_url(text)!r} holds a user name or password: write the address without "
                "them; the API key comes from the variable api_key_env names"
            )
        return text

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an environment variable's name: write the name (such as "
                "OPENAI_API_KEY) and export the key in it, never the key here"
            )
        return value


def _schedule_rule(check: Callable[[Any], object]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        try:
            check(value)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return value

    return run


def _listed_days(value: object) -> object:
    return [value] if isinstance(value, str) else value


class ScheduleSettings(Section):
    """When a destination's posts may go: a steady drip instead of a flood."""

    max_per_hour: Annotated[int, NotBool] | None = Field(
        default=None, ge=1, le=10_000, description="At most this many posts in any 60 minutes."
    )
    max_per_day: Annotated[int, NotBool] | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="At most this many posts per calendar day (in tz).",
    )
    hours: Annotated[str, AfterValidator(_schedule_rule(parse_hours))] | None = Field(
        default=None,
        description="When posts may go, such as 08:00-22:00 (the end excluded; several: "
        "08:00-12:00, 14:00-22:00).",
    )
    days: (
        Annotated[
            list[str], BeforeValidator(_listed_days), AfterValidator(_schedule_rule(parse_days))
        ]
        | None
    ) = Field(default=None, description="The days posts may go, such as [mon-fri] or [sat, sun].")
    tz: TimeZone | None = Field(
        default=None,
        description="The time zone of hours, days, at and max_per_day (IANA name); default "
        "the destination's tz, else the machine's.",
    )
    at: list[Annotated[str, AfterValidator(_schedule_rule(parse_clock))]] | None = Field(
        default=None,
        min_length=1,
        description='Fixed slots such as ["09:00", "14:00"], each taking one post.',
    )
    min_gap_minutes: Annotated[float, NotBool] | None = Field(
        default=None, gt=0, le=WEEK / MINUTE, description="At least this long between posts."
    )
    catch_up: Literal["all", "digest"] = Field(
        default="all",
        description="Posts published longer ago than catch_up_after_hours when their turn "
        "comes: all drips them out; digest sends one message listing them.",
    )
    catch_up_after_hours: Annotated[float, NotBool] = Field(
        default=12.0,
        gt=0,
        le=WEEK / HOUR * 52,
        description="How old a post may be when its turn comes and still be sent on its own "
        "with catch_up: digest.",
    )

    def rules(self, zone: str) -> PostingRules:
        """The schedule's rules in ``zone`` (its own tz wins)."""
        return PostingRules(
            zone=ZoneInfo(self.tz or zone),
            max_per_hour=self.max_per_hour,
            max_per_day=self.max_per_day,
            windows=parse_hours(self.hours) if self.hours else (),
            days=parse_days(self.days) if self.days else None,
            at=tuple(parse_clock(slot) for slot in self.at or ()),
            min_gap=timedelta(minutes=self.min_gap_minutes) if self.min_gap_minutes else None,
        )

    @model_validator(mode="after")
    def _allows_some_moment(self) -> ScheduleSettings:
        try:
            self.rules("UTC")
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return self


class DestinationSettings(Section):
    telegram: TelegramDestination | None = Field(
        default=None, description="Where in Telegram posts go."
    )
    archive: ArchiveDestination | None = Field(
        default=None,
        description="Instead of a chat: a folder or a bucket where every post is stored with "
        "its metadata.",
    )
    tiktok: TikTokDestination | None = Field(
        default=None,
        description="Instead of a chat: a TikTok account that gets every post (Content Posting "
        "API).",
    )
    archive_to: str | None = Field(
        default=None,
        description="The name of an archive destination: every post delivered here is also "
        "archived there.",
    )
    caption: str | None = Field(
        default=None,
        description="Caption template (Jinja2); default: the post text, a blank line, — @author.",
    )
    link: bool = Field(default=False, description="Add a link to the original post.")
    tz: TimeZone | None = Field(
        default=None,
        description="The destination's time zone (IANA name, such as Europe/Berlin): dates in "
        "captions, and the schedule's; default schedule.tz, else the machine's.",
    )
    schedule: ScheduleSettings | None = Field(
        default=None,
        description="When posts may go here (max_per_hour, hours, at…); default: as soon as "
        "they are ready.",
    )
    ai_caption: AiCaptionSettings | None = Field(
        default=None,
        description="Captions written by a language model (OpenAI-compatible API); the caption "
        "template when it fails. Off by default.",
    )
    slideshow_audio: bool = Field(
        default=True, description="After a slideshow's images, send its sound as audio."
    )

    @property
    def zone(self) -> str:
        """The destination's time zone: ``tz``, else ``schedule.tz``, else the machine's."""
        return self.tz or (self.schedule.tz if self.schedule else None) or machine_zone()

    def posting_rules(self) -> PostingRules | None:
        """The schedule's rules, in ``schedule.tz``, else the destination's zone."""
        if self.schedule is None:
            return None
        return self.schedule.rules(self.schedule.tz or self.zone)

    @model_validator(mode="after")
    def _one_kind(self) -> DestinationSettings:
        kinds = [self.telegram, self.archive, self.tiktok]
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError(
                "give exactly one of telegram (a chat: telegram: {chat_id: ...}), archive (a "
                "folder or bucket: archive: {path: DIR}) and tiktok (an account: tiktok: "
                "{account: NAME})"
            )
        if self.tiktok is not None and self.schedule and self.schedule.catch_up == "digest":
            raise ValueError(
                "schedule.catch_up: digest sends a chat one message listing links; a TikTok "
                "account cannot take one: write catch_up: all"
            )
        if self.archive is not None and self.schedule is not None:
            raise ValueError(
                "schedule paces a chat or a TikTok account; an archive stores every post as it "
                "comes: remove schedule from this archive destination"
            )
        if self.archive is not None and self.archive_to is not None:
            raise ValueError("archive_to belongs to a telegram destination, not to an archive")
        return self

    @property
    def chat(self) -> TelegramDestination:
        """The Telegram side of a destination that is a chat."""
        if self.telegram is None:
            raise ValueError("this destination is not a chat: it is an archive or a TikTok account")
        return self.telegram


#: The kinds of post a creator's feed holds, as ``filters.kinds`` names them.
FILTER_KINDS = ("video", "slideshow")
#: Views and likes beyond any post's (the most watched TikTok has a few billion views).
MAX_COUNT = 10**12
MAX_TERM = 200


def _check_kind(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a kind of post: write video or slideshow")
    kind = value.strip().lower()
    if kind == "audio":
        raise ValueError(
            "'audio' is not a kind a creator's feed holds: its posts are videos and slideshows "
            "(a slideshow's sound comes with it; slideshow_audio: false on a destination leaves "
            "it out)"
        )
    if kind not in FILTER_KINDS:
        raise ValueError(f"{value!r} is not a kind of post: write video and/or slideshow")
    return kind


def _check_term(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # `exclude: [2024]` in YAML is a number
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a word: write a word, a few words or a #hashtag")
    term = value.strip()
    if len(term) > MAX_TERM:
        raise ValueError(f"{term[:40]!r}… is longer than {MAX_TERM} characters")
    problem = term_problem(term)
    if problem is not None:
        raise ValueError(problem)
    return term


def _listed(value: object) -> object:
    # `kinds: video`, `exclude: "#ad"` and `include: 2024` mean a list of one.
    single = isinstance(value, str | int) and not isinstance(value, bool)
    return [value] if single else value


#: A word or a #hashtag of ``include`` and ``exclude``.
FilterTerm = Annotated[str, BeforeValidator(_check_term)]
FilterTerms = Annotated[list[FilterTerm], BeforeValidator(_listed)]
FilterKind = Annotated[Literal["video", "slideshow"], BeforeValidator(_check_kind)]


class FilterSettings(Section):
    """Which of a source's posts are delivered; a post that fails one rule is not, for good.
    A figure the source does not give passes its rule."""

    min_views: Annotated[int, NotBool] | None = Field(
        default=None, ge=0, le=MAX_COUNT, description="Only posts seen at least this many times."
    )
    min_likes: Annotated[int, NotBool] | None = Field(
        default=None, ge=0, le=MAX_COUNT, description="Only posts liked at least this many times."
    )
    max_age_days: Annotated[float, NotBool] | None = Field(
        default=None,
        gt=0,
        le=36500,
        description="Only posts created at most this many days before their delivery job reads "
        "them.",
    )
    kinds: Annotated[list[FilterKind] | None, BeforeValidator(_listed)] = Field(
        default=None, description="Only these kinds of post: video, slideshow."
    )
    min_duration: Annotated[float, NotBool] | None = Field(
        default=None, ge=0, le=DAY, description="Only videos at least this many seconds long."
    )
    max_duration: Annotated[float, NotBool] | None = Field(
        default=None, gt=0, le=DAY, description="Only videos at most this many seconds long."
    )
    min_height: Annotated[int, NotBool] | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Only videos at least this many pixels high.",
    )
    include: FilterTerms = Field(
        default_factory=list,
        description="Only posts whose text or hashtags have at least one of these words or "
        "#hashtags (whole words, case and accents ignored).",
    )
    exclude: FilterTerms = Field(
        default_factory=list,
        description="No post whose text or hashtags have any of these words or #hashtags (whole "
        "words, case and accents ignored).",
    )

    @field_validator("kinds")
    @classmethod
    def _some_kind(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError(
                "an empty list lets no post through: list video and/or slideshow, or remove "
                "kinds to take every kind"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FilterSettings:
        low, high = self.min_duration, self.max_duration
        if low is not None and high is not None and low > high:
            raise ValueError(
                f"min_duration {low:g} is more than max_duration {high:g}: no video could pass; "
                "lower min_duration or raise max_duration"
            )
        both = {_same_term(t) for t in self.include} & {_same_term(t) for t in self.exclude}
        if both:
            raise ValueError(
                f"{sorted(both)[0]!r} is in both include and exclude: keep it in one of them"
            )
        return self


def _same_term(term: str) -> str:
    """``term`` as it matches: ``#Café`` and ``#cafe`` are one term, ``cafe`` another."""
    return ("#" if term.startswith("#") else "") + " ".join(words(term))


class SourceSettings(Section):
    tiktok: str | None = Field(
        default=None, description="A TikTok creator: @username or the profile URL."
    )
    url: str | None = Field(
        default=None,
        max_length=290,
        description="Instead of tiktok: any channel or playlist yt-dlp can list (a YouTube "
        "channel or playlist, a TikTok collection, an RSS feed, …).",
    )
    to: list[str] = Field(min_length=1, description="Names of destinations that get its posts.")
    depth: Annotated[int, NotBool] = Field(
        default=10, ge=1, le=100, description="How many of the newest posts each poll reads."
    )
    backfill: Annotated[int, NotBool] | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="Existing posts delivered the first time the source is seen (default depth; "
        "0 only remembers them).",
    )
    every_minutes: Annotated[float, NotBool] = Field(
        default=15.0,
        gt=0,
        le=WEEK / MINUTE,
        description="How often `tikrelay serve` polls it (with jitter).",
    )
    filters: FilterSettings | None = Field(
        default=None,
        description="Which of its posts are delivered: views, likes, age, kind, duration, "
        "height, words; default: every post.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSettings:
        if (self.tiktok is None) == (self.url is None):
            raise ValueError(
                "give exactly one of tiktok (a creator: '@name') and url (a channel or "
                "playlist yt-dlp can list)"
            )
        return self


class DeliverySettings(Section):
    downloads: Annotated[int, NotBool] = Field(
        default=3, ge=1, le=100, description="Downloads that run at the same time."
    )
    max_upload_mb: Annotated[float, NotBool] | None = Field(
        default=None,
        gt=0,
        le=MAX_UPLOAD_MB,
        description="Largest file sent to Telegram; default 50 (2000 with telegram.local_mode).",
    )
    keep_media_hours: Annotated[float, NotBool] = Field(
        default=24.0,
        ge=0,
        le=365 * DAY / HOUR,
        description="A post's downloaded files are deleted this long after its last delivery job "
        "finished (none of them waits or runs any more).",
    )
    cache_max_gb: Annotated[float, NotBool] | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="The media cache's size budget: beyond it the oldest posts' files no job "
        "needs go first, even before keep_media_hours; default: no budget.",
    )


class BotLimits(Section):
    active_per_user: Annotated[int, NotBool] = Field(
        default=3, ge=1, le=1000, description="Requests of one person being worked on at once."
    )
    per_user_per_hour: Annotated[int, NotBool] = Field(
        default=30, ge=1, le=100_000, description="Requests one person may make in an hour."
    )
    per_chat_per_hour: Annotated[int, NotBool] = Field(
        default=120, ge=1, le=100_000, description="Requests one chat may make in an hour."
    )
    global_active: Annotated[int, NotBool] = Field(
        default=50, ge=1, le=100_000, description="Requests being worked on at once, in all."
    )
    burst_messages: Annotated[int, NotBool] = Field(
        default=8,
        ge=2,
        le=1000,
        description="Spam guard: this many messages from one person within burst_seconds…",
    )
    burst_seconds: Annotated[float, NotBool] = Field(
        default=10.0, gt=0, le=HOUR, description="…pause that person for pause_seconds."
    )
    pause_seconds: Annotated[float, NotBool] = Field(
        default=60.0, gt=0, le=DAY, description="How long the spam guard ignores a person."
    )
    max_download_mb: Annotated[float, NotBool] = Field(
        default=500.0,
        gt=0,
        le=100_000,
        description="The largest video one request may download (MB, from the site's metadata "
        "or a HEAD request, before downloading); bigger ones are refused as too large.",
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(value: str) -> str:
    """``bot.webhook_url``: https with a host (Telegram posts updates only there, to ports 443,
    80, 88 or 8443); plain http and any port only for a loopback host, as a local Bot API
    server or the sandbox emulator takes them."""
    text = value.strip()
    parts = urlsplit(text)
    found = url_host_and_port(text)
    shown = repr(shown_url(text))
    fix = (
        "write https://your.domain/a-path (your reverse proxy passes it on to "
        "bot.webhook_listen); http:// is taken only for a loopback host, such as "
        "http://127.0.0.1:8443/ for a local Bot API server"
    )
    if parts.scheme.lower() not in ("http", "https") or found is None or parts.fragment:
        raise ValueError(f"{shown} is not a webhook URL: {fix}")
    host, port = found
    if _is_loopback(host):
        return text
    if parts.scheme.lower() != "https":
        raise ValueError(f"{shown} must be https, Telegram posts updates only there: {fix}")
    if port is not None and port not in WEBHOOK_PORTS:
        raise ValueError(
            f"{shown}: Telegram posts updates only to ports 443, 80, 88 and 8443: leave the "
            "port out (443) or use one of those"
        )
    return text


def split_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8443`` for IPv6) as the host and the port."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            f"{value!r} is not an address to listen on: write host:port, such as "
            "127.0.0.1:8443 (behind a reverse proxy), 0.0.0.0:8443 (every interface) or "
            "[::1]:8443"
        )
    return host, int(port)


def _check_listen(value: str) -> str:
    split_listen(value)
    return value.strip()


class BotSettings(Section):
    enabled: bool = Field(
        default=True,
        description="tikrelay serve also runs the bot (answers people who write to it); false: "
        "serve only reposts. tikrelay bot runs it either way.",
    )
    group_errors: bool = Field(
        default=False,
        description="In groups, say why a link failed (by default the bot stays quiet there).",
    )
    limits: BotLimits = Field(default_factory=BotLimits, description="Requests people may make.")
    archive_to: str | None = Field(
        default=None,
        description="An archive destination: what the bot sends in a chat that turned "
        "/archive_on is also archived there.",
    )
    webhook_url: Annotated[str, AfterValidator(check_webhook_url)] | None = Field(
        default=None,
        description="Take updates by a webhook at this https URL instead of long polling; "
        "Telegram posts them there, your reverse proxy passes them on to webhook_listen.",
    )
    webhook_listen: Annotated[str, AfterValidator(_check_listen)] = Field(
        default="127.0.0.1:8443",
        description="host:port where the bot's webhook listener (plain HTTP) takes the updates "
        "Telegram posts to webhook_url.",
    )


def split_web_listen(value: str) -> tuple[str, int]:
    """``web.listen`` as the host and the port; port 0 lets the system choose a free one (the
    line printed at start names it)."""
    host, sep, port = value.strip().rpartition(":")
    if sep and host and port == "0":
        return split_listen(f"{host}:1")[0], 0
    return split_listen(value)


def _check_web_listen(value: str) -> str:
    split_web_listen(value)
    return value.strip()


#: The variable that holds the web token; the token is never a settings key, so that it can be
#: in no config file.
WEB_TOKEN_ENV = "TIKRELAY_WEB_TOKEN"  # noqa: S105 - the variable's name, not a secret


class WebSettings(Section):
    listen: Annotated[str, AfterValidator(_check_web_listen)] = Field(
        default="127.0.0.1:8080",
        description="host:port of the dashboard, REST API and /metrics; tikrelay serve runs them "
        "when this key is set, tikrelay web always.",
    )
    auth: Literal["token", "none"] = Field(
        default="token",
        description="token: every route but /healthz and /readyz needs TIKRELAY_WEB_TOKEN; none "
        "(only on a loopback listen address): no token.",
    )

    @property
    def wanted_by_serve(self) -> bool:
        """``web.listen`` was written (in the file or as TIKRELAY_WEB__LISTEN), not defaulted."""
        return "listen" in self.model_fields_set

    @property
    def on_loopback(self) -> bool:
        return _is_loopback(split_web_listen(self.listen)[0])


class Settings(BaseSettings):
    """Top-level settings: YAML file first, then ``TIKRELAY_*`` environment overrides."""

    model_config = SettingsConfigDict(
        env_prefix="TIKRELAY_",
        env_nested_delimiter="__",
        extra="forbid",
        allow_inf_nan=False,
    )

    state_dir: Path = Field(
        default=Path("tikrelay-data"), description="SQLite database and media cache."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default SQLite in state_dir. PostgreSQL: postgresql+psycopg://...",
    )
    ffmpeg: str | None = Field(
        default=None,
        description="ffmpeg to run (a path or a command on PATH); default: the bundled binary.",
    )
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    web: WebSettings = Field(
        default_factory=WebSettings, description="The dashboard, REST API and metrics."
    )
    destinations: dict[str, DestinationSettings] = Field(
        default_factory=dict, description="Named places posts go to."
    )
    sources: list[SourceSettings] = Field(
        default_factory=list, description="What is watched, and where its posts go."
    )
    notify: NotifySettings = Field(
        default_factory=NotifySettings,
        description="Where failures that need a person, and a daily summary, are sent.",
    )
    tiktok_app: TikTokApp = Field(
        default_factory=TikTokApp,
        description="The TikTok app that publishes to tiktok destinations.",
    )

    @model_validator(mode="after")
    def _routes_name_destinations(self) -> Settings:
        for index, source in enumerate(self.sources):
            for name in source.to:
                if name not in self.destinations:
                    known = ", ".join(sorted(self.destinations)) or "none defined"
                    raise ValueError(
                        f"sources.{index}.to names destination {name!r}, which is not defined "
                        f"under destinations (defined: {known})"
                    )
        for name, destination in self.destinations.items():
            check_archive_to(name, destination, self.destinations)
        wanted = self.bot.archive_to
        if wanted is not None and getattr(self.destinations.get(wanted), "archive", None) is None:
            archives = ", ".join(sorted(n for n, d in self.destinations.items() if d.archive))
            raise ValueError(
                f"bot.archive_to names {wanted!r}, which is not an archive destination "
                f"(archive destinations: {archives or 'none'})"
            )
        return self

    @model_validator(mode="after")
    def _web_auth_none_on_loopback_only(self) -> Settings:
        if self.web.auth == "none" and not self.web.on_loopback:
            raise ValueError(
                f"web.auth: none is allowed only on a loopback address, and web.listen "
                f"{self.web.listen!r} can be reached from other machines: remove web.auth and "
                f"set {WEB_TOKEN_ENV}, or listen on 127.0.0.1 or [::1]"
            )
        return self


def check_archive_to(
    name: str, destination: DestinationSettings, destinations: dict[str, DestinationSettings]
) -> None:
    """``destinations.NAME.archive_to`` names an archive destination."""
    target = destination.archive_to
    if target is None:
        return
    found = destinations.get(target)
    if found is None or found.archive is None:
        archives = ", ".join(sorted(n for n, d in destinations.items() if d.archive)) or "none"
        raise ValueError(
            f"destinations.{name}.archive_to names {target!r}, which is not an archive "
            f"destination (archive destinations: {archives})"
        )
