"""A job kind for the chaos test: each job appends one effect row, written in the transaction
that completes the job (exactly what a Telegram Delivery record will do)."""

from __future__ import annotations

import asyncio

from sqlalchemy import Column, Connection, Integer, MetaData, Table, insert

from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry

registry = Registry()
effects = Table(
    "chaos_effects",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
)


@registry.handler("append-effect")
async def append_effect(ctx: JobContext, payload: dict[str, float]) -> None:
    await asyncio.sleep(payload.get("sleep", 0.0))  # time for a kill to land mid-job

    def write(conn: Connection) -> None:
        conn.execute(insert(effects).values(job_id=ctx.job.id))

    ctx.on_complete(write)
