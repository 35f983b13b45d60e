"""Identifiers shaped like TikTok's, so code that validates them sees what production sees."""

from __future__ import annotations

import random
import string

# yt-dlp's TikTokUserIE recognises a secUid by exactly this prefix plus 64 URL-safe characters.
SEC_UID_PREFIX = "MS4wLjABAAAA"
_SEC_UID_ALPHABET = string.ascii_letters + string.digits + "-_"


def post_id(create_time: int, rng: random.Random) -> str:
    """A 19-digit id: like TikTok's, the creation second sits in the high 32 bits."""
    return str((create_time << 32) | rng.getrandbits(32))


def user_id(rng: random.Random) -> str:
    """A 19-digit numeric account id in the range TikTok has handed out since 2020."""
    return str(rng.randint(6_800_000_000_000_000_000, 7_400_000_000_000_000_000))


def sec_uid(rng: random.Random) -> str:
    return SEC_UID_PREFIX + "".join(rng.choices(_SEC_UID_ALPHABET, k=64))


def token(rng: random.Random, length: int = 32) -> str:
    """An opaque URL-safe token (cookie values, CDN object keys)."""
    return "".join(rng.choices(string.ascii_letters + string.digits, k=length))


def sound_id(rng: random.Random) -> str:
    """A 19-digit sound (``music``) id."""
    return str(rng.randint(6_800_000_000_000_000_000, 7_400_000_000_000_000_000))


def install_id(rng: random.Random) -> str:
    """A 19-digit install id (``iid``), as the TikTok app gets one from TikTok."""
    return str(rng.randint(7_200_000_000_000_000_000, 7_400_000_000_000_000_000))
