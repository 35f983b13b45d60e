"""TikTok's WAF JavaScript challenge: a small proof of work whose answer comes back as a cookie.

The page carries ``<p id="cs" class="BASE64JSON">`` with ``v.a`` (a base) and ``v.c`` (the
SHA-256 of base + a decimal number). A browser (or yt-dlp's ``_solve_challenge_and_set_cookies``)
finds the number, adds it as ``d`` and returns the whole JSON, base64-encoded, in the cookie named
by ``<p id="wci" class="...">``; ``rci``/``rs`` name an optional second cookie and its value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
from dataclasses import dataclass

COOKIE_NAME = "_wafchallengeid"
REQUEST_COOKIE_NAME = "waforiginalreid"
# Real challenges take a browser a moment; this bound keeps solving well under a millisecond.
MAX_ANSWER = 1000


@dataclass(frozen=True)
class Challenge:
    base: bytes
    digest: bytes
    request_id: str

    @property
    def data(self) -> str:
        """The ``cs`` payload: base64 JSON with the padding stripped, as TikTok sends it."""
        payload = {
            "v": {
                "a": base64.b64encode(self.base).decode(),
                "c": base64.b64encode(self.digest).decode(),
            },
            "s": self.request_id,
        }
        return base64.b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def new_challenge(rng: random.Random) -> Challenge:
    base = rng.randbytes(16)
    answer = rng.randrange(MAX_ANSWER)
    digest = hashlib.sha256(base + str(answer).encode()).digest()
    return Challenge(base, digest, request_id=rng.randbytes(12).hex())


def render_page(challenge: Challenge) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Please wait...</title></head>'
        "<body><p>Please wait...</p>"
        f'<p id="wci" class="{COOKIE_NAME}"></p>'
        f'<p id="rci" class="{REQUEST_COOKIE_NAME}"></p>'
        f'<p id="rs" class="{challenge.request_id}"></p>'
        f'<p id="cs" class="{challenge.data}"></p>'
        '<script src="https://sf16-website-login.neutral.ttwstatic.com/obj/tiktok_web_login_static'
        '/waf/challenge.js"></script></body></html>'
    )


def solution_base(cookie_value: str) -> bytes | None:
    """The base of the challenge a cookie correctly answers, or None if it answers nothing."""
    try:
        data = json.loads(base64.b64decode(cookie_value + "==="))
        base = base64.b64decode(data["v"]["a"])
        digest = base64.b64decode(data["v"]["c"])
        number = base64.b64decode(data["d"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if not number.isdigit() or hashlib.sha256(base + number).digest() != digest:
        return None
    return base
