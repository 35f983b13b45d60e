"""Links to sites other than TikTok, answered by the real bot through the real yt-dlp against the
emulated web sites (a direct MP4, a VP9/Opus WebM, an MP3, pages embedding ``<video>`` and
``<audio>``, an archive.org item), and links the bot must never fetch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import av
import pytest

from tests.support.bot import bot_replies
from tests.support.processes import running_bot, wait_until
from tests.support.relayed import Relayed
from tikrelay.bot import texts
from tikrelay.domain.errors import ErrorKind


def media_of(relayed: Relayed, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in relayed.telegram.messages(chat_id) if "video" in m or "audio" in m]


def codecs(path: Any) -> tuple[str | None, str | None]:
    with av.open(str(path)) as container:
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        return (
            video.codec_context.name if video else None,
            audio.codec_context.name if audio else None,
        )


def test_links_to_other_sites_come_back_as_media_ready_to_play(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Ola")
    chat = telegram.add_chat("private", person=person)
    site = world.web.site
    item = world.web.add_archive_item("harbour-film", title="The old harbour")
    links = [
        site.mp4,
        site.webm,
        site.mp3.replace("https://", "http://"),  # plain http, through the proxy too
        site.video_page,
        f"https://archive.org/details/{item.identifier}",
        site.audio_page,
    ]
    for link in links:
        telegram.user_message(chat.id, link)
    relayed.extra = {"bot": {"limits": {"active_per_user": len(links)}}}

    with running_bot(relayed) as proc:
        wait_until(lambda: len(media_of(relayed, chat.id)) == len(links), 90, proc)
    answers = media_of(relayed, chat.id)
    kinds = ["video" if "video" in m else "audio" for m in answers]
    assert sorted(kinds) == ["audio", "audio", "video", "video", "video", "video"]
    for message in answers:
        if "video" in message:
            sent = telegram.file_path(message["video"]["file_id"])
            assert codecs(sent) == ("h264", "aac")  # the WebM's VP9/Opus too
            assert message["video"]["width"] > 0
        else:
            sent = telegram.file_path(message["audio"]["file_id"])
            assert codecs(sent)[1] in ("mp3", "mp3float", "aac")
    captions = [m.get("caption", "") for m in answers]
    assert any(c.startswith("Sunset over the bay") for c in captions)
    # Who published it is the item's creator, never the uploader's e-mail address.
    assert "The old harbour\n\n— Example Films" in captions
    assert bot_replies(relayed, chat.id) == []  # no error, no hint


class Watched(ThreadingHTTPServer):
    """A server on this machine that must never be asked anything."""

    asked: list[str]


@pytest.fixture
def secret_server() -> Iterator[Watched]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.server.asked.append(self.path)  # type: ignore[attr-defined]
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"secret")

        def log_message(self, *args: object) -> None:
            pass

    server = Watched(("127.0.0.1", 0), Handler)
    server.asked = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_links_to_this_machine_or_other_schemes_are_refused_politely_and_never_fetched(
    relayed: Relayed, secret_server: Watched
) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Pim")
    chat = telegram.add_chat("private", person=person)
    port = secret_server.server_address[1]
    redirect = world.web.redirect(f"http://127.0.0.1:{port}/secret")
    links = [
        f"http://127.0.0.1:{port}/secret",
        f"http://localhost:{port}/secret",
        f"http://[::1]:{port}/secret",
        f"http://0.0.0.0:{port}/secret",
        "file:///etc/passwd",
        "ftp://media.example.com/files/clip.mp4",
        redirect,
    ]
    for link in links:
        telegram.user_message(chat.id, link)
    relayed.extra = {"bot": {"limits": {"active_per_user": len(links)}}}

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, chat.id)) == len(links), 90, proc)
    assert bot_replies(relayed, chat.id) == [texts.NOT_FETCHED] * len(links)
    assert secret_server.asked == []
    assert media_of(relayed, chat.id) == []
    # Of all the links, only the redirecting page was asked for; its Location never was.
    asked = [r for r in world.requests() if not r.host.endswith("tiktok.com")]
    assert [r.path for r in asked] == [redirect.split("example.com", 1)[1]]


def test_in_a_group_only_links_that_are_surely_media_are_answered(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    quin, rae = telegram.add_user("Quin"), telegram.add_user("Rae")
    group = telegram.add_chat("supergroup", title="Film club")
    site = world.web.site
    telegram.user_message(group.id, f"what a nice site {site.text_page}", user_id=quin.id)
    telegram.user_message(group.id, f"look {site.mp4}", user_id=rae.id)
    telegram.user_message(group.id, f"http://127.0.0.1:1/x and {site.webm}", user_id=quin.id)

    with running_bot(relayed) as proc:
        wait_until(lambda: len(media_of(relayed, group.id)) == 2, 90, proc)
    assert bot_replies(relayed, group.id) == []
    asked = {r.path for r in world.requests() if not r.host.endswith("tiktok.com")}
    assert "/about" not in asked  # talk about a web page stays talk


def test_a_video_over_the_download_cap_is_refused_before_it_is_downloaded(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Sam")
    chat = telegram.add_chat("private", person=person)
    site = world.web.site
    size = world.web.file(site.mp4).stat().st_size
    relayed.extra = {"bot": {"limits": {"max_download_mb": size / 2 / 1024 / 1024}}}
    telegram.user_message(chat.id, site.mp4)

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, chat.id)) == 1, 60, proc)
    assert bot_replies(relayed, chat.id) == [texts.FAILURES[ErrorKind.SIZE_LIMIT]]
    assert media_of(relayed, chat.id) == []
    assert "over the" in relayed.newest_timeline("request")
    assert "bot.limits.max_download_mb" in relayed.newest_timeline("request")


def test_the_quality_buttons_send_another_height_or_the_sound_alone(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Tao")
    chat = telegram.add_chat("private", person=person)
    page = world.web.add_page("regatta", title="Regatta", heights=(1080, 480))
    telegram.user_message(chat.id, page)

    def with_keyboard() -> list[dict[str, Any]]:
        return [m for m in telegram.messages(chat.id) if "video" in m and "reply_markup" in m]

    def fetched(name: str) -> int:
        return len([r for r in world.requests(path=f"/files/{name}") if r.method == "GET"])

    with running_bot(relayed) as proc:
        wait_until(lambda: len(with_keyboard()) == 1, 60, proc)
        [video] = with_keyboard()
        [buttons] = video["reply_markup"]["inline_keyboard"]
        # Best (1080p here) came first; 720p would be the 480p file too: one button for both.
        assert [b["text"] for b in buttons] == ["480p", texts.AUDIO_ONLY]
        assert (fetched("clip.mp4"), fetched("clip-144p.mp4")) == (1, 0)
        by_text = {b["text"]: b["callback_data"] for b in buttons}
        telegram.press_button(chat.id, video["message_id"], by_text["480p"])
        telegram.press_button(chat.id, video["message_id"], by_text["480p"])  # once is enough
        telegram.press_button(chat.id, video["message_id"], by_text[texts.AUDIO_ONLY])
        wait_until(lambda: len(media_of(relayed, chat.id)) == 3, 60, proc)
        wait_until(lambda: len(telegram.callback_answers) == 3, 60, proc)
    kinds = ["video" if "video" in m else "audio" for m in media_of(relayed, chat.id)]
    assert sorted(kinds) == ["audio", "video", "video"]
    assert fetched("clip-144p.mp4") == 1  # the 480p variant is the other source
    assert {a.get("text") for a in telegram.callback_answers.values()} == {texts.QUALITY_COMING}
