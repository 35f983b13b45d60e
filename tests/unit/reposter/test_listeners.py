"""Progress goes to every listener, in the order they were added; one that fails is logged and
does not stop the others (or the job)."""

from __future__ import annotations

from tikrelay.reposter.progress import Listeners, Progress


class Recording(Progress):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def polled(self, source: str, listed: int, queued: int, left_out: int = 0) -> None:
        self.log.append(f"{self.name} polled {source} {listed}/{queued}/{left_out}")

    def stage(self, post: str, destination: str, stage: str) -> None:
        self.log.append(f"{self.name} {post}→{destination} {stage}")

    def delivered(self, post: str, destination: str, messages: int) -> None:
        self.log.append(f"{self.name} delivered {post}→{destination} {messages}")

    def failed(self, what: str, reason: str, *, retry: bool) -> None:
        self.log.append(f"{self.name} failed {what}: {reason} retry={retry}")


class Broken(Progress):
    def stage(self, post: str, destination: str, stage: str) -> None:
        raise RuntimeError("a display that broke")


def test_every_listener_hears_everything_in_order() -> None:
    log: list[str] = []
    listeners = Listeners()
    first, second = Recording("a", log), Recording("b", log)
    listeners.add(first)
    listeners.add(Broken())
    listeners.add(second)
    listeners.polled("tiktok:@alice", 3, 2, 1)
    listeners.stage("tiktok:1", "clips", "DOWNLOAD")
    listeners.delivered("tiktok:1", "clips", 1)
    listeners.failed("tiktok:2 → clips", "network: down", retry=True)
    listeners.remove(first)
    listeners.stage("tiktok:3", "clips", "TELEGRAM_SEND")
    assert log == [
        "a polled tiktok:@alice 3/2/1",
        "b polled tiktok:@alice 3/2/1",
        "a tiktok:1→clips DOWNLOAD",
        "b tiktok:1→clips DOWNLOAD",  # the broken display in between did not stop it
        "a delivered tiktok:1→clips 1",
        "b delivered tiktok:1→clips 1",
        "a failed tiktok:2 → clips: network: down retry=True",
        "b failed tiktok:2 → clips: network: down retry=True",
        "b tiktok:3→clips TELEGRAM_SEND",
    ]
