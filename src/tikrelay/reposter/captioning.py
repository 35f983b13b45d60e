"""A post's caption for one destination: the template's, or (with ``ai_caption``) a language
model's text followed by the template's author line. The model is asked once per post and
prompt: its answer is stored at once, so a retry, a restart or another destination with the same
prompt reuses it. When it fails the template's caption is used and the timeline says why: a
caption is never a reason not to deliver."""

from __future__ import annotations

import asyncio
import time
from zoneinfo import ZoneInfo

from tikrelay.captions import CaptionTemplateError, render_ai_caption, render_caption, render_prompt
from tikrelay.captions.ai import AiCaptionError, ask, cache_key
from tikrelay.config.settings import DestinationSettings
from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.posts import Post
from tikrelay.reposter.ledger import Ledger
from tikrelay.store import ai_captions_sql

#: How long a failed answer stands for the other destinations of the same post and prompt: they
#: waited for the first attempt and take its failure instead of waiting as long again each.
FAILURE_MEMORY = 60.0


class Captions:
    """Captions for the deliver jobs of one process."""

    def __init__(self) -> None:
        # Jobs for other destinations of the same post run side by side: the first asks the
        # model, the others wait and read what it stored (or take its failure, for a minute).
        self._asking: dict[str, asyncio.Lock] = {}
        self._failed: dict[str, tuple[float, str]] = {}

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
        asked = f"{post.key}:{key}"
        lock = self._asking.setdefault(asked, asyncio.Lock())
        try:
            async with lock:
                text = await ledger.run(ai_captions_sql.cached_caption, post.key, key)
                cached = text is not None
                if text is None:
                    self._forget_old_failures()
                    if asked in self._failed:
                        raise AiCaptionError(f"{self._failed[asked][1]} (a moment ago)")
                    try:
                        text = await ask(ai, prompt)
                    except AiCaptionError as exc:
                        self._failed[asked] = (time.monotonic(), str(exc))
                        raise
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
                self._asking.pop(asked, None)
        await ledger.event(ReposterEvent.AI_CAPTION, model=ai.model, cached=cached, chars=len(text))
        return render_ai_caption(post, text, dest.caption, link=dest.link, tz=tz)

    def _forget_old_failures(self) -> None:
        now = time.monotonic()
        for asked, (at, _) in list(self._failed.items()):
            if now - at > FAILURE_MEMORY:
                del self._failed[asked]
