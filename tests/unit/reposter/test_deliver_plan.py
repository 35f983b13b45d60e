"""How a prepared post becomes parts to send: albums of at most ten, the caption once, the sound
last with a title and performer that cannot reorder the line they are shown on."""

from __future__ import annotations

from pathlib import Path

from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.reposter.deliver import _plan
from tikrelay.reposter.media_cache import Downloaded
from tikrelay.reposter.parts import AlbumPart, AudioPart

RLO = "\u202e"
FOLDER = Path("/media/tiktok/1")


def slideshow(images: int, sound: Sound | None) -> tuple[Post, list[Path]]:
    post = Post(site="tiktok", id="1", kind=PostKind.SLIDESHOW, url="u", author="a", sound=sound)
    return post, [FOLDER / "telegram" / f"slide-{i:02d}.jpg" for i in range(1, images + 1)]


def test_albums_of_ten_in_order_with_the_caption_on_the_first_then_the_sound() -> None:
    post, ready = slideshow(23, Sound(title=f"song{RLO}gnos", author=f"{RLO}DJ\x00"))
    files = Downloaded(sound="source/sound.mp3")
    parts = _plan(post, ready, files, FOLDER, "caption", audio=True)
    albums = [p for p in parts if isinstance(p, AlbumPart)]
    assert [len(a.photos) for a in albums] == [10, 10, 3]
    assert [a.caption for a in albums] == ["caption", None, None]
    assert [photo for a in albums for photo in a.photos] == ready
    assert [p.index for p in parts] == [0, 1, 2, 3]
    sound = parts[3]
    assert isinstance(sound, AudioPart)
    assert sound.file == FOLDER / "source" / "sound.mp3"
    assert (sound.title, sound.performer) == ("songgnos", "DJ")


def test_no_sound_part_when_turned_off_or_missing() -> None:
    post, ready = slideshow(2, Sound(title="t"))
    with_sound = Downloaded(sound="s.mp3")
    assert [type(p) for p in _plan(post, ready, with_sound, FOLDER, "c", audio=False)] == [
        AlbumPart
    ]
    assert [type(p) for p in _plan(post, ready, Downloaded(), FOLDER, "c", audio=True)] == [
        AlbumPart
    ]


def test_the_manifest_reads_what_earlier_versions_wrote() -> None:
    video = Downloaded(video="source/video.mp4")
    slides = Downloaded(images=("source/slide-01.jpg",), sound="source/sound.mp3")
    for files in (video, slides, Downloaded(images=("a.jpg",))):
        assert Downloaded.from_json(files.to_json()) == files
    assert Downloaded.from_json('{"video": ["source/video.mp4"]}') == video
    assert (
        Downloaded.from_json('{"images": ["source/slide-01.jpg"], "sound": ["source/sound.mp3"]}')
        == slides
    )
    assert slides.files == ["source/slide-01.jpg", "source/sound.mp3"]
