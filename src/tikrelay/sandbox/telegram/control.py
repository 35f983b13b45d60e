"""JSON control API under ``/_emulator/``, for processes that cannot use the Python API.

Everything a test does through ``TelegramEmulator`` methods is here too: build the world, act as
people, plan faults, switch flood limits and read the record. Bad input answers 400
``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tikrelay.sandbox.telegram.errors import ApiError
from tikrelay.sandbox.telegram.flood import FloodLimits
from tikrelay.sandbox.telegram.world import Chat

if TYPE_CHECKING:
    from tikrelay.sandbox.telegram.facade import EmulatorFacade

PREFIX = "/_emulator"
Body = dict[str, Any]


def chat_summary(chat: Chat) -> Body:
    return {
        **chat.to_json(),
        "bot_status": chat.bot_status,
        "rights": dict(chat.rights),
        "topics": [topic.to_json() for topic in chat.topics.values()],
    }


def _json_route(
    action: Callable[[web.Request, Body], Any],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        body: Body = {}
        if request.can_read_body:
            body = await request.json()
            if not isinstance(body, dict):
                return web.json_response({"error": "the body must be a JSON object"}, status=400)
        try:
            return web.json_response(action(request, body))
        except ApiError as exc:
            return web.json_response({"error": exc.description}, status=400)
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)

    return handle


def _chat_id(request: web.Request) -> int:
    return int(request.match_info["chat_id"])


class _Control:
    """The control actions; each takes the request and its JSON body."""

    def __init__(self, emu: EmulatorFacade) -> None:
        self.emu = emu

    def state(self, request: web.Request, body: Body) -> Body:
        emu, env = self.emu, self.emu.env
        return {
            "url": emu.url,
            "token": emu.token,
            "bot": emu.bot.to_json(),
            "local_mode": env.local_mode,
            "upload_limit": env.upload_limit,
            "flood_limits": env.flood is not None,
            "users": [user.to_json() for user in env.world.users.values()],
            "chats": [chat_summary(chat) for chat in env.world.chats.values()],
        }

    def add_user(self, request: web.Request, body: Body) -> Body:
        user = self.emu.add_user(
            body["first_name"], username=body.get("username"), user_id=body.get("user_id")
        )
        return user.to_json()

    def add_chat(self, request: web.Request, body: Body) -> Body:
        person = body.pop("person_id", None)
        if person is not None:
            body["person"] = self.emu.env.world.user(int(person))
        return chat_summary(self.emu.add_chat(body.pop("kind"), **body))

    def add_topic(self, request: web.Request, body: Body) -> Body:
        topic = self.emu.add_topic(_chat_id(request), body["name"], **_only(body, "icon_color"))
        return topic.to_json()

    def membership(self, request: web.Request, body: Body) -> Body:
        self.emu.set_bot_membership(_chat_id(request), body["status"], body.get("rights"))
        return chat_summary(self.emu.chat(_chat_id(request)))

    def messages(self, request: web.Request, body: Body) -> list[Body]:
        return self.emu.messages(_chat_id(request))

    def record(self, request: web.Request, body: Body) -> list[Body]:
        method = request.query.get("method")
        return [r.to_json() for r in self.emu.record if method in (None, r.method)]

    def answers(self, request: web.Request, body: Body) -> Body:
        return {"callback": self.emu.callback_answers, "inline": self.emu.inline_answers}

    def flood(self, request: web.Request, body: Body) -> Body:
        limits = body.get("limits")
        self.emu.set_flood_limits(FloodLimits(**limits) if limits else bool(body["enabled"]))
        return {"flood_limits": self.emu.env.flood is not None}

    def webhook(self, request: web.Request, body: Body) -> Body:
        deliveries = [d.to_json() for d in self.emu.webhook_deliveries]
        return {**self.emu.webhook_info, "deliveries": deliveries}

    def clear_faults(self, request: web.Request, body: Body) -> Body:
        self.emu.clear_faults()
        return {"faults": []}


def control_routes(emu: EmulatorFacade) -> list[web.RouteDef]:
    control, people = _Control(emu), emu.env.people
    routes: list[tuple[str, str, Callable[[web.Request, Body], Any]]] = [
        ("GET", "/state", control.state),
        ("POST", "/users", control.add_user),
        ("POST", "/chats", control.add_chat),
        ("POST", "/chats/{chat_id}/topics", control.add_topic),
        ("PUT", "/chats/{chat_id}/membership", control.membership),
        ("GET", "/chats/{chat_id}/messages", control.messages),
        ("GET", "/record", control.record),
        ("GET", "/answers", control.answers),
        ("PUT", "/flood", control.flood),
        ("DELETE", "/faults", control.clear_faults),
        ("POST", "/faults", lambda r, b: _done(emu.fail_call, b.pop("method"), **b)),
        ("POST", "/faults/album", lambda r, b: _done(emu.fail_album, **b)),
        ("POST", "/faults/delay", lambda r, b: _done(emu.delay_call, b.pop("method"), **b)),
        ("POST", "/faults/webhook", lambda r, b: _done(emu.lose_webhook_answer, **b)),
        ("GET", "/webhook", control.webhook),
        ("POST", "/updates/message", lambda r, b: people.message(b.pop("chat_id"), **b)),
        ("POST", "/updates/command", lambda r, b: people.command(b.pop("chat_id"), **b)),
        ("POST", "/updates/callback", lambda r, b: people.press_button(b.pop("chat_id"), **b)),
        ("POST", "/updates/inline", lambda r, b: people.inline_query(b.pop("query"), **b)),
    ]
    return [web.route(verb, PREFIX + path, _json_route(action)) for verb, path, action in routes]


def _only(body: Body, *keys: str) -> Body:
    return {key: body[key] for key in keys if key in body}


def _done(action: Callable[..., None], *args: Any, **kwargs: Any) -> Body:
    action(*args, **kwargs)
    return {"ok": True}
