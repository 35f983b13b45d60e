"""What ``tikrelay doctor`` reports about a Telegram destination, from getChat and getChatMember.

Each problem is one sentence that says what to change (in Telegram or in the configuration).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from telegram import (
    ChatFullInfo,
    ChatMember,
    ChatMemberAdministrator,
    ChatMemberOwner,
    ChatMemberRestricted,
    ChatPermissions,
)

from tikrelay.destinations.target import ChatTarget

GENERAL_TOPIC_ID = 1
# What tikrelay posts, as (right in ChatMemberRestricted / ChatPermissions, what Telegram calls it).
_SEND_RIGHTS = (
    ("can_send_videos", "videos"),
    ("can_send_photos", "photos"),
    ("can_send_audios", "audios"),
)
TOPIC_NOTE = (
    "the topic was checked with a 'typing' chat action, the only read-only way the Bot API "
    "offers; it posts nothing, but members of the topic may see 'typing…' for a few seconds"
)
PRIVATE_NOTE = (
    "a private chat: the person must have started the bot; if they blocked it, Telegram only "
    "says so when a message is sent"
)


@dataclass(frozen=True)
class DestinationCheck:
    """The outcome for one destination: ``ok`` when there is nothing to fix."""

    target: ChatTarget
    chat_title: str | None
    chat_type: str | None
    bot_status: str | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def with_problem(self, problem: str) -> DestinationCheck:
        return dataclasses.replace(self, problems=(*self.problems, problem))


def assess_destination(
    target: ChatTarget, chat: ChatFullInfo, member: ChatMember | None, problems: list[str]
) -> DestinationCheck:
    """Judge the bot's membership and rights in ``chat`` and the configured topic."""
    found = list(problems)
    notes: list[str] = []
    name = _name(chat)
    if chat.type == "private":
        notes.append(PRIVATE_NOTE)
    elif member is not None:
        problem = (
            _channel_problem(name, member)
            if chat.type == "channel"
            else _group_problem(name, member, chat.permissions)
        )
        if problem is not None:
            found.append(problem)
    if target.topic_id is not None:
        if not chat.is_forum:
            found.append(
                f"{name} is not a forum, so topic_id {target.topic_id} cannot be used: "
                "remove topic_id, or turn topics on in the group"
            )
        elif target.topic_id == GENERAL_TOPIC_ID:
            found.append(
                f"topic 1 is the General topic of {name}, which Telegram reaches without a "
                "topic: leave topic_id out"
            )
        else:
            notes.append(TOPIC_NOTE)
    status = member.status if member is not None else None
    return DestinationCheck(target, chat.title, chat.type, status, tuple(found), tuple(notes))


def _name(chat: ChatFullInfo) -> str:
    label = f"'{chat.title}'" if chat.title else f"@{chat.username}" if chat.username else ""
    kind = "channel" if chat.type == "channel" else "group"
    return f"{kind} {label} ({chat.id})" if label else f"{kind} {chat.id}"


def _channel_problem(name: str, member: ChatMember) -> str | None:
    if isinstance(member, ChatMemberOwner):
        return None
    if isinstance(member, ChatMemberAdministrator):
        if member.can_post_messages:
            return None
        return (
            f"the bot is an administrator of {name} without the right to post: turn on "
            "'Post messages' for it"
        )
    return (
        f"the bot is not an administrator of {name} (it is '{member.status}'): add it as an "
        "administrator with 'Post messages'"
    )


def _group_problem(
    name: str, member: ChatMember, permissions: ChatPermissions | None
) -> str | None:
    if member.status in ("left", "kicked"):
        return f"the bot is not a member of {name} (it is '{member.status}'): add it to the group"
    if isinstance(member, ChatMemberRestricted):
        missing = [noun for right, noun in _SEND_RIGHTS if not getattr(member, right)]
        if missing:
            return (
                f"the bot is restricted in {name} and may not send {', '.join(missing)}: "
                "lift those restrictions or make it an administrator"
            )
    elif member.status == "member" and permissions is not None:
        missing = [noun for right, noun in _SEND_RIGHTS if getattr(permissions, right) is False]
        if missing:
            return (
                f"members of {name} may not send {', '.join(missing)}, the bot included: allow "
                "them, or make the bot an administrator"
            )
    return None
