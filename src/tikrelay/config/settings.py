"""The settings model. Every key a user can write is declared here, with its default."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
