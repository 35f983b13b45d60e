"""The reposter's vocabulary on a job's timeline: its stages and its own events. The engine's
events are ``domain.jobs.JobEvent``. These names are shown by ``tikrelay jobs show`` (and later
the dashboard): they are an interface, and the docs are checked against them."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """A timed step of a job (STAGE_STARTED / STAGE_FINISHED / STAGE_FAILED carry its name)."""

    FEED_FETCH = "FEED_FETCH"  # poll: the creator's newest posts, one feed request
    METADATA_FETCH = "METADATA_FETCH"  # deliver: one read of the post page
    CAPABILITY_CHECK = "CAPABILITY_CHECK"  # deliver: can it be sent, before any download
    DOWNLOAD = "DOWNLOAD"  # deliver: into the shared media cache
    POSTPROCESS = "POSTPROCESS"  # deliver: Telegram-ready video or JPEG slides
    OUTPUT_VALIDATE = "OUTPUT_VALIDATE"  # deliver: the prepared file probed again
    TELEGRAM_SEND = "TELEGRAM_SEND"  # deliver: every part, exactly once
    ARCHIVE_WRITE = "ARCHIVE_WRITE"  # archive: the media, then metadata.json, to the target
    LINK_EXPAND = "LINK_EXPAND"  # request: a share link followed to the post it leads to
    TIKTOK_UPLOAD = "TIKTOK_UPLOAD"  # publish: the video's chunks sent to TikTok, in order
    TIKTOK_PROCESSING = "TIKTOK_PROCESSING"  # publish: TikTok's status polled until done


class ReposterEvent(StrEnum):
    """What the reposter's jobs write on their timelines besides stages."""

    FEED_LISTED = "FEED_LISTED"  # poll: how many posts the feed listed
    POSTS_CHOSEN = "POSTS_CHOSEN"  # poll: listed, new, queued, left out by backfill
    POST = "POST"  # deliver: the post's kind and number of images
    ALREADY_DELIVERED = "ALREADY_DELIVERED"  # deliver: recorded before, nothing sent
    POST_FILTERED = "POST_FILTERED"  # deliver, archive: the source's filters keep it out, why
    VIDEO_PREPARED = "VIDEO_PREPARED"  # deliver: remuxed or re-encoded for Telegram, and why
    VIDEO_WITHOUT_SOUND = "VIDEO_WITHOUT_SOUND"  # deliver: sent all the same
    RECONCILED = "RECONCILED"  # deliver: what of an unconfirmed send was found in the chat
    SETTLED = "SETTLED"  # deliver: another post's unconfirmed send settled before sending
    SENT = "SENT"  # deliver: every part confirmed, with the message ids
    MEDIA_PRUNED = "MEDIA_PRUNED"  # prune_media: post folders deleted
    ARCHIVED = "ARCHIVED"  # archive: where the post's folder is and its files
    ALREADY_ARCHIVED = "ALREADY_ARCHIVED"  # archive: stored before, nothing written
    ARCHIVE_QUEUED = "ARCHIVE_QUEUED"  # deliver: archive_to gets the post once it is sent
    ARCHIVES_PRUNED = "ARCHIVES_PRUNED"  # prune_archives: posts older than keep_days deleted
    SLIDESHOW_VIDEO = "SLIDESHOW_VIDEO"  # deliver: a slideshow made into one video
    FILE_IDS_REUSED = "FILE_IDS_REUSED"  # deliver: sent by Telegram's file ids, nothing fetched
    FILE_IDS_DROPPED = "FILE_IDS_DROPPED"  # deliver: Telegram refused a stored file id
    AI_CAPTION = "AI_CAPTION"  # deliver: the caption is a language model's, asked now or kept
    AI_CAPTION_FAILED = "AI_CAPTION_FAILED"  # deliver: the template's caption instead, and why
    INCIDENT_NOTIFIED = "INCIDENT_NOTIFIED"  # poll, watch_disk: an incident told, once
    INCIDENT_CLOSED = "INCIDENT_CLOSED"  # poll, watch_disk: a told incident over, "recovered"
    NOTIFIED = "NOTIFIED"  # notify: the message was taken by its channel
    NOTIFICATION_DROPPED = "NOTIFICATION_DROPPED"  # notify: its channel left the settings
    POST_DIGESTED = "POST_DIGESTED"  # deliver: too old for its slot, gathered for a digest
    DIGEST_SENT = "DIGEST_SENT"  # digest: one message listing the gathered posts, its ids
    TIKTOK_UPLOAD_STARTED = "TIKTOK_UPLOAD_STARTED"  # publish: initialized, its publish_id
    TIKTOK_CHUNK_UPLOADED = "TIKTOK_CHUNK_UPLOADED"  # publish: one chunk accepted, n of total
    TIKTOK_UPLOAD_RESUMED = "TIKTOK_UPLOAD_RESUMED"  # publish: an earlier attempt's upload goes on
    TIKTOK_PUBLISH_FAILED = "TIKTOK_PUBLISH_FAILED"  # publish: TikTok said FAILED, its reason
    TIKTOK_PUBLISHED = "TIKTOK_PUBLISHED"  # publish: in the account's inbox, or posted
