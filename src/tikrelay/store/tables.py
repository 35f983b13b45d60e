"""Table definitions (SQLAlchemy Core). Migrations create them; queries import them from here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; timestamptz on PostgreSQL, fixed-width UTC text on SQLite
    (fixed width keeps string comparison in SQL equal to time order)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"aware datetime required, got {value!r}")
        utc: datetime = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"datetime column returned {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ACTIVE = "status IN ('PENDING', 'QUEUED', 'RUNNING')"

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False),
    Column("run_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime),
    Column("worker_id", String(64)),
    Column("dedupe_key", String(300)),
    Column("concurrency_key", String(300)),
    Column("concurrency_limit", Integer, nullable=False, server_default="1"),
    Column("timeout_seconds", Float),
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    Column("error_kind", String(40)),
    Column("error_message", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
)


def _where(condition: str) -> dict[str, Any]:
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


def _only(status: str) -> dict[str, Any]:
    return _where(f"status = '{status}'")


# Every status move writes a new row version with an entry in each index whose predicate it
# matches, so every index but the primary key is partial: a job enters only the ones its
# status (and keys) call for, and completing a plain job touches no index but the key.
# The claim reads QUEUED jobs in exactly this order, so it never sorts; promotion reads PENDING
# jobs by run_at; lease renewal and recovery read RUNNING jobs by worker; limits count running
# jobs per concurrency key; listings of failed or cancelled jobs go newest first.
Index("ix_jobs_queued", jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id, **_only("QUEUED"))
Index("ix_jobs_pending", jobs.c.run_at, **_only("PENDING"))
Index("ix_jobs_running", jobs.c.worker_id, **_only("RUNNING"))
Index(
    "ix_jobs_running_key",
    jobs.c.concurrency_key,
    **_where("status = 'RUNNING' AND concurrency_key IS NOT NULL"),
)
Index("ix_jobs_failed", jobs.c.id, **_only("FAILED"))
Index("ix_jobs_cancelled", jobs.c.id, **_only("CANCELLED"))
# One waiting-or-running job per dedupe key: double clicks and overlapping polls enqueue once.
Index(
    "uq_jobs_dedupe_active",
    jobs.c.dedupe_key,
    unique=True,
    **_where(f"{ACTIVE} AND dedupe_key IS NOT NULL"),
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_job_events_job", "job_id", "id"),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("interval_seconds", Float),
    Column("cron", String(200)),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("active_from", String(5)),
    Column("active_until", String(5)),
    Column("jitter_seconds", Float, nullable=False, server_default="0"),
    Column("next_run_at", UtcDateTime, nullable=False),
    Column("last_run_at", UtcDateTime),
    Column("enabled", Boolean, nullable=False, server_default=true()),
)

# -- the reposter: sources, what they have shown, posts and where each went ----------------

sources = Table(
    "sources",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),  # e.g. tiktok:@alice
    Column("site", String(40), nullable=False),
    Column("handle", String(200), nullable=False),
    Column("native_id", String(200)),  # TikTok's secUid, resolved once
    Column("created_at", UtcDateTime, nullable=False),
    Column("first_polled_at", UtcDateTime),  # None: never read successfully (first sight)
    Column("last_polled_at", UtcDateTime),
    Column("last_error", Text),
    Column("last_poll_seconds", Float),  # how long its last successful poll took
    # Kept up as posts are listed and delivered, so the dashboard never counts the history.
    Column("listed", Integer, nullable=False, server_default="0"),  # posts its polls listed
    Column("delivered", Integer, nullable=False, server_default="0"),  # deliveries of those
)

# Every post a source has listed: "new" means not here yet for that source.
source_posts = Table(
    "source_posts",
    metadata,
    Column("source_id", Id, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("post_key", String(300), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Index("ix_source_posts_post_key", "post_key"),
)

posts = Table(
    "posts",
    metadata,
    Column("key", String(300), primary_key=True),  # site:native id
    Column("site", String(40), nullable=False),
    Column("native_id", String(200), nullable=False),
    Column("kind", String(20)),
    Column("url", Text, nullable=False),
    Column("author", String(200)),
    Column("created_at", UtcDateTime),
    Column("data", JSON),  # what the post page said (text, hashtags, stats, sound)
    Column("first_seen_at", UtcDateTime, nullable=False),
)

# One row per post and destination, written only once Telegram confirmed every message.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("post_key", String(300), nullable=False),
    Column("destination", String(200), nullable=False),
    Column("chat_id", String(100), nullable=False),
    Column("topic_id", Integer),
    Column("message_ids", JSON, nullable=False),
    Column("job_id", Id),
    Column("reconciled", Boolean, nullable=False, server_default=false()),
    Column("delivered_at", UtcDateTime, nullable=False),
    Index("uq_deliveries_post_destination", "post_key", "destination", unique=True),
    Index("ix_deliveries_chat", "chat_id"),
    Index("ix_deliveries_delivered_at", "delivered_at"),
)

# A post a source's filters kept from a destination, with the rules it failed: decided once and
# for good (filters changed later do not send it), written in the transaction that completes
# its job, so that no later job takes it there.
filtered_posts = Table(
    "filtered_posts",
    metadata,
    Column("post_key", String(300), primary_key=True),
    Column("destination", String(200), primary_key=True),
    Column("source", String(300), nullable=False),  # the source's key, e.g. tiktok:@alice
    Column("reason", Text, nullable=False),
    Column("job_id", Id),
    Column("decided_at", UtcDateTime, nullable=False),
    Index("ix_filtered_posts_decided_at", "decided_at"),
)

# Totals per UTC day, kept up in the transaction that does what they count: the dashboard's
# charts and the metrics read a few rows instead of counting the whole history.
# name: delivered (label: destination), bytes_downloaded (label: site), bytes_uploaded
# (label: destination).
tallies = Table(
    "tallies",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("label", String(300), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("value", BigInteger, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
)

# Stage durations per UTC day as histogram buckets, kept up as each STAGE_FINISHED event is
# written: ``bound`` is the smallest bucket bound (``tallies_sql.DURATION_BUCKETS``) the stage's
# seconds are within, or +Inf.
stage_seconds = Table(
    "stage_seconds",
    metadata,
    Column("stage", String(40), primary_key=True),
    Column("bound", String(16), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
)

# Written before each message (or album) is sent and completed when Telegram confirms it, so a
# crash in between is recognised and reconciled on the next attempt instead of re-sent.
send_intents = Table(
    "send_intents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("post_key", String(300), nullable=False),
    Column("destination", String(200), nullable=False),
    Column("part", Integer, nullable=False),
    Column("chat_id", String(100), nullable=False),
    Column("expected", Integer, nullable=False),  # messages this part makes
    Column("parts", Integer, nullable=False),  # parts the post makes at this destination
    Column("after_message_id", BigInteger),  # the chat's newest message id we knew of
    Column("message_ids", JSON),  # None until confirmed
    Column("arrived", JSON),  # ids found by probing before it was confirmed (an album cut short)
    Column("started_at", UtcDateTime, nullable=False),
    Column("confirmed_at", UtcDateTime),
    Index("uq_send_intents_part", "post_key", "destination", "part", unique=True),
)

# -- the catalog: what is watched and where it goes, as the user defined it -----------------
# Apart from `sources` above on purpose: that table is what the reposter learned about a creator
# (secUid, polls, what it listed) and outlives a removal, so that a creator watched again is not
# backfilled twice; these rows are the user's wishes and go when the user removes them.

catalog_destinations = Table(
    "catalog_destinations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("origin", String(16), nullable=False),  # file, cli, bot, web
    Column("settings", JSON, nullable=False),  # a destinations.NAME entry, as in the YAML
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

catalog_sources = Table(
    "catalog_sources",
    metadata,
    Column("key", String(300), primary_key=True),  # e.g. tiktok:@alice
    Column("origin", String(16), nullable=False),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("settings", JSON, nullable=False),  # a sources[] entry, as in the YAML
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Every update the bot took from Telegram, written with its job before the next getUpdates
# confirms it: a restart asks from the newest one on, and an update is never taken twice.
bot_updates = Table(
    "bot_updates",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("job_id", Id),
    Column("user_id", BigInteger),
    Column("chat_id", BigInteger),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_bot_updates_user", "user_id", "received_at"),
)

# Every link a person asked for: the bot's limits count them.
bot_requests = Table(
    "bot_requests",
    metadata,
    Column("job_id", Id, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_bot_requests_user", "user_id", "created_at"),
    Index("ix_bot_requests_chat", "chat_id", "created_at"),
    # A message is one request, however often its update is handled (after a crash, say).
    Index("uq_bot_requests_message", "chat_id", "message_id", unique=True),
)

# The bot's own switches that every process shares (e.g. maintenance mode), by name.
bot_state = Table(
    "bot_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# What Telegram keeps of a post's parts as sent for one preparation profile (the same files for
# every chat that gets it the same way): each part's file ids, so the post is sent again by id,
# with no download and no upload.
telegram_files = Table(
    "telegram_files",
    metadata,
    Column("post_key", String(300), primary_key=True),
    Column("profile", String(200), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # video, album, audio
    Column("file_ids", JSON, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("duration", Float),
    Column("created_at", UtcDateTime, nullable=False),
)

# What a language model wrote for a post (``destinations.NAME.ai_caption``), kept so that a retry,
# a restart or another destination asking the same never asks again. ``prompt_key`` is a
# SHA-256 of the API address, the model and the rendered prompt; nothing secret is stored.
ai_captions = Table(
    "ai_captions",
    metadata,
    Column("post_key", String(300), primary_key=True),
    Column("prompt_key", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("model", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# The people who started the bot (/start), the audience of /broadcast.
bot_users = Table(
    "bot_users",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
)

# Posts a destination's schedule gathers into one catch-up message (schedule.catch_up: digest).
digest_entries = Table(
    "digest_entries",
    metadata,
    Column("destination", String(200), primary_key=True),
    Column("post_key", String(300), primary_key=True),
    Column("url", Text, nullable=False),
    Column("author", String(300), nullable=True),
    Column("published_at", UtcDateTime, nullable=True),
    Column("added_at", UtcDateTime, nullable=False),
    Column("job_id", Id, nullable=True),  # the digest job sending it, once one took it
)

# Failures that need a person (notify:), each notified once per incident.
incidents = Table(
    "incidents",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("kind", String(50), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("detail", Text, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("notified_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
)

# TikTok accounts authorized with tikrelay tiktok-auth: tokens encrypted (TIKRELAY_SECRET_KEY).
tiktok_accounts = Table(
    "tiktok_accounts",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("open_id", String(200), nullable=False),
    Column("scope", Text, nullable=False),
    Column("tokens", Text, nullable=False),
    Column("access_expires_at", UtcDateTime, nullable=False),
    Column("refresh_expires_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# A post's upload to a TikTok destination under way: resumed after a crash, never posted twice.
tiktok_uploads = Table(
    "tiktok_uploads",
    metadata,
    Column("post_key", String(300), primary_key=True),
    Column("destination", String(200), primary_key=True),
    Column("publish_id", String(200), nullable=False),
    Column("upload_url", Text, nullable=True),
    Column("next_chunk", Integer, nullable=False),
    # The plan the upload was initialized with: a resumed upload sends the same chunks.
    Column("video_size", BigInteger, nullable=False),
    Column("chunk_size", BigInteger, nullable=False),
    Column("status", String(50), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
