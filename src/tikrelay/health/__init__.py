"""Health checks: everything a run needs (config, bot token, destinations, ffmpeg, database,
state folder, cookies, proxies, TikTok), each as a typed :class:`Check` whose problems say what
to fix. ``tikrelay doctor`` prints them; they are there for the bot's /health and the web's
/readyz as well.
"""

from tikrelay.health.checkup import examine
from tikrelay.health.database import check_database, inspect_database
from tikrelay.health.ffmpeg import check_ffmpeg
from tikrelay.health.files import check_cookies, check_state_folder
from tikrelay.health.network import check_network
from tikrelay.health.report import Check, Report, Status
from tikrelay.health.sources import check_sources
from tikrelay.health.telegram import check_telegram
from tikrelay.health.tiktok import check_tiktok

__all__ = [
    "Check",
    "Report",
    "Status",
    "check_cookies",
    "check_database",
    "check_ffmpeg",
    "check_network",
    "check_sources",
    "check_state_folder",
    "check_telegram",
    "check_tiktok",
    "examine",
    "inspect_database",
]
