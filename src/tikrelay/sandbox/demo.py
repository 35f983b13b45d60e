"""The demo world of ``tikrelay sandbox``: both emulators, a few creators and chats, people who
write to the bot, a complete config for the reposter, and what arrived in the chats, in one
loop."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.sandbox.tiktok import PostKind, TikTokEmulator, TikTokWorld

# A made-up token the emulator accepts; it is fixed so that the printed config stays valid.
SANDBOX_TOKEN = "1000000001:sandbox-token-not-a-secret"  # noqa: S105
DEMO_CHANNEL = "tikrelay_demo"

#: Which demo creator goes to which destination of the written config.
DEMO_ROUTES: dict[str, tuple[str, ...]] = {
    "demo_alice": ("demo_channel",),
    "demo_bob": ("demo_channel", "demo_topic"),
}

#: Message fields that carry what a post became; service messages (a topic created) have none.
_CONTENT_KINDS = ("video", "photo", "audio", "animation", "document", "text")
#: A caption or text is shown up to this many characters, so that each message keeps one line.
_SHOWN_CHARS = 64


@dataclass(frozen=True)
class DemoChat:
    label: str
    chat_id: int
    topic_id: int | None = None
    #: Its name under ``destinations`` in the written config; None when nothing routes there.
    destination: str | None = None


@dataclass(frozen=True)
class SandboxInfo:
    """What a user needs to point tikrelay (or any client) at the running emulators."""

    tiktok_proxy: str
    tiktok_control: str
    telegram_url: str
    telegram_control: str
    token: str
    ca_file: Path
    config_file: Path
    state_dir: Path
    #: The bot's config: the same but for ``bot_state_dir``, a database of its own, because a
    #: bot on the reposter's database would also run the jobs of a ``run --once`` started
    #: beside it, and that run would end with them "not finished yet".
    bot_config_file: Path
    bot_state_dir: Path
    creators: dict[str, int]
    chats: list[DemoChat]
    people: list[DemoPerson]
    #: A post's link for the printed instructions: what to send the bot as a person.
    sample_link: str

    def config_text(self, state_dir: Path | None = None) -> str:
        """A complete config for ``tikrelay run --once`` against the emulators (valid for
        ``load_settings``), with ``state_dir`` or the reposter's. Paths are absolute so that it
        works from any folder."""
        lines = [
            "# tikrelay pointed at the sandbox emulators; `tikrelay sandbox` rewrites this file.",
            f"state_dir: {_scalar(state_dir or self.state_dir)}",
            "telegram:",
            f"  api_url: {_scalar(self.telegram_url)}",
            "network:",
            f"  proxies: [{_scalar(self.tiktok_proxy)}]",
            f"  ca_bundle: {_scalar(self.ca_file)}",
            "destinations:",
        ]
        for chat in self.chats:
            if chat.destination is None:
                continue
            target = f"chat_id: {chat.chat_id}"
            if chat.topic_id is not None:
                target += f", topic_id: {chat.topic_id}"
            lines += [f"  {chat.destination}:  # {chat.label}", f"    telegram: {{{target}}}"]
        lines.append("sources:")
        for creator, names in DEMO_ROUTES.items():
            lines += [f'  - tiktok: "@{creator}"', f"    to: [{', '.join(names)}]"]
        return "\n".join(lines) + "\n"

    def destination_chats(self) -> list[DemoChat]:
        return [chat for chat in self.chats if chat.destination is not None]


@dataclass(frozen=True)
class DemoPerson:
    """Someone who writes to the bot: each line waits for the bot's answer to the one before."""

    name: str
    user_id: int
    #: Their private chat with the bot, or a group they write in.
    chat: DemoChat
    #: What they send, in order; a line starting with ``/`` is a command.
    says: tuple[str, ...]


def _scalar(value: object) -> str:
    # A JSON string is a valid double-quoted YAML scalar, whatever the path holds.
    return json.dumps(str(value))


@dataclass(frozen=True)
class DeliveredMessage:
    """One message as a reader of the chat sees it: an album counts once."""

    kind: str
    items: int
    caption: str
    #: The text of the button under it (the bot's 🎵 Sound), if any.
    button: str | None = None

    def describe(self) -> str:
        what = self.kind if self.items == 1 else f"album of {self.items} {self.kind}s"
        button = f"  [{self.button}]" if self.button else ""
        return f"{what:<20} {shorten(self.caption)}{button}".rstrip()


def shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1].rstrip() + "…"


