"""Settings from YAML and the environment, validated with messages that name the key and the fix."""

from tikrelay.config.loader import ConfigError, load_settings
from tikrelay.config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
