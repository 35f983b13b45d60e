"""Database engine, tables, migrations, repositories and the job queue's SQL."""

from tikrelay.store.database import open_engine, open_queue
from tikrelay.store.engine import DatabaseError
from tikrelay.store.queue import CommitHook, Completion, HeldEvent, JobQueue
from tikrelay.store.queue_sql import ClaimLimits, Enqueued, NewJob

__all__ = [
    "ClaimLimits",
    "CommitHook",
    "Completion",
    "DatabaseError",
    "Enqueued",
    "HeldEvent",
    "JobQueue",
    "NewJob",
    "open_engine",
    "open_queue",
]
