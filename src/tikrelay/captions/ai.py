"""Captions written by a language model behind an OpenAI-compatible chat completions API.

One request per post (and prompt), never retried: a caption is not worth delaying a post for,
so any failure (no answer in time, a refusal, an answer without text) is reported as an
``AiCaptionError`` whose message is safe to store and show: it never holds the API key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from typing import Any

import aiohttp

from tikrelay.config.logging import REDACTED, redact_text
from tikrelay.config.settings import AiCaptionSettings

#: How much of a refusal's body is quoted in the reason.
_QUOTED = 200


class AiCaptionError(Exception):
    """No AI caption this time; the message says why, without secrets."""


def cache_key(settings: AiCaptionSettings, prompt: str) -> str:
    """What an AI caption depends on besides the post: the same key, the same caption."""
    material = json.dumps([settings.base_url, settings.model, prompt], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def api_key(settings: AiCaptionSettings) -> str:
    """The key from the environment variable ``api_key_env`` names."""
    key = os.environ.get(settings.api_key_env, "").strip()
    if not key:
        raise AiCaptionError(f"the environment variable {settings.api_key_env} is not set")
    return key


def read_reply(body: Any) -> str:
    """The text of a chat completion: ``choices[0].message.content``, trimmed."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise AiCaptionError("the answer has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise AiCaptionError("choices[0].message.content is not text")
    text = content.strip()
    if not text:
        raise AiCaptionError("the answer's text is empty")
    return text


async def ask(settings: AiCaptionSettings, prompt: str) -> str:
    """The model's answer to ``prompt``: one attempt within ``timeout_seconds``."""
    key = api_key(settings)
    url = f"{settings.base_url}/chat/completions"
    try:
        return await _ask(settings, prompt, key, url)
    except AiCaptionError as exc:  # a refusal may quote what it was sent, the key included
        raise AiCaptionError(redact_text(str(exc).replace(key, REDACTED))) from None


async def _ask(settings: AiCaptionSettings, prompt: str, key: str, url: str) -> str:
    request = {"model": settings.model, "messages": [{"role": "user", "content": prompt}]}
    timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=request, headers={"Authorization": f"Bearer {key}"}) as answer,
        ):
            if answer.status >= 300:
                quoted = (await answer.text(errors="replace"))[:_QUOTED].strip()
                raise AiCaptionError(
                    f"HTTP {answer.status} from {url}" + (f": {quoted}" if quoted else "")
                )
            try:
                body = await answer.json(content_type=None)
            except ValueError:
                raise AiCaptionError(f"the answer from {url} is not JSON") from None
    except TimeoutError:
        raise AiCaptionError(
            f"no answer from {url} within {settings.timeout_seconds:g} s"
        ) from None
    except aiohttp.ClientError as exc:
        raise AiCaptionError(f"request to {url} failed: {type(exc).__name__}") from None
    except asyncio.CancelledError:
        raise
    text = read_reply(body)
    if key in text:  # an echoing server must not carry the key into a chat
        raise AiCaptionError("the answer repeats the API key")
    return text
