"""``tikrelay bot`` with ``bot.webhook_url``: the Telegram emulator posts each update to the bot's
listener (with the secret header), the update is stored before the 200, and the real bot answers
with the media. Telegram re-sends what was not answered, so a restart loses nothing."""

from __future__ import annotations

import json
import signal
import socket
from typing import Any

import httpx

from tests.support.processes import running_bot, wait_for, wait_until
from tests.support.relayed import TOKEN, Relayed

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def use_webhook(relayed: Relayed) -> str:
    """Point the bot's webhook at a free port on 127.0.0.1; the URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram-updates"
    relayed.extra = {"bot": {"webhook_url": url, "webhook_listen": f"127.0.0.1:{port}"}}
    return url


def webhook_set(relayed: Relayed) -> bool:
    return bool(relayed.telegram.calls("setWebhook", ok=True))


def videos(relayed: Relayed, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in relayed.telegram.messages(chat_id) if "video" in m]


def job_rows(relayed: Relayed, kind: str) -> list[str]:
    listed = relayed.run("jobs", "list", "--kind", kind, "--config", str(relayed.config))
    return listed.stdout.splitlines()[1:]


def post(url: str, body: dict[str, Any], secret: str | None) -> int:
    """POST ``body`` to the listener as Telegram would; the HTTP status."""
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return httpx.post(url, json=body, headers=headers, timeout=30, trust_env=False).status_code


def test_a_link_pushed_to_the_webhook_is_answered_and_sigterm_exits_0(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Wendy")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    clip = world.add_video("alice", desc="by webhook")
    url = use_webhook(relayed)

    with running_bot(relayed) as proc:
        wait_until(lambda: webhook_set(relayed), 60, proc)
        asked = telegram.user_message(chat.id, clip.url)
        wait_until(lambda: len(videos(relayed, chat.id)) == 1, 60, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in out

    [video] = videos(relayed, chat.id)
    assert video["caption"].startswith("by webhook")
    # Pushed, never polled: the update went to the listener and was confirmed by its 200.
    assert telegram.calls("getUpdates") == []
    delivered = [d for d in telegram.webhook_deliveries if d.update_id == asked["update_id"]]
    assert [d.status for d in delivered] == [200]
    assert telegram.env.queue.pending() == []
    # setWebhook as the issue asks: the secret, every kind getUpdates asks for, nothing dropped.
    [setting] = telegram.calls("setWebhook", ok=True)
    assert setting.params["url"] == url
    assert "message" in json.loads(setting.params["allowed_updates"])
    assert setting.params["drop_pending_updates"] in (False, "false", "False")
    secret = (relayed.folder / "state" / "webhook-secret").read_text(encoding="ascii")
    assert setting.params["secret_token"] == secret
    assert (relayed.folder / "state" / "webhook-secret").stat().st_mode & 0o777 == 0o600
    assert secret not in out + err  # never logged
    # The webhook stays set after a stop: Telegram keeps what comes meanwhile.
    assert telegram.webhook_info["url"] == url


def test_a_request_without_the_secret_is_refused_and_stores_nothing(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Mallory")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    clip = world.add_video("alice", desc="genuine")
    url = use_webhook(relayed)
    forged = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": chat.id, "type": "private", "first_name": "Mallory"},
            "from": {"id": person.id, "is_bot": False, "first_name": "Mallory"},
            "text": clip.url,
        },
    }

    with running_bot(relayed) as proc:
        wait_until(lambda: webhook_set(relayed), 60, proc)
        assert post(url, forged, "not-the-secret") == 403
        assert post(url, forged, None) == 403
        # A genuine update after them is answered: only it became a job.
        telegram.user_message(chat.id, clip.url)
        wait_until(lambda: len(videos(relayed, chat.id)) == 1, 60, proc)
        assert len(job_rows(relayed, "bot_update")) == 1


def test_an_update_sent_again_makes_one_request(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Rita")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    clip = world.add_video("alice", desc="twice sent")
    use_webhook(relayed)

    with running_bot(relayed) as proc:
        wait_until(lambda: webhook_set(relayed), 60, proc)
        # The bot's 200 never reaches Telegram, which sends the same update again.
        telegram.lose_webhook_answer()
        asked = telegram.user_message(chat.id, clip.url)

        def posts() -> list[int | None]:
            found = telegram.webhook_deliveries
            return [d.status for d in found if d.update_id == asked["update_id"]]

        wait_until(lambda: posts() == [200, 200], 60, proc)
        wait_until(lambda: len(videos(relayed, chat.id)) == 1, 60, proc)
        assert len(job_rows(relayed, "bot_update")) == 1
        assert len(job_rows(relayed, "request")) == 1
    assert len(videos(relayed, chat.id)) == 1


def test_updates_sent_while_the_bot_is_down_are_answered_after_a_restart(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Dora")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    first = world.add_video("alice", desc="first")
    second = world.add_video("alice", desc="second")
    use_webhook(relayed)

    with running_bot(relayed) as proc:
        wait_until(lambda: webhook_set(relayed), 60, proc)
        telegram.user_message(chat.id, first.url)
        wait_until(lambda: len(videos(relayed, chat.id)) == 1, 60, proc)
    asked = telegram.user_message(chat.id, second.url)  # while no bot listens

    def refused() -> bool:
        found = telegram.webhook_deliveries
        return any(d.update_id == asked["update_id"] and d.error for d in found)

    wait_for(refused, 30)
    assert telegram.webhook_info["last_error_message"] == "Connection refused"
    with running_bot(relayed) as proc:
        wait_until(lambda: len(videos(relayed, chat.id)) == 2, 60, proc)
    captions = [m["caption"].split("\n")[0] for m in videos(relayed, chat.id)]
    assert captions == ["first", "second"]
    statuses = [d.status for d in telegram.webhook_deliveries if d.update_id == asked["update_id"]]
    assert statuses[-1] == 200
    assert None in statuses
    assert all("COMPLETED" in row for row in job_rows(relayed, "request"))


def test_polling_again_deletes_the_webhook_and_keeps_what_waits(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Pia")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    clip = world.add_video("alice", desc="waited for polling")
    use_webhook(relayed)
    with running_bot(relayed) as proc:
        wait_until(lambda: webhook_set(relayed), 60, proc)
    telegram.user_message(chat.id, clip.url)  # held by Telegram for the webhook
    assert telegram.webhook_info["pending_update_count"] == 1
    polled = httpx.get(f"{telegram.url}/bot{TOKEN}/getUpdates", trust_env=False)
    assert (polled.status_code, polled.json()["description"]) == (
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )

    relayed.extra = {}  # bot.webhook_url unset: long polling
    with running_bot(relayed) as proc:
        wait_until(lambda: len(videos(relayed, chat.id)) == 1, 60, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    [deleted] = telegram.calls("deleteWebhook", ok=True)
    assert deleted.params["drop_pending_updates"] in (False, "false", "False")
    assert telegram.webhook_info["url"] == ""
    assert "bot_webhook_deleted" in err
    assert telegram.calls("getUpdates", ok=True)
