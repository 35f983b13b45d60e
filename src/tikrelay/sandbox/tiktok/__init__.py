"""An in-memory TikTok that the real yt-dlp reaches through a local TLS-terminating proxy.

See docs/sandbox-tiktok.md. In short::

    world = TikTokWorld()
    world.add_creator("alice", videos=17)
    post = world.add_video("alice", desc="hello #fyp")
    with TikTokEmulator(world).running() as emu:
        yt_dlp.YoutubeDL({**emu.ydl_options, ...}).extract_info(post.url)
"""

from tikrelay.sandbox.tiktok.control import CONTROL_PREFIX, EmulatorControl
from tikrelay.sandbox.tiktok.faults import Fault, FaultKind
from tikrelay.sandbox.tiktok.model import (
    IP_BLOCKED,
    OK,
    PRIVATE_ACCOUNT,
    PRIVATE_POST,
    REMOVED,
    Creator,
    Post,
    PostKind,
    PostMedia,
    Slide,
)
from tikrelay.sandbox.tiktok.proxy import TikTokEmulator
from tikrelay.sandbox.tiktok.world import LoggedRequest, TikTokWorld

__all__ = [
    "CONTROL_PREFIX",
    "IP_BLOCKED",
    "OK",
    "PRIVATE_ACCOUNT",
    "PRIVATE_POST",
    "REMOVED",
    "Creator",
    "EmulatorControl",
    "Fault",
    "FaultKind",
    "LoggedRequest",
    "Post",
    "PostKind",
    "PostMedia",
    "Slide",
    "TikTokEmulator",
    "TikTokWorld",
]
