"""The emulated world: people, chats with the bot's membership, topics, messages and the record."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tikrelay.sandbox.telegram.errors import CHAT_NOT_FOUND, THREAD_NOT_FOUND, bad_request

ChatKind = Literal["private", "group", "supergroup", "channel"]
MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]

CHAT_KINDS: tuple[str, ...] = ("private", "group", "supergroup", "channel")
MEMBER_STATUSES: tuple[str, ...] = (
    "creator",
    "administrator",
    "member",
    "restricted",
    "left",
    "kicked",
)
# Telegram's six allowed topic icon colours; the first is its default.
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
GENERAL_TOPIC_ID = 1


@dataclass
class User:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    is_bot: bool = False
    language_code: str | None = "en"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if not self.is_bot and self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class Topic:
    message_thread_id: int
    name: str
    icon_color: int = TOPIC_COLORS[0]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Chat:
    """A chat and the bot's place in it (``bot_status`` and the admin or restriction ``rights``)."""

    id: int
    kind: ChatKind
    title: str | None = None
    username: str | None = None
    forum: bool = False
    bot_status: MemberStatus = "administrator"
    rights: dict[str, bool] = field(default_factory=dict)
    person: User | None = None
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, MemberStatus] = field(default_factory=dict)
    next_message_id: int = 1

    @property
    def is_group(self) -> bool:
        """Groups and channels share the 20-messages-per-minute flood limit."""
        return self.kind != "private"

    def right(self, name: str) -> bool:
        """An admin right (for administrators) or a permission (for restricted members)."""
        if self.bot_status == "creator":
            return True
        if self.bot_status in ("administrator", "restricted"):
            return self.rights.get(name, True)
        return self.bot_status == "member"

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.kind}
        if self.kind == "private" and self.person is not None:
            data.update(
                {k: v for k, v in self.person.to_json().items() if k in _PRIVATE_CHAT_FIELDS}
            )
            data["id"] = self.id
        else:
            data["title"] = self.title or f"{self.kind.title()} {abs(self.id)}"
        if self.username:
            data["username"] = self.username
        if self.forum:
            data["is_forum"] = True
        return data


_PRIVATE_CHAT_FIELDS = ("first_name", "last_name", "username")


@dataclass(frozen=True)
class FileRecord:
    """An uploaded (or ``file://``) file as received: its part name, size and content hash."""

    part: str
    size: int
    sha256: str
    file_name: str | None = None
    source: str = "upload"  # "upload", "file_id" (sent again) or "local" (a file:// path)


@dataclass
class CallRecord:
    """One call the emulator answered, accepted or refused."""

    method: str
    time: float
    status: int = 200
    error: str | None = None
    chat_id: int | str | None = None
    thread_id: int | None = None
    kind: str | None = None
    text: str | None = None
    caption: str | None = None
    files: list[FileRecord] = field(default_factory=list)
    media_group_id: str | None = None
    message_ids: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class World:
    """Every chat, person and call; the one place ids are handed out.

    Test code may read and change the world from another thread while the server runs (the
    ``running()`` mode), so mutations take a lock; handlers never hold it across an ``await``.
    """

    def __init__(self, bot: User) -> None:
        self.bot = bot
        self.lock = threading.RLock()
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.record: list[CallRecord] = []
        self.commands: list[dict[str, Any]] = []
        self._user_ids = itertools.count(1_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._channel_ids = itertools.count(1_000_000_001)

    def add_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> User:
        with self.lock:
            user = User(
                user_id or next(self._user_ids), first_name, username, language_code=language_code
            )
            self.users[user.id] = user
            return user

    def add_chat(self, kind: ChatKind, **options: Any) -> Chat:
        if kind not in CHAT_KINDS:
            raise ValueError(f"chat kind must be one of {CHAT_KINDS}, not {kind!r}")
        if options.get("bot_status", "administrator") not in MEMBER_STATUSES:
            raise ValueError(f"bot_status must be one of {MEMBER_STATUSES}")
        if options.get("forum") and kind != "supergroup":
            raise ValueError("only supergroups can be forums")
        with self.lock:
            chat_id = options.pop("chat_id", None) or self._new_chat_id(kind, options)
            chat = Chat(chat_id, kind, **options)
            if chat.forum:
                chat.next_message_id = GENERAL_TOPIC_ID + 1  # id 1 is the General topic
            self.chats[chat.id] = chat
            return chat

    def _new_chat_id(self, kind: ChatKind, options: dict[str, Any]) -> int:
        if kind == "private":
            person = options.get("person") or self.default_user()
            options["person"] = person
            options.setdefault("bot_status", "member")
            return int(person.id)
        if kind == "group":
            return -next(self._group_ids)
        return -(10**12 + next(self._channel_ids))

    def chat(self, chat_id: int | str) -> Chat:
        """The chat by id or ``@username``, or 400 "chat not found"."""
        with self.lock:
            if isinstance(chat_id, str):
                name = chat_id.removeprefix("@").lower()
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == name:
                        return chat
            elif chat_id in self.chats:
                return self.chats[chat_id]
        raise bad_request(CHAT_NOT_FOUND)

    def user(self, user_id: int) -> User:
        with self.lock:
            if user_id == self.bot.id:
                return self.bot
            if user_id not in self.users:
                raise bad_request("user not found")
            return self.users[user_id]

    def default_user(self) -> User:
        """The person who acts when a test names nobody: the first one added, or Alice."""
        with self.lock:
            if not self.users:
                return self.add_user("Alice", username="alice")
            return next(iter(self.users.values()))

    def add_record(self, record: CallRecord) -> None:
        with self.lock:
            self.record.append(record)


def resolve_thread(chat: Chat, thread_id: int | None) -> int | None:
    """The topic a message goes to; the General topic (id 1) must be reached by omitting it."""
    if thread_id is None:
        return None
    if chat.forum and thread_id in chat.topics:
        return thread_id
    raise bad_request(THREAD_NOT_FOUND)


def post_message(
    world: World,
    chat: Chat,
    sender: User,
    thread_id: int | None,
    content: dict[str, Any],
) -> dict[str, Any]:
    """Store a new message in ``chat`` and return its Bot API form."""
    with world.lock:
        message: dict[str, Any] = {"message_id": chat.take_message_id()}
        if chat.kind == "channel":
            message["sender_chat"] = chat.to_json()
        else:
            message["from"] = sender.to_json()
        message["chat"] = chat.to_json()
        message["date"] = int(time.time())
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        message.update(content)
        chat.messages[message["message_id"]] = message
        return copy.deepcopy(message)
