"""The bot in one process: its job kinds (``bot_update``, ``request``) registered beside the
reposter's, the router, and the intake running beside the worker."""

from __future__ import annotations

import asyncio
import contextlib
import functools

from telegram import (
    CallbackQuery,
    InlineQuery,
    Message,
    Update,
)

from tikrelay.bot import texts
from tikrelay.bot.admin import Admin
from tikrelay.bot.buttons import Buttons
from tikrelay.bot.i18n import DEFAULT, LANGUAGES, choose, tr
from tikrelay.bot.inline import Inline
from tikrelay.bot.limits import Limits
from tikrelay.bot.model import (
    BOT_UPDATE,
    BROADCAST,
    REQUEST,
    BroadcastPayload,
    RequestPayload,
    UpdatePayload,
    request_key,
)
from tikrelay.bot.router import build_router
from tikrelay.bot.subscriptions import Subscriptions
from tikrelay.bot.webhook import intake_for
from tikrelay.destinations.target import ChatTarget
from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.domain.events import Stage
from tikrelay.domain.retry import RETRYABLE
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.reposter.jobs import Reposter
from tikrelay.reposter.model import ARCHIVE, DeliverPayload, Route, job_for, upload_limit
from tikrelay.runtime.app import Runtime
from tikrelay.sources.media_urls import WEB, check_url
from tikrelay.sources.refs import SITE, is_short_link, parse_post_link, post_url
from tikrelay.sources.web import AUDIO, BEST, web_post_id
from tikrelay.store import bot_sql


