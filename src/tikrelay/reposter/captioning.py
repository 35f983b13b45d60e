"""A post's caption for one destination: the template's, or (with ``ai_caption``) a language
model's text followed by the template's author line. The model is asked once per post and
prompt: its answer is stored at once, so a retry, a restart or another destination with the same
prompt reuses it. When it fails the template's caption is used and the timeline says why: a
caption is never a reason not to deliver."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from tikrelay.captions import CaptionTemplateError, render_ai_caption, render_caption, render_prompt
from tikrelay.captions.ai import AiCaptionError, ask, cache_key
from tikrelay.config.settings import DestinationSettings
from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.posts import Post
from tikrelay.reposter.ledger import Ledger
from tikrelay.store import ai_captions_sql


class Captions:
    """Captions for the deliver jobs of one process."""

    def __init__(self) -> None:
        # Jobs for other destinations of the same post run side by side: the first asks the
        # model, the others wait and read what it stored.
        self._asking: dict[str, asyncio.Lock] = {}

    async def caption(self, ledger: Ledger, post: Post, dest: DestinationSettings) -> str:
        tz = ZoneInfo(dest.zone)
        ai = dest.ai_caption
        if ai is None:
            return render_caption(post, dest.caption, link=dest.link, tz=tz)
        try:
            prompt = render_prompt(post, ai.prompt, tz)
        except CaptionTemplateError as exc:
            await ledger.event(ReposterEvent.AI_CAPTION_FAILED, reason=f"prompt: {exc}")
            return render_caption(post, dest.caption, link=dest.link, tz=tz)
        key = cache_key(ai, prompt)
        lock = self._asking.setdefault(f"{post.key}:{key}", asyncio.Lock())
        try:
            async with lock:
                text = await ledger.run(ai_captions_sql.cached_caption, post.key, key)
                cached = text is not None
                if text is None:
                    text = await ask(ai, prompt)
                    await ledger.run(
                        ai_captions_sql.remember_caption,
                        post.key,
                        key,
                        text,
                        ai.model,
                        ledger.now(),
                    )
        except AiCaptionError as exc:
            await ledger.event(ReposterEvent.AI_CAPTION_FAILED, reason=str(exc))
            return render_caption(post, dest.caption, link=dest.link, tz=tz)
        finally:
            if not lock.locked():
                self._asking.pop(f"{post.key}:{key}", None)
        await ledger.event(ReposterEvent.AI_CAPTION, model=ai.model, cached=cached, chars=len(text))
        return render_ai_caption(post, text, dest.caption, link=dest.link, tz=tz)