def summarize_messages(messages: Sequence[dict[str, Any]]) -> list[DeliveredMessage]:
    """Bot API messages (oldest first) as what arrived: albums folded into one entry, each with
    the first line of its caption (an audio without one shows its performer and title)."""
    found: list[DeliveredMessage] = []
    last_group: str | None = None
    for message in messages:
        kind = next((k for k in _CONTENT_KINDS if k in message), None)
        if kind is None:
            continue
        group = message.get("media_group_id")
        if group is not None and group == last_group:
            album = found[-1]
            found[-1] = DeliveredMessage(
                album.kind if album.kind == kind else "item",
                album.items + 1,
                album.caption or _first_line(message),
            )
        else:
            found.append(DeliveredMessage(kind, 1, _first_line(message), _button(message)))
        last_group = group
    return found


def _button(message: dict[str, Any]) -> str | None:
    rows = message.get("reply_markup", {}).get("inline_keyboard") or [[]]
    return str(rows[0][0]["text"]) if rows[0] else None


def _first_line(message: dict[str, Any]) -> str:
    text = message.get("caption") or message.get("text") or ""
    if not text and "audio" in message:
        audio = message["audio"]
        text = " — ".join(p for p in (audio.get("performer"), audio.get("title")) if p)
    return str(text).split("\n", 1)[0]


class Sandbox:
    """The running emulators with the demo world."""

    def __init__(self, info: SandboxInfo, world: TikTokWorld, telegram: TelegramEmulator) -> None:
        self.info = info
        self.world = world
        self.telegram = telegram

    def delivered(self, chat: DemoChat) -> list[DeliveredMessage]:
        """What the chat (or its topic) holds now, read from the Telegram emulator."""
        messages = self.telegram.messages(chat.chat_id)
        if chat.topic_id is not None:
            messages = [m for m in messages if m.get("message_thread_id") == chat.topic_id]
        return summarize_messages(messages)

    async def converse(self, people: Sequence[DemoPerson], *, every: float = 0.1) -> None:
        """The people write to the bot side by side, each line once the bot answered the one
        before (checked in the emulator ``every`` seconds); returns when all were answered."""

        async def talk(person: DemoPerson) -> None:
            for text in person.says:
                message_id = self.say(person, text)
                # The emulator has no event to wait on: its records are polled.
                while not self.answered(person.chat.chat_id, message_id):  # noqa: ASYNC110
                    await asyncio.sleep(every)

        await asyncio.gather(*(talk(person) for person in people))

    def unanswered(self, person: DemoPerson) -> str | None:
        """The person's newest line, if the bot has not answered it (yet)."""
        chat_id = person.chat.chat_id
        mine = [
            m
            for m in self.telegram.messages(chat_id)
            if m.get("from", {}).get("id") == person.user_id
        ]
        if mine and not self.answered(chat_id, mine[-1]["message_id"]):
            return str(mine[-1].get("text", ""))
        return None

    def say(self, person: DemoPerson, text: str) -> int:
        """``person`` sends ``text`` (``/start`` as a command, as Telegram marks one); returns
        the message's id."""
        chat_id, user_id = person.chat.chat_id, person.user_id
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            update = self.telegram.user_command(chat_id, command, args, user_id=user_id)
        else:
            update = self.telegram.user_message(chat_id, text, user_id=user_id)
        return int(update["message"]["message_id"])

    def answered(self, chat_id: int, message_id: int) -> bool:
        """The bot replied to the message, or took its 👀 reaction away: what it does once a
        link's media arrived (or the link failed for good)."""
        for message in self.telegram.messages(chat_id):
            replied = message.get("reply_to_message", {}).get("message_id") == message_id
            if replied and _from_bot(message):
                return True
        return any(
            call.ok
            and call.chat_id == chat_id
            and call.message_ids == [message_id]
            and _reaction(call.params.get("reaction")) == []
            for call in self.telegram.calls("setMessageReaction")
        )

    def conversation(self, person: DemoPerson) -> list[tuple[str, str]]:
        """The person's chat, oldest first, as (who, what): their lines, and the bot's answers
        summarized like deliveries."""
        lines: list[tuple[str, str]] = []
        answers: list[dict[str, Any]] = []
        for message in [*self.telegram.messages(person.chat.chat_id), None]:
            if message is not None and _from_bot(message):
                answers.append(message)
                continue
            lines += [("bot", answer.describe()) for answer in summarize_messages(answers)]
            answers = []
            if message is not None:
                who = message.get("from", {}).get("first_name", "?")
                lines.append((str(who), str(message.get("text", ""))))
        return lines


def _from_bot(message: dict[str, Any]) -> bool:
    return bool(message.get("from", {}).get("is_bot"))


def _reaction(value: object) -> object:
    # The emulator keeps the parameter as sent: a JSON text from a form, a list from JSON.
    return json.loads(value) if isinstance(value, str) else value


