"""The JSON shapes of ``/api/posts``, ``/api/deliveries``, ``/api/stats`` and
``/api/requests``."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from tikrelay.domain.posts import PostKind
from tikrelay.store.web_sql import DeliveryRecord, PostRecord, Stats


class DeliveryOut(BaseModel):
    """One post at one destination, recorded once Telegram confirmed every message."""

    id: int
    post: str = Field(description="The post's key, site:id.")
    destination: str
    chat_id: str
    topic_id: int | None
    message_ids: list[int]
    job_id: int | None
    reconciled: bool = Field(description="Found in the chat after a crash, not confirmed.")
    delivered_at: datetime

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryOut:
        return cls(
            id=record.id,
            post=record.post,
            destination=record.destination,
            chat_id=record.chat_id,
            topic_id=record.topic_id,
            message_ids=record.message_ids,
            job_id=record.job_id,
            reconciled=record.reconciled,
            delivered_at=record.delivered_at,
        )


class DeliveryPageOut(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )


class PostOut(BaseModel):
    """A post whose page tikrelay read, and where it was delivered."""

    key: str = Field(description="site:id, e.g. tiktok:7301234567890123456.")
    site: str
    id: str
    kind: PostKind | None
    url: str
    author: str | None
    text: str | None
    posted_at: datetime | None
    first_seen_at: datetime
    deliveries: list[DeliveryOut]
    thumbnail_url: str | None = Field(
        description="The post's picture, relative to this server (/thumbnails/{site}/{id}; "
        "it needs the token too): from the media cache, or from an archive destination the "
        "post was archived to. Null when neither has one (a sound in an archive has none)."
    )

    @classmethod
    def of(cls, record: PostRecord, thumbnail_url: str | None = None) -> PostOut:
        known = {kind.value for kind in PostKind}
        return cls(
            key=record.key,
            site=record.site,
            id=record.native_id,
            kind=PostKind(record.kind) if record.kind in known else None,
            url=record.url,
            author=record.author,
            text=record.text,
            posted_at=record.posted_at,
            first_seen_at=record.first_seen_at,
            deliveries=[DeliveryOut.of(d) for d in record.deliveries],
            thumbnail_url=thumbnail_url,
        )


class PostPageOut(BaseModel):
    posts: list[PostOut]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )


class DayOut(BaseModel):
    day: date
    delivered: int
    failed: int = Field(description="Jobs that failed for good and finished that day.")


class SourceStatsOut(BaseModel):
    key: str
    listed: int = Field(description="Posts its polls listed.")
    delivered: int = Field(description="Deliveries of those posts, to any destination.")
    last_polled_at: datetime | None
    last_error: str | None


class DestinationStatsOut(BaseModel):
    name: str
    delivered: int
    last_delivered_at: datetime | None


class StatsOut(BaseModel):
    """Per UTC day (oldest first), per source, per destination, failures by error kind."""

    days: list[DayOut]
    sources: list[SourceStatsOut]
    destinations: list[DestinationStatsOut]
    failures: dict[str, int] = Field(
        description="Jobs that failed for good, by error kind (as long as jobs are kept)."
    )

    @classmethod
    def of(cls, found: Stats) -> StatsOut:
        days = [
            DayOut(day=day, delivered=sent, failed=lost)
            for day, sent, lost in zip(found.days, found.delivered, found.failed, strict=True)
        ]
        return cls(
            days=days,
            sources=[
                SourceStatsOut(
                    key=s.key,
                    listed=s.listed,
                    delivered=s.delivered,
                    last_polled_at=s.last_polled_at,
                    last_error=s.last_error,
                )
                for s in found.sources
            ],
            destinations=[
                DestinationStatsOut(
                    name=d.name, delivered=d.delivered, last_delivered_at=d.last_delivered_at
                )
                for d in found.destinations
            ],
            failures=found.failures,
        )


class RequestIn(BaseModel):
    """A link to deliver: a TikTok post, or a page or file of any site yt-dlp reads."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="http(s) link to a post.")
    destination: str | None = Field(
        default=None, min_length=1, max_length=200, description="A destination's name."
    )
    chat_id: int | str | None = Field(
        default=None,
        description="Instead of destination: the chat of a destination (its one destination).",
    )


class RequestOut(BaseModel):
    job_id: int = Field(description="The delivery job: follow it at /api/jobs/{job_id}.")
    new_job: bool = Field(description="False when the post was already on its way there.")
    post: str
    destination: str
    delivered_before: bool = Field(
        description="The post is there already: the job completes without sending it again."
    )
