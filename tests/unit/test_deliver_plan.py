"""How a prepared post becomes parts to send: albums of at most ten, the caption once, the sound
last with a title and performer that cannot reorder the line they are shown on."""

from __future__ import annotations

from pathlib import Path

from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.reposter.deliver import _plan

RLO = "\u202e"


def slideshow(images: int, sound: Sound | None) -> tuple[Post, list[Path]]:
    post = Post(site="tiktok", id="1", kind=PostKind.SLIDESHOW, url="u", author="a", sound=sound)
    folder = Path("/media/tiktok/1/telegram")
    return post, [folder / f"slide-{i:02d}.jpg" for i in range(1, images + 1)]


def test_albums_of_ten_in_order_with_the_caption_on_the_first_then_the_sound() -> None:
    post, ready = slideshow(23, Sound(title=f"song{RLO}gnos", author=f"{RLO}DJ\x00"))
    parts = _plan(post, ready, {"sound": ["source/sound.mp3"]}, "caption", audio=True)
    assert [(p.kind, len(p.files)) for p in parts] == [
        ("photos", 10),
        ("photos", 10),
        ("photos", 3),
        ("audio", 1),
    ]
    assert [p.caption for p in parts] == ["caption", None, None, None]
    assert [f for p in parts[:3] for f in p.files] == ready
    assert parts[3].files == [Path("/media/tiktok/1/source/sound.mp3")]
    assert (parts[3].title, parts[3].performer) == ("songgnos", "DJ")


def test_no_sound_part_when_turned_off_or_missing() -> None:
    post, ready = slideshow(2, Sound(title="t"))
    assert [p.kind for p in _plan(post, ready, {"sound": ["s.mp3"]}, "c", audio=False)] == [
        "photos"
    ]
    assert [p.kind for p in _plan(post, ready, {"sound": []}, "c", audio=True)] == ["photos"]
