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
