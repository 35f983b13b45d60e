"""How a prepared post becomes parts to send: albums of at most ten, the caption once, the sound
last with a title and performer that cannot reorder the line they are shown on."""

from __future__ import annotations

from pathlib import Path

from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.media.video import TelegramVideo
from tikrelay.reposter.deliver import Prepared, _plan
from tikrelay.reposter.media_cache import Downloaded
from tikrelay.reposter.parts import AlbumPart, AudioPart, VideoPart

RLO = "\u202e"
FOLDER = Path("/media/tiktok/1")
VIDEO = TelegramVideo(
    path=FOLDER / "telegram" / "slides.telegram.mp4",
    width=720,
    height=1280,
    duration=9.0,
    thumbnail=None,
    size=1000,
    remuxed=False,
    reencoded=True,
)


def slideshow(images: int, sound: Sound | None) -> tuple[Post, list[Path]]:
    post = Post(site="tiktok", id="1", kind=PostKind.SLIDESHOW, url="u", author="a", sound=sound)
    return post, [FOLDER / "telegram" / f"slide-{i:02d}.jpg" for i in range(1, images + 1)]


def test_albums_of_ten_in_order_with_the_caption_on_the_first_then_the_sound() -> None:
    post, ready = slideshow(23, Sound(title=f"song{RLO}gnos", author=f"{RLO}DJ\x00"))
    cover = FOLDER / "telegram" / "cover.jpg"
    prepared = Prepared(None, ready, FOLDER / "source" / "sound.mp3", cover)
    parts = _plan(post, prepared, "caption")
    albums = [p for p in parts if isinstance(p, AlbumPart)]
    assert [len(a.photos) for a in albums] == [10, 10, 3]
    assert [a.caption for a in albums] == ["caption", None, None]
    assert [photo for a in albums for photo in a.photos] == ready
    assert [p.index for p in parts] == [0, 1, 2, 3]
    sound = parts[3]
    assert isinstance(sound, AudioPart)
    assert sound.file == FOLDER / "source" / "sound.mp3"
    assert (sound.title, sound.performer) == ("songgnos", "DJ")
    assert sound.cover == cover


def test_no_sound_part_without_a_sound_file_or_a_sound() -> None:
    post, ready = slideshow(2, Sound(title="t"))
    assert [type(p) for p in _plan(post, Prepared(None, ready), "c")] == [AlbumPart]
    silent, _ = slideshow(2, None)
    with_file = Prepared(None, ready, FOLDER / "s.mp3")
    assert [type(p) for p in _plan(silent, with_file, "c")] == [AlbumPart]


def test_slideshow_as_video_alone_carries_the_caption() -> None:
    post, _ = slideshow(3, Sound(title="t"))
    parts = _plan(post, Prepared(VIDEO, []), "caption")
    assert parts == [VideoPart(0, VIDEO, "caption")]


def test_slideshow_as_both_sends_albums_then_the_video_then_the_sound() -> None:
    post, ready = slideshow(12, Sound(title="t"))
    parts = _plan(post, Prepared(VIDEO, ready, FOLDER / "s.m4a"), "caption")
    assert [type(p) for p in parts] == [AlbumPart, AlbumPart, VideoPart, AudioPart]
    assert [p.index for p in parts] == [0, 1, 2, 3]
    assert isinstance(parts[2], VideoPart)
    assert parts[2].caption is None


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
