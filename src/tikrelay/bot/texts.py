"""What the bot says."""

from __future__ import annotations

from tikrelay.domain.errors import ErrorKind

#: The reaction on a link while its media is on the way.
WORKING = "👀"
#: The button under a video that sends its sound.
SOUND = "🎵 Sound"
SOUND_COMING = "The sound is on its way."
#: The button under a linked video that sends its sound alone.
AUDIO_ONLY = "🎵 Audio only"
QUALITY_COMING = "On its way."

START = (
    "Hi! Send me a link to a TikTok video or photo slideshow, or to a video on another site, "
    "and I answer with it, ready to play and without a watermark."
)
HELP = (
    "Send a TikTok link such as https://www.tiktok.com/@name/video/1234567890123456789: a video "
    "comes back as a video, a slideshow as albums of photos with its sound. Links to YouTube, "
    "Archive.org, Facebook and many other sites work too, and so do links to video and audio "
    "files: the buttons under a video offer other qualities and the sound alone."
)
NO_LINK = (
    "Send me a link to a TikTok video or slideshow, or to another video, and I send you the media."
)
NOT_FETCHED = "I only fetch http:// and https:// links to public sites: not this one."

FAILURES: dict[ErrorKind, str] = {
    ErrorKind.PRIVATE: "This post is private: I cannot fetch it.",
    ErrorKind.DELETED: "This post was deleted or does not exist.",
    ErrorKind.GEO_BLOCK: "This post is not available in the region I fetch from.",
    ErrorKind.SIZE_LIMIT: "This post is too large to send here.",
    ErrorKind.UNSUPPORTED: "I found nothing I can send at this link.",
    ErrorKind.PROTECTED: NOT_FETCHED,  # a link, or a redirect, to a private or local address
    ErrorKind.FORMAT_NOT_FOUND: "This post offers nothing I can send without a watermark.",
    ErrorKind.RATE_LIMIT: "Too many requests right now: please try again in a few minutes.",
}
TRY_LATER = "Something went wrong while fetching this post: please try again later."


def failure(kind: ErrorKind) -> str:
    """A short, friendly reason for a request that failed for good."""
    return FAILURES.get(kind, TRY_LATER)


SUBSCRIBE_USAGE = (
    "Use /subscribe @creator here (in a group or topic), or /subscribe @creator @channel in a "
    "private chat with me."
)
UNSUBSCRIBE_USAGE = (
    "Use /unsubscribe @creator here, or /unsubscribe @creator @channel in a private chat with me."
)
NEEDS_CHANNEL = "In a private chat, name the channel too: /subscribe @creator @channel"
ONLY_ADMINS = "Only the administrators of that chat can change its subscriptions."
CANNOT_SEE_CHAT = (
    "I cannot see that chat: add me to it (as an administrator in a channel) and try again."
)
SUBSCRIBED = "Subscribed: new posts of @{creator} will arrive {where}."
ALREADY_SUBSCRIBED = "@{creator} is subscribed {where} already."
UNSUBSCRIBED = "Unsubscribed: no more posts of @{creator} {where}."
NOT_SUBSCRIBED = "@{creator} is not subscribed {where}."
FROM_FILE = "@{creator} is set in the config file: change it there."
NO_SUBSCRIPTIONS = "No subscriptions {where} yet. Add one with /subscribe @creator."
SUBSCRIPTIONS = "Subscriptions {where}:"
READ_ONLY = "(config file)"
PAUSED = "(paused)"

ADMINS_ONLY = "This command is for the bot's admins."
MAINTENANCE = "I am being serviced right now: please send your link again in a little while."
MAINTENANCE_ON = "Maintenance mode is on: new requests get a polite refusal."
MAINTENANCE_OFF = "Maintenance mode is off: requests are answered again."
MAINTENANCE_USAGE = "Use /maintenance on or /maintenance off."
JOB_USAGE = "Use /{command} JOB_ID, such as /{command} 42."
NO_JOB = "There is no job {job_id}."
RETRIED = "Job {job_id} will run again as job {new_id}."
DUE_NOW = "Job {job_id} is due now."
NOT_RETRYABLE = "Job {job_id} is {status}: only failed, cancelled or waiting jobs can be retried."
CANCELLED = "Job {job_id} is cancelled."
STOPPING = "Job {job_id} is running: its worker will stop it."
NOT_CANCELLABLE = "Job {job_id} is {status} already: nothing to cancel."
CREATOR_USAGE = "Use /{command} @creator."
BROADCAST_USAGE = "Use /broadcast TEXT: the text goes to everyone who started the bot."
BROADCAST_QUEUED = "Broadcast queued as job {job_id}, to {people} people."
BROADCAST_DONE = (
    "Broadcast job {job_id} done: sent to {sent} of {people} people ({failed} could not get it)."
)
PAUSED_SOURCE = "Paused {key}: it is not polled until /resume."
RESUMED_SOURCE = "Resumed {key}: it is polled again."
UNCHANGED_SOURCE = "{key} was {state} already."

ACTIVE_LIMIT = (
    "You have {count} requests on the way already: send this link again once one of them has "
    "arrived."
)
USER_HOURLY = "You made {count} requests this hour: try again in {minutes} min."
CHAT_HOURLY = "This chat made {count} requests this hour: try again in {minutes} min."
GLOBAL_LIMIT = "I am very busy right now: please try again in a few minutes."
SPAM = "That is a lot of messages at once: I will read yours again in {seconds} s."

HERE = "here"
IN_CHAT = "in {chat}"
LANG_USAGE = "Choose my language with /lang CODE, one of: {languages}."
LANG_SET = "I speak English with you from now on."

ARCHIVE_ON = "Archiving is on: what I send in this chat is also kept in the archive."
ARCHIVE_OFF = "Archiving is off for this chat."
NO_ARCHIVE = "This bot has no archive set up (bot.archive_to in its configuration)."

SETTINGS = (
    "Your settings: format {format}, caption {caption}. Change them with /settings format "
    "video (or document, or audio) and /settings caption on (or off)."
)
