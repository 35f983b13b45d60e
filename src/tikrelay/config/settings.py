"""The settings model. Every key a user can write is declared here, with its default."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FloodSettings(_Section):
    chat_per_second: float = Field(
        default=1.0, gt=0, description="Messages per second to one chat (after the burst)."
    )
    chat_burst: int = Field(default=3, ge=1, description="Messages one chat may get at once.")
    group_per_minute: int = Field(
        default=20, ge=1, description="Messages per rolling minute to one group or channel."
    )
    bot_per_second: int = Field(default=30, ge=1, description="Messages per second overall.")


class TelegramSettings(_Section):
    api_url: str = Field(
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


class NetworkSettings(_Section):
    proxies: list[str] = Field(
        default_factory=list, description="Proxies for all source traffic (TikTok pages, API, CDN)."
    )
    verify_tls: bool = Field(
        default=True, description="False disables certificate checks for source traffic only."
    )
    ca_bundle: Path | None = Field(
        default=None, description="Extra CA certificates for source traffic."
    )
    cookies_file: Path | None = Field(
        default=None,
        description="TikTok cookies (Netscape format) for source traffic; mode 0600.",
    )


class JobKindSettings(_Section):
    max_attempts: int | None = Field(
        default=None, ge=1, description="Attempts for jobs of this kind; default jobs.max_attempts."
    )
    max_running: int | None = Field(
        default=None, ge=1, description="At most this many jobs of this kind run at once, overall."
    )
    timeout_seconds: float | None = Field(
        default=None, gt=0, description="Time limit for one attempt; default jobs.timeout_seconds."
    )
    stage_timeouts: dict[str, float] = Field(
        default_factory=dict, description="Time limit per stage name, in seconds."
    )


class JobSettings(_Section):
    worker_concurrency: int = Field(
        default=4, ge=1, description="Jobs one `tikrelay worker` process runs at the same time."
    )
    poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often an idle worker looks for due work."
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A claimed job belongs to its worker this long; renewed every third of it.",
    )
    max_attempts: int = Field(default=5, ge=1, description="Attempts per job unless its kind says.")
    timeout_seconds: float = Field(
        default=1800.0, gt=0, description="Time limit for one attempt of a job."
    )
    retry_base_seconds: float = Field(
        default=30.0, gt=0, description="First retry delay; doubles with every attempt."
    )
    retry_max_seconds: float = Field(default=3600.0, gt=0, description="Longest retry delay.")
    shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM/SIGINT running jobs get this long to finish, then are released.",
    )
    drain_wait_seconds: float = Field(
        default=15.0,
        ge=0,
        description="A draining run (run --once, worker --drain) waits for retries due this soon.",
    )
    max_running: int | None = Field(
        default=None, ge=1, description="At most this many jobs run at once across all workers."
    )
    max_queue_length: int | None = Field(
        default=None,
        ge=1,
        description="Enqueuing beyond this many waiting jobs is refused with a clear error.",
    )
    kinds: dict[str, JobKindSettings] = Field(
        default_factory=dict, description="Per job kind: attempts, limits, timeouts."
    )


class TelegramDestination(_Section):
    chat_id: int | str = Field(
        description="The chat: a numeric id (channels and supergroups start with -100) or @channel."
    )
    topic_id: int | None = Field(
        default=None, ge=1, description="A forum topic (message_thread_id); omit for General."
    )

    @field_validator("chat_id")
    @classmethod
    def _chat_reference(cls, value: int | str) -> int | str:
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return int(text)
            if not text.startswith("@") or len(text) < 2:
                raise ValueError("write a numeric chat id such as -1001234567890, or @channelname")
            return text
        return value


class DestinationSettings(_Section):
    telegram: TelegramDestination = Field(description="Where in Telegram posts go.")
    caption: str | None = Field(
        default=None,
        description="Caption template (Jinja2); default: the post text, a blank line, — @author.",
    )
    link: bool = Field(default=False, description="Add a link to the original post.")
    slideshow_audio: bool = Field(
        default=True, description="After a slideshow's images, send its sound as audio."
    )


class SourceSettings(_Section):
    tiktok: str = Field(description="A TikTok creator: @username or the profile URL.")
    to: list[str] = Field(min_length=1, description="Names of destinations that get its posts.")
    depth: int = Field(
        default=10, ge=1, le=100, description="How many of the newest posts each poll reads."
    )
    backfill: int | None = Field(
        default=None,
        ge=0,
        description="Existing posts delivered the first time the source is seen (default depth; "
        "0 only remembers them).",
    )
    every_minutes: float = Field(
        default=15.0, gt=0, description="How often `tikrelay serve` polls it (with jitter)."
    )


class DeliverySettings(_Section):
    downloads: int = Field(default=3, ge=1, description="Downloads that run at the same time.")
    max_upload_mb: float | None = Field(
        default=None,
        gt=0,
        description="Largest file sent to Telegram; default 50 (2000 with telegram.local_mode).",
    )
    keep_media_hours: float = Field(
        default=24.0,
        ge=0,
        description="A post's downloaded files are deleted this long after its last delivery job "
        "finished (none of them waits or runs any more).",
    )


class Settings(BaseSettings):
    """Top-level settings: YAML file first, then ``TIKRELAY_*`` environment overrides."""

    model_config = SettingsConfigDict(
        env_prefix="TIKRELAY_",
        env_nested_delimiter="__",
        extra="forbid",
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
    destinations: dict[str, DestinationSettings] = Field(
        default_factory=dict, description="Named places posts go to."
    )
    sources: list[SourceSettings] = Field(
        default_factory=list, description="What is watched, and where its posts go."
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
        return self