class BotService:
    """Answers people's links with the media; ``run`` until SIGTERM/SIGINT."""

    def __init__(self, runtime: Runtime) -> None:
        if runtime.reposter is None:
            raise ValueError("the bot needs the runtime opened with the reposter")
        self.runtime = runtime
        self.reposter: Reposter = runtime.reposter
        self.sender = self.reposter.clients.telegram
        self.subscriptions = Subscriptions(runtime, self.sender, self.say, self.words)
        self.admins = Admin(runtime, self.reply, self.say, self.sender)
        self.limits = Limits(runtime.settings.bot.limits, runtime.queue)
        self.inline_mode = Inline(runtime, self.sender, upload_limit(runtime.settings))
        self.router = build_router(self.sender.bot, self)
        self.buttons = Buttons(runtime, self.sender)
        self._largest = int(runtime.settings.bot.limits.max_download_mb * _MB)
        self._ready = asyncio.Event()
        runtime.service.registry.include(self.registry())

    def run(self) -> None:
        self.runtime.work(drain=False, companions=[self.take_updates])

    async def take_updates(self, stop: asyncio.Event) -> None:
        await self.sender.open()  # the router and the handlers use the Bot object directly
        await self.router.initialize()
        self._ready.set()
        await intake_for(self.runtime.settings, self.sender, self.runtime.service).run(stop)

    # -- what handlers may do (router.Desk) --------------------------------------------------

    async def reply(self, message: Message, text: str) -> None:
        topic = message.message_thread_id if message.is_topic_message else None
        target = ChatTarget(message.chat.id, topic)
        await self.sender.send_text(target, text, reply_to=message.message_id)

    async def started(self, message: Message) -> None:
        """/start: the person joins the audience of /broadcast."""
        user = message.from_user
        if user is None or message.chat.type != "private":
            return
        queue = self.runtime.queue

        def store() -> None:
            with queue.transaction() as conn:
                bot_sql.add_user(conn, user.id, message.chat.id, queue.clock())

        await asyncio.to_thread(store)

    async def say(self, message: Message, template: str, **values: object) -> None:
        """Reply with one of ``texts``, in the language of the person who wrote."""
        await self.reply(message, await self.words(message, template, **values))

    async def words(self, message: Message, template: str, **values: object) -> str:
        return tr(await self.language(message), template, **values)

    async def language(self, message: Message) -> str:
        """The writer's language: chosen with /lang, else their Telegram app's, else English."""
        user = message.from_user
        if user is None:
            return DEFAULT
        queue = self.runtime.queue

        def stored() -> str | None:
            with queue.engine.connect() as conn:
                found = bot_sql.state(conn, f"lang:{user.id}")
            return found if isinstance(found, str) else None

        return choose(await asyncio.to_thread(stored), user.language_code)

    async def choose_language(self, message: Message, args: list[str]) -> None:
        wanted = args[0].lower() if args else ""
        user = message.from_user
        if wanted not in LANGUAGES or user is None:
            listed = ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
            await self.say(message, texts.LANG_USAGE, languages=listed)
            return
        queue = self.runtime.queue

        def store() -> None:
            with queue.transaction() as conn:
                bot_sql.set_state(conn, f"lang:{user.id}", wanted, queue.clock())

        await asyncio.to_thread(store)
        await self.reply(message, tr(wanted, texts.LANG_SET))

    async def settings(self, message: Message, args: list[str]) -> None:
        """/settings: the person's default format (video, or audio: the sound alone) and
        whether the post's text comes under the media; ``/settings format audio`` changes one."""
        user = message.from_user
        if user is None:
            return
        current = await self._preferences(user.id)
        key, value = [*args, "", ""][:2]
        allowed = {"format": ("video", "document", "audio"), "caption": ("on", "off")}
        if value.lower() in allowed.get(key.lower(), ()):
            current[key.lower()] = value.lower()
            queue = self.runtime.queue

            def store() -> None:
                with queue.transaction() as conn:
                    bot_sql.set_state(conn, f"settings:{user.id}", current, queue.clock())

            await asyncio.to_thread(store)
        await self.say(
            message, texts.SETTINGS, format=current["format"], caption=current["caption"]
        )

    async def _preferences(self, user_id: int | None) -> dict[str, str]:
        found: object = None
        if user_id is not None:
            queue = self.runtime.queue

            def read() -> object:
                with queue.engine.connect() as conn:
                    return bot_sql.state(conn, f"settings:{user_id}")

            found = await asyncio.to_thread(read)
        chosen = found if isinstance(found, dict) else {}
        return {
            "format": str(chosen.get("format", "video")),
            "caption": str(chosen.get("caption", "on")),
        }

    async def archive_switch(self, message: Message, on: bool) -> None:
        """/archive_on, /archive_off: in a group only its admins may; in a private chat the
        person. What the bot sends there is then also archived to ``bot.archive_to``."""
        if self.runtime.settings.bot.archive_to is None:
            await self.say(message, texts.NO_ARCHIVE)
            return
        user = message.from_user
        if message.chat.type != "private":
            try:
                allowed = user is not None and await self.sender.is_admin(message.chat.id, user.id)
            except TikrelayError:
                allowed = False
            if not allowed:
                await self.say(message, texts.ONLY_ADMINS)
                return
        queue = self.runtime.queue

        def store() -> None:
            with queue.transaction() as conn:
                bot_sql.set_state(conn, f"archive:{message.chat.id}", on, queue.clock())

        await asyncio.to_thread(store)
        await self.say(message, texts.ARCHIVE_ON if on else texts.ARCHIVE_OFF)

    def _archive_after(self, payload: RequestPayload, post: DeliverPayload) -> None:
        """The post also goes to ``bot.archive_to`` when the chat turned /archive_on."""
        name = self.runtime.settings.bot.archive_to
        if name is None or payload.silent:
            return
        queue, service = self.runtime.queue, self.runtime.service
        with queue.transaction() as conn:
            if bot_sql.state(conn, f"archive:{payload.chat_id}") is not True:
                return
            job = post.model_copy(update={"destination": name})
            service.enqueue(ARCHIVE, job, dedupe_key=job_for(ARCHIVE, post.post, name), conn=conn)

    async def subscribe(self, message: Message, args: list[str]) -> None:
        await self.subscriptions.subscribe(message, args)

    async def unsubscribe(self, message: Message, args: list[str]) -> None:
        await self.subscriptions.unsubscribe(message, args)

    async def list_subscriptions(self, message: Message, args: list[str]) -> None:
        await self.subscriptions.subscriptions(message, args)

    async def inline(self, query: InlineQuery) -> None:
        await self.inline_mode.answer(query)

    async def admin(self, command: str, message: Message, args: list[str]) -> None:
        await self.admins.handle(command, message, args)

    async def request(self, message: Message, payload: RequestPayload) -> None:
        if await asyncio.to_thread(self._asked_already, payload):
            return  # this update is handled again (after a crash): its request exists
        if await self.admins.in_maintenance():
            await self.say(message, texts.MAINTENANCE)
            return
        if not (parse_post_link(payload.url) or is_short_link(payload.url)):
            try:  # the scheme, an address, a local name: what needs no lookup is refused now
                check_url(payload.url, WEB, resolve=False)
            except TikrelayError:
                if message.chat.type == "private" or self.runtime.settings.bot.group_errors:
                    await self.say(message, texts.NOT_FETCHED)
                return
        refused = await self.limits.refusal(payload.user_id, payload.chat_id)
        if refused is not None:
            template, values = refused
            await self.say(message, template, **values)
            return
        wanted = await self._preferences(payload.user_id)
        payload = payload.model_copy(
            update={
                "language": await self.language(message),
                "sound": wanted["format"] == "audio",
                "document": wanted["format"] == "document",
                "caption": wanted["caption"] == "on",
            }
        )
        await asyncio.to_thread(self._enqueue_request, payload)
        await self._react(payload, texts.WORKING)  # seen: the media follows

    def _asked_already(self, payload: RequestPayload) -> bool:
        with self.runtime.queue.engine.connect() as conn:
            return bot_sql.asked_already(conn, payload.chat_id, payload.message_id)

    def _enqueue_request(self, payload: RequestPayload) -> None:
        """The request job and its row (a message is one request, ever), in one transaction."""
        key = request_key(payload.chat_id, payload.message_id)
        service, queue = self.runtime.service, self.runtime.queue
        with queue.transaction() as conn:
            if bot_sql.asked_already(conn, payload.chat_id, payload.message_id):
                return
            made = service.enqueue(REQUEST, payload, dedupe_key=key, priority=2, conn=conn)
            bot_sql.add_request(
                conn,
                made.job.id,
                payload.user_id,
                payload.chat_id,
                payload.message_id,
                queue.clock(),
            )

    # -- job kinds ------------------------------------------------------------------------------

    def registry(self) -> Registry:
        registry = Registry()

        @registry.handler(BOT_UPDATE, payload=UpdatePayload, max_attempts=3)
        async def bot_update(ctx: JobContext, payload: UpdatePayload) -> None:
            await self._ready.wait()
            update = Update.de_json(payload.update, self.sender.bot)
            if await self._spamming(update):
                return
            await self.router.process_update(update)

        @registry.handler(REQUEST, payload=RequestPayload, max_attempts=3)
        async def request(ctx: JobContext, payload: RequestPayload) -> None:
            async def taken_away() -> None:
                await self._react(payload, None)

            try:
                await self.answer(ctx, payload)
            except Exception as exc:
                if not _will_retry(ctx, exc):
                    ctx.after_outcome(taken_away)
                    await self._say_failure(payload, exc)
                raise
            # Once the job is recorded done: a person who sees the reaction go may ask again.
            ctx.after_outcome(taken_away)

        @registry.handler(
            BROADCAST, payload=BroadcastPayload, max_attempts=3, timeout_seconds=DAY_SECONDS
        )
        async def broadcast(ctx: JobContext, payload: BroadcastPayload) -> None:
            await self._broadcast(ctx, payload)

        return registry

    async def _broadcast(self, ctx: JobContext, payload: BroadcastPayload) -> None:
        """To everyone who started the bot, in user id order, paced like every send; where it
        got to is saved after each person, so a restart goes on from there (a person may get it
        twice if the process died between the send and the save)."""
        queue = self.runtime.queue
        key = f"broadcast:{ctx.job.id}"

        def load() -> tuple[dict[str, int], int]:
            with queue.engine.connect() as conn:
                found = bot_sql.state(conn, key)
                people = bot_sql.count_users(conn)
            progress = found if isinstance(found, dict) else {}
            return {k: int(progress.get(k, 0)) for k in ("after", "sent", "failed")}, people

        def save(progress: dict[str, int]) -> None:
            with queue.transaction() as conn:
                bot_sql.set_state(conn, key, progress, queue.clock())

        def batch(after: int) -> list[tuple[int, int]]:
            with queue.engine.connect() as conn:
                return bot_sql.users_after(conn, after, 100)

        progress, people = await asyncio.to_thread(load)
        while users := await asyncio.to_thread(batch, progress["after"]):
            for user_id, chat_id in users:
                try:
                    await self.sender.send_text(ChatTarget(chat_id, None), payload.text)
                    progress["sent"] += 1
                except TikrelayError as exc:
                    if exc.kind is ErrorKind.RATE_LIMIT:
                        raise  # the job waits as Telegram asks, then goes on from here
                    progress["failed"] += 1  # blocked the bot, deleted the account…
                progress["after"] = user_id
                await asyncio.to_thread(save, progress)
        done = texts.BROADCAST_DONE.format(
            job_id=ctx.job.id, people=people, sent=progress["sent"], failed=progress["failed"]
        )
        await self.sender.send_text(ChatTarget(payload.admin_chat_id, None), done)

    async def answer(self, ctx: JobContext, payload: RequestPayload) -> None:
        """The post behind the link, sent to the chat that asked, exactly once."""
        found = parse_post_link(payload.url)
        if found is None and is_short_link(payload.url):
            async with ctx.stage(Stage.LINK_EXPAND):
                tiktok = self.reposter.clients.tiktok
                found = await asyncio.to_thread(
                    functools.partial(tiktok.expand, payload.url, attempt=ctx.attempt - 1)
                )
        if found is None:
            await self._answer_link(ctx, payload)
            return
        username, post_id = found
        name = request_key(payload.chat_id, payload.message_id)
        post = DeliverPayload(
            post=f"{SITE}:{post_id}",
            id=post_id,
            url=post_url(username, post_id),
            source="bot",
            destination=name,
        )
        if payload.sound:
            route = self._route(f"sound:{payload.chat_id}:{payload.message_id}", payload, None)
            await self.reposter.deliverer.send_sound(ctx, post, route)
            return
        caption = None if payload.caption else ""
        route = self._route(name, payload, caption)
        sent = await self.reposter.deliverer.deliver(ctx, post, route)
        await asyncio.to_thread(self._archive_after, payload, post)
        if not payload.silent and sent:
            await self.buttons.offer_sound(payload, post.post, sent[0])

    def _route(self, name: str, payload: RequestPayload, caption: str | None) -> Route:
        """The chat that asked, as a route: after the message answered (none for a silent
        upload), captioned by ``caption`` (None: the reposter's template), within the size cap,
        videos as files for someone who asked for documents."""
        return Route.to_chat(
            name,
            payload.chat_id,
            payload.topic_id,
            after=payload.message_id or None,
            caption=caption,
            largest=self._largest,
            documents=payload.document,
        )

    async def _answer_link(self, ctx: JobContext, payload: RequestPayload) -> None:
        """A link to another site: the media yt-dlp finds there, in the variant asked for (the
        best that fits, by default), then buttons for the other qualities the site offers."""
        variant = AUDIO if payload.sound else payload.variant
        post_id = web_post_id(payload.url, variant)
        name = request_key(payload.chat_id, payload.message_id)
        post = DeliverPayload(
            post=f"{WEB}:{post_id}", id=post_id, url=payload.url, source="bot", destination=name
        )
        template = LINK_CAPTION if payload.caption else ""
        route = self._route(name, payload, template)
        sent = await self.reposter.deliverer.deliver(ctx, post, route)
        await asyncio.to_thread(self._archive_after, payload, post)
        if not payload.silent and sent and variant == BEST:
            await self.buttons.offer_qualities(payload, post.post, sent[-1])

    async def quality_button(self, query: CallbackQuery) -> None:
        await self.buttons.quality_pressed(query)

    async def sound_button(self, query: CallbackQuery) -> None:
        await self.buttons.sound_pressed(query)

    async def _spamming(self, update: Update) -> bool:
        """The spam guard: a person who sent a burst is not listened to for a while (told
        once, when the pause starts). Admins are never paused."""
        user, message = update.effective_user, update.effective_message
        if user is None or user.id in self.runtime.settings.telegram.admins:
            return False
        ignore, starts = await self.limits.spam_pause(user.id, update.update_id)
        if ignore and starts and message is not None:
            with contextlib.suppress(TikrelayError):
                await self.say(message, texts.SPAM, seconds=round(starts))
        return ignore

    async def _react(self, payload: RequestPayload, emoji: str | None) -> None:
        if payload.silent:
            return
        target = ChatTarget(payload.chat_id, payload.topic_id)
        with contextlib.suppress(TikrelayError):  # reactions may be turned off in the chat
            await self.sender.react(target, payload.message_id, emoji)

    async def _say_failure(self, payload: RequestPayload, exc: Exception) -> None:
        if payload.silent:
            return
        if payload.chat_id < 0 and not self.runtime.settings.bot.group_errors:
            return  # in groups and channels the bot stays quiet about failures
        error = classify(exc)
        target = ChatTarget(payload.chat_id, payload.topic_id)
        with contextlib.suppress(TikrelayError):  # the chat may be gone: nothing more to say
            said = tr(payload.language, texts.failure(error.kind))
            await self.sender.send_text(target, said, reply_to=payload.message_id)


DAY_SECONDS = 24 * 3600.0
_MB = 1024 * 1024
#: The caption under media from another site: its title, and who published it.
#: (The blank line follows an expression: the caption environment trims the newline after a
#: block tag.)
LINK_CAPTION = (
    "{% if text and author_name %}{{ text }}\n\n— {{ author_name }}"
    "{% elif text %}{{ text }}{% elif author_name %}— {{ author_name }}{% endif %}"
)


def _will_retry(ctx: JobContext, exc: Exception) -> bool:
    error = classify(exc)
    retryable = error.retryable if error.retryable is not None else error.kind in RETRYABLE
    return retryable and ctx.attempt < ctx.job.max_attempts
