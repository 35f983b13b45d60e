"""The HTTP face: ``/bot<token>/<method>``, ``/file/bot<token>/<path>`` and Telegram's envelopes."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tikrelay.sandbox.telegram import methods_chats, methods_media, methods_messages
from tikrelay.sandbox.telegram.context import CLOUD_DOWNLOAD_LIMIT, HANDLERS, Call, Env
from tikrelay.sandbox.telegram.errors import NOT_FOUND, UNAUTHORIZED, ApiError
from tikrelay.sandbox.telegram.params import Params, read_params
from tikrelay.sandbox.telegram.world import CallRecord, FileRecord

# The modules above register their handlers on import.
_HANDLER_MODULES = (methods_chats, methods_media, methods_messages)
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
# Bodies that are not multipart (JSON, forms) are small; uploads are streamed and checked apart.
FORM_BODY_LIMIT = 16 * 1024 * 1024
log = logging.getLogger(__name__)


def _envelope(error: ApiError) -> web.Response:
    return web.json_response(error.envelope(), status=error.status)


def _check_token(env: Env, token: str) -> ApiError | None:
    if not _TOKEN.match(token):
        return NOT_FOUND
    if token != env.token:
        return UNAUTHORIZED
    return None


async def _answer(env: Env, name: str, params: Params, record: CallRecord) -> tuple[Any, float]:
    """Run the handler with planned faults applied; the result and the planned answer delay."""
    entry = HANDLERS.get(name.lower())
    if entry is None:
        raise NOT_FOUND
    record.method = entry[0]
    error, album, delay = env.faults.on_call(entry[0])
    call = Call(entry[0], params, record, env, album_failure=album)
    try:
        if error is not None:
            _prefill(call)
            raise error
        return await entry[1](call), delay
    except ApiError:
        raise
    except Exception as exc:  # a bug here must still reach the client as Telegram would answer
        log.exception("emulator handler %s failed", entry[0])
        raise ApiError(500, "Internal Server Error") from exc
    finally:
        params.discard_uploads()


def _prefill(call: Call) -> None:
    """Fill the record of a call refused by a planned fault as far as the parameters tell."""
    params = call.params
    if params.has("chat_id"):
        call.record.chat_id = params.chat_id()
    call.record.thread_id = params.get_int("message_thread_id")
    call.record.text = params.get_str("text")
    call.record.caption = params.get_str("caption")


def make_api_handler(env: Env, upload_dir: Path) -> Callable[[web.Request], Any]:
    async def api(request: web.Request) -> web.StreamResponse:
        refusal = _check_token(env, request.match_info["token"])
        if refusal is not None:
            return _envelope(refusal)
        record = CallRecord(method=request.match_info["method"], time=time.time())
        delay = 0.0
        try:
            params = await read_params(request, upload_dir, env.upload_limit)
            record.params = params.plain()
            uploads = params.uploads.values()
            record.files = [FileRecord(u.part_name, u.size, u.sha256, u.filename) for u in uploads]
            result, delay = await _answer(env, record.method, params, record)
            response = web.json_response({"ok": True, "result": result})
        except ApiError as exc:
            record.status, record.error = exc.status, exc.description
            response = _envelope(exc)
        env.world.add_record(record)
        if delay:
            # The call is recorded as done: a client that times out now and retries duplicates it.
            await asyncio.sleep(delay)
        return response

    return api


def make_file_handler(env: Env) -> Callable[[web.Request], Any]:
    async def download(request: web.Request) -> web.StreamResponse:
        refusal = _check_token(env, request.match_info["token"])
        if refusal is not None:
            return _envelope(refusal)
        stored = env.files.by_path(request.match_info["path"])
        if stored is None:
            return _envelope(NOT_FOUND)
        if not env.local_mode and stored.size > CLOUD_DOWNLOAD_LIMIT:
            return _envelope(ApiError(400, "Bad Request: file is too big"))
        return web.FileResponse(stored.path)

    return download


def build_app(env: Env, upload_dir: Path, control: list[web.RouteDef]) -> web.Application:
    app = web.Application(client_max_size=FORM_BODY_LIMIT)
    api = make_api_handler(env, upload_dir)
    app.add_routes(
        [
            web.route("*", "/bot{token}/{method}", api),
            web.get("/file/bot{token}/{path:.+}", make_file_handler(env)),
            *control,
        ]
    )
    return app
