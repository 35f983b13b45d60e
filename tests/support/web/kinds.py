"""Job kinds that end each way a real job ends, run by the real worker."""

from __future__ import annotations

from typing import Any

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.store.relay import record_delivery

#: The Telegram-style wait the ``limited`` kind asks for once, in seconds.
RETRY_AFTER = 0.3

kinds = Registry()


@kinds.handler("greet")
async def greet(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.stage("compose"):
        await ctx.event("GREETING_COMPOSED", name=payload.get("name", "?"))


@kinds.handler("refused", max_attempts=3)
async def refused(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise TikrelayError(ErrorKind.DELETED, "the post was deleted")


@kinds.handler("limited", max_attempts=3)
async def limited(ctx: JobContext, payload: dict[str, Any]) -> None:
    if ctx.attempt == 1:  # as the Telegram sender raises a 429 it does not wait out itself
        raise TikrelayError(ErrorKind.RATE_LIMIT, "flood wait", retry_after=RETRY_AFTER)


@kinds.handler("send")
async def send(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Records a delivery with its completion, as the reposter's deliver jobs do."""
    job_id = ctx.job.id

    def delivered(conn: Any) -> None:
        record_delivery(
            conn,
            post_key=payload["post"],
            destination=payload["destination"],
            chat_id="-100123",
            topic_id=None,
            message_ids=[job_id],
            job_id=job_id,
            reconciled=False,
            now=ctx.job.created_at,
        )

    ctx.on_complete(delivered)


async def drain(runtime: Any) -> None:
    """Run every due job with the real worker until none is left (retries due soon included)."""
    from tikrelay.engine.worker import Worker

    await Worker(runtime.service, concurrency=2, drain=True).run()