def build_tiktok_world(media: MediaFixtures) -> TikTokWorld:
    world = TikTokWorld(media)
    # Captions of their own, an hour apart, so that each delivered message is told apart.
    hour_ago = int(time.time()) - 3600
    world.add_creator("demo_alice", nickname="Alice (demo)")
    world.add_video("demo_alice", desc="first light on the river #sunrise", at=hour_ago - 7200)
    world.add_video("demo_alice", desc="folding a paper crane", at=hour_ago - 3600)
    world.add_video("demo_alice", desc="the crane, now flying #origami", at=hour_ago)
    world.add_slideshow(
        "demo_alice", images=("jpeg", "webp", "heic", "jpeg"), desc="four slides #photomode"
    )
    world.add_creator("demo_bob", nickname="Bob (demo)")
    world.add_video("demo_bob", desc="coffee, then code", at=hour_ago)
    world.add_video("demo_bob", desc="sharper in HEVC, but Telegram wants H.264 #fyp", hevc=True)
    world.add_slideshow("demo_bob", images=("heic", "webp"), desc="two slides")
    return world


def build_telegram_world(emu: TelegramEmulator) -> list[DemoChat]:
    channel = emu.add_chat("channel", title="tikrelay demo", username=DEMO_CHANNEL)
    forum = emu.add_chat("supergroup", title="Demo forum", forum=True)
    topic = emu.add_topic(forum.id, "Clips")
    group = emu.add_chat("group", title="Demo group")
    return [
        DemoChat(f"channel @{DEMO_CHANNEL}", channel.id, destination="demo_channel"),
        DemoChat(
            'forum "Demo forum", topic "Clips"',
            forum.id,
            topic.message_thread_id,
            destination="demo_topic",
        ),
        DemoChat('group "Demo group"', group.id),
    ]


def build_people(emu: TelegramEmulator, world: TikTokWorld, *, group: DemoChat) -> list[DemoPerson]:
    """Two people in private chats with the bot and one in the group, with what each sends."""
    alice, bob = world.posts("demo_alice"), world.posts("demo_bob")
    video = next(p for p in alice if p.kind is PostKind.VIDEO)
    slides = next(p for p in alice if p.kind is PostKind.SLIDESHOW)
    shared = next(p for p in bob if p.kind is PostKind.VIDEO)
    scripts = {
        "Dana": (None, ("/start", video.url, "thanks!")),
        "Emil": (None, ("/help", slides.url)),
        "Fern": (group, (f"look at this one {world.short_link(shared.id)}",)),
    }
    people = []
    for name, (chat, says) in scripts.items():
        user = emu.add_user(name, username=name.lower())
        if chat is None:
            private = emu.add_chat("private", person=user)
            chat = DemoChat("a private chat with the bot", private.id)
        people.append(DemoPerson(name, user.id, chat, says))
    return people


def clear_state(folder: Path) -> None:
    """Forget what earlier sandboxes in ``folder`` left: the emulators start empty, so the
    reposter's deliveries and the emulator's uploads from before would only contradict them."""
    for name in ("state", "bot-state", "telegram"):
        shutil.rmtree(folder / name, ignore_errors=True)


@asynccontextmanager
async def start_sandbox(
    folder: Path,
    *,
    tiktok_port: int = 0,
    telegram_port: int = 0,
    flood_limits: bool = False,
) -> AsyncIterator[Sandbox]:
    """Start both emulators with the demo world, with ``folder`` (which must exist) cleared of
    earlier state and holding the CA certificate and the config; stop them on exit."""
    clear_state(folder)
    world = build_tiktok_world(MediaFixtures.at())
    tiktok = TikTokEmulator(world, port=tiktok_port)
    telegram = TelegramEmulator(
        SANDBOX_TOKEN, port=telegram_port, flood_limits=flood_limits, files_dir=folder / "telegram"
    )
    async with tiktok, telegram:
        chats = build_telegram_world(telegram)
        people = build_people(telegram, world, group=chats[-1])
        ca_file = folder / "tiktok-ca.pem"
        ca_file.write_bytes(tiktok.ca_pem)
        info = SandboxInfo(
            tiktok_proxy=tiktok.proxy_url,
            tiktok_control=tiktok.control_url,
            telegram_url=telegram.url,
            telegram_control=f"{telegram.url}/_emulator",
            token=SANDBOX_TOKEN,
            ca_file=ca_file.resolve(),
            config_file=folder / "tikrelay.yaml",
            state_dir=(folder / "state").resolve(),
            bot_config_file=folder / "bot.yaml",
            bot_state_dir=(folder / "bot-state").resolve(),
            creators={c.username: len(world.posts(c.username)) for c in world.creators()},
            chats=chats,
            people=people,
            sample_link=world.posts("demo_bob")[-1].url,
        )
        info.config_file.write_text(info.config_text(), encoding="utf-8")
        bot_config = info.config_text(info.bot_state_dir)
        info.bot_config_file.write_text(bot_config, encoding="utf-8")
        yield Sandbox(info, world, telegram)
