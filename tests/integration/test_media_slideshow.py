"""Slideshow videos and cover thumbnails with the real ffmpeg, PyAV and Pillow.

Slides are small solid colours, so each video takes a fraction of a second to make; each slide's
colour is then looked for in the decoded frame at the middle of its time window.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import av
import pytest
from PIL import Image, ImageStat

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.media.images import THUMBNAIL_MAX_BYTES, cover_thumbnail, upright_size
from tikrelay.media.probe import probe
from tikrelay.media.slideshow import slideshow_video
from tikrelay.media.video import TelegramVideo, validate_video
from tikrelay.sandbox.fixtures import MediaFixtures

FFMPEG = ffmpeg_path()
SOUND_SECONDS = 7.5
RGB = tuple[int, int, int]
RED: RGB = (220, 30, 30)
GREEN: RGB = (30, 190, 60)
BLUE: RGB = (40, 60, 220)
YELLOW: RGB = (230, 210, 40)
#: JPEG, then limited-range 4:2:0 H.264, then back to RGB: a few levels of drift per channel.
TOLERANCE = 24


# --- helpers -------------------------------------------------------------------------------------


def make_media(out: Path, *args: str) -> Path:
    subprocess.run(
        [str(FFMPEG), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)],
        check=True,
    )
    return out


def solid(path: Path, size: tuple[int, int], colour: RGB) -> Path:
    Image.new("RGB", size, colour).save(path, quality=95)
    return path


def halves(path: Path, size: tuple[int, int], left: RGB, right: RGB, *, orientation: int) -> Path:
    """A picture whose left half is ``left`` and right half ``right``, stored with an EXIF
    orientation tag (6: a viewer turns it 90° clockwise, so the left half ends up on top)."""
    img = Image.new("RGB", size, right)
    img.paste(left, (0, 0, size[0] // 2, size[1]))
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif, quality=95)
    return path


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 7.5 s tone as AAC in M4A (copied into the video) and as MP3 (encoded to AAC)."""
    folder = tmp_path_factory.mktemp("sounds")
    tone = ("-f", "lavfi", "-i", f"sine=frequency=440:duration={SOUND_SECONDS}")
    return {
        "m4a": make_media(folder / "tone.m4a", *tone, "-c:a", "aac", "-b:a", "64k"),
        "mp3": make_media(folder / "tone.mp3", *tone, "-c:a", "libmp3lame", "-b:a", "64k"),
    }


def frames_at(path: Path, moments: list[float]) -> list[Image.Image]:
    """The decoded frames shown at ``moments`` (seconds), as RGB pictures."""
    with av.open(str(path)) as container:
        decoded = [(float(f.time or 0.0), f.to_image()) for f in container.decode(video=0)]
    shown = []
    for moment in moments:
        started = [picture for time, picture in decoded if time <= moment + 1e-6]
        shown.append(started[-1])
    return shown


def mean_colour(img: Image.Image, box: tuple[int, int, int, int] | None = None) -> RGB:
    red, green, blue = ImageStat.Stat(img.convert("RGB").crop(box or (0, 0, *img.size))).mean
    return round(red), round(green), round(blue)


def close(got: RGB, expected: RGB) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(got, expected, strict=True))


def centre(img: Image.Image) -> RGB:
    """The mean colour of the middle tenth of the picture (away from bars and edges)."""
    width, height = img.size
    return mean_colour(
        img, (width * 9 // 20, height * 9 // 20, width * 11 // 20, height * 11 // 20)
    )


def streams(path: Path) -> tuple[str, str, str | None]:
    with av.open(str(path)) as container:
        video = container.streams.video[0].codec_context
        audio = next(iter(container.streams.audio), None)
        pixels = video.format.name if video.format else ""
        return video.name, pixels, audio.codec_context.name if audio else None


def middles(video: TelegramVideo, slides: int, seconds: float) -> list[float]:
    assert video.duration == pytest.approx(seconds, abs=0.2)
    return [(index + 0.5) * seconds / slides for index in range(slides)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# --- slideshow videos ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["m4a", "mp3"])
def test_slides_share_the_sound_in_order_on_one_letterboxed_canvas(
    sounds: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    slides = [
        solid(tmp_path / "a.jpg", (180, 320), RED),  # the first slide decides the canvas
        solid(tmp_path / "b.jpg", (320, 180), GREEN),  # landscape: bars above and below
        solid(tmp_path / "c.png", (90, 160), BLUE),  # smaller, same shape: fills the canvas
        solid(tmp_path / "d.webp", (240, 240), YELLOW),  # square: bars above and below
    ]
    video = slideshow_video(slides, sounds[fmt], tmp_path / "out", ffmpeg=FFMPEG)

    assert video.path == tmp_path / "out" / "a.slideshow.mp4"
    assert streams(video.path) == ("h264", "yuv420p", "aac")
    assert (video.width, video.height, video.has_audio) == (180, 320, True)
    assert (video.remuxed, video.reencoded) == (False, True)
    assert video.reasons == ("4 slides made into a video with the sound, 1.9 s each",)
    sound_seconds = probe(sounds[fmt]).duration
    assert sound_seconds is not None
    assert video.duration == pytest.approx(sound_seconds, abs=1.0)
    shown = frames_at(video.path, middles(video, 4, SOUND_SECONDS))
    expected = [RED, GREEN, BLUE, YELLOW]
    assert all(close(centre(f), c) for f, c in zip(shown, expected, strict=True)), [
        centre(f) for f in shown
    ]
    # Never stretched: the landscape slide keeps 16:9 (180x101) between black bars.
    landscape = shown[1]
    band = [y for y in range(320) if max(mean_colour(landscape, (88, y, 92, y + 1))) > 60]
    assert len(band) == pytest.approx(101, abs=4)
    assert close(mean_colour(landscape, (0, 0, 180, 100)), (0, 0, 0))
    assert close(mean_colour(shown[2]), BLUE)  # the small slide is scaled up to fill it all
    validate_video(video, max_bytes=50_000_000)
    assert video.thumbnail == tmp_path / "out" / "a.slideshow.thumb.jpg"
    with Image.open(video.thumbnail) as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (180, 320))
        assert close(centre(thumb), RED)
    assert leftovers(tmp_path / "out") == []


def test_without_sound_each_slide_shows_three_seconds_and_the_video_is_silent(
    tmp_path: Path,
) -> None:
    colours = [BLUE, RED, GREEN]
    slides = [solid(tmp_path / f"{i}.jpg", (160, 160), c) for i, c in enumerate(colours)]

    video = slideshow_video(slides, None, tmp_path, ffmpeg=FFMPEG)

    assert streams(video.path) == ("h264", "yuv420p", None)
    assert (video.width, video.height, video.has_audio) == (160, 160, False)
    assert video.reasons == ("3 slides made into a silent video, 3.0 s each",)
    shown = frames_at(video.path, middles(video, 3, 9.0))
    assert [close(centre(f), c) for f, c in zip(shown, colours, strict=True)] == [True] * 3
    validate_video(video, max_bytes=50_000_000)


def test_the_seconds_per_silent_slide_can_be_set(tmp_path: Path) -> None:
    slides = [solid(tmp_path / f"{i}.jpg", (64, 64), c) for i, c in enumerate([RED, BLUE])]
    video = slideshow_video(slides, None, tmp_path, ffmpeg=FFMPEG, seconds_without_sound=1.5)
    assert video.duration == pytest.approx(3.0, abs=0.1)


def test_a_large_first_slide_is_shrunk_into_1080x1920_and_an_odd_one_made_even(
    tmp_path: Path,
) -> None:
    big = solid(tmp_path / "big.jpg", (2160, 3840), RED)
    video = slideshow_video([big], None, tmp_path, ffmpeg=FFMPEG, seconds_without_sound=0.5)
    assert (video.width, video.height) == (1080, 1920)

    odd = solid(tmp_path / "odd.jpg", (101, 57), GREEN)
    video = slideshow_video([odd], None, tmp_path, ffmpeg=FFMPEG, seconds_without_sound=0.5)
    assert (video.width, video.height) == (100, 56)


def test_an_exif_rotated_slide_is_shown_upright(tmp_path: Path) -> None:
    # Stored landscape, blue left and red right; shown portrait, blue on top.
    sideways = halves(tmp_path / "sideways.jpg", (320, 180), BLUE, RED, orientation=6)
    assert upright_size(sideways) == (180, 320)

    video = slideshow_video([sideways], None, tmp_path, ffmpeg=FFMPEG, seconds_without_sound=1)

    assert (video.width, video.height) == (180, 320)
    (frame,) = frames_at(video.path, [0.5])
    assert close(mean_colour(frame, (20, 20, 160, 140)), BLUE)
    assert close(mean_colour(frame, (20, 180, 160, 300)), RED)


def test_many_slides_and_a_short_sound_give_each_slide_half_a_second(tmp_path: Path) -> None:
    short = make_media(tmp_path / "blip.m4a", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
    slides = [solid(tmp_path / f"{i}.jpg", (64, 64), RED) for i in range(4)]
    video = slideshow_video(slides, short, tmp_path / "out", ffmpeg=FFMPEG)
    assert video.duration == pytest.approx(2.0, abs=0.1)  # the pictures outlast the sound
    assert video.has_audio


def test_a_second_call_reuses_the_video_and_a_newer_slide_remakes_it(
    sounds: dict[str, Path], tmp_path: Path
) -> None:
    slides = [solid(tmp_path / f"{i}.jpg", (64, 96), c) for i, c in enumerate([RED, BLUE])]
    first = slideshow_video(slides, sounds["m4a"], tmp_path / "out", ffmpeg=FFMPEG)
    stamp = first.path.stat().st_mtime_ns

    # An ffmpeg that cannot run proves that nothing is made again.
    missing = tmp_path / "no-ffmpeg"
    again = slideshow_video(slides, sounds["m4a"], tmp_path / "out", ffmpeg=missing)
    assert again == first
    assert first.path.stat().st_mtime_ns == stamp

    later = stamp + 10**9
    os.utime(slides[1], ns=(later, later))
    with pytest.raises(TikrelayError) as caught:
        slideshow_video(slides, sounds["m4a"], tmp_path / "out", ffmpeg=missing)
    assert caught.value.kind is ErrorKind.UNKNOWN
    assert "cannot run ffmpeg" in caught.value.message
    # A silent video is a different plan: not taken for the one with sound.
    silent = slideshow_video(slides, None, tmp_path / "out", ffmpeg=FFMPEG)
    assert not silent.has_audio


@pytest.mark.parametrize("problem", ["no slides", "garbage slide", "no sound", "silent sound"])
def test_bad_inputs_are_format_not_found_and_leave_nothing(
    media: MediaFixtures, tmp_path: Path, problem: str
) -> None:
    good = solid(tmp_path / "good.jpg", (64, 64), RED)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"<html>not found</html>")
    slides, sound, named = {
        "no slides": ([], None, "at least one slide"),
        "garbage slide": ([good, garbage], None, "garbage.jpg is not a readable image"),
        "no sound": ([good], tmp_path / "gone.m4a", "gone.m4a is not a readable sound"),
        "silent sound": ([good], media.silent_video(), "has no audio stream"),
    }[problem]
    out = tmp_path / "out"

    with pytest.raises(TikrelayError) as caught:
        slideshow_video(slides, sound, out, ffmpeg=FFMPEG)

    assert caught.value.kind is ErrorKind.FORMAT_NOT_FOUND
    assert named in caught.value.message
    assert not out.exists() or list(out.iterdir()) == []


def test_ffmpeg_past_its_time_limit_is_stopped_and_leaves_no_file(
    sounds: dict[str, Path], tmp_path: Path
) -> None:
    slides = [solid(tmp_path / "a.jpg", (64, 64), RED)]
    out = tmp_path / "out"
    with pytest.raises(TikrelayError) as caught:
        slideshow_video(slides, sounds["mp3"], out, ffmpeg=FFMPEG, timeout=0.001)
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert list(out.iterdir()) == []


# --- cover thumbnails ----------------------------------------------------------------------------


def test_a_big_noisy_photo_becomes_a_thumbnail_within_telegrams_limits(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    Image.frombytes("RGB", (4000, 3000), os.urandom(4000 * 3000 * 3)).save(source, quality=95)

    out = cover_thumbnail(source, tmp_path / "cover.jpg")

    assert out == tmp_path / "cover.jpg"
    assert out.stat().st_size <= THUMBNAIL_MAX_BYTES
    with Image.open(out) as thumb:
        assert (thumb.format, thumb.mode, thumb.size) == ("JPEG", "RGB", (320, 240))
    assert leftovers(tmp_path) == []


def test_an_exif_rotated_cover_comes_out_upright(tmp_path: Path) -> None:
    source = halves(tmp_path / "sideways.jpg", (800, 400), BLUE, RED, orientation=6)

    out = cover_thumbnail(source, tmp_path / "cover.jpg")

    with Image.open(out) as thumb:
        assert thumb.size == (160, 320)
        assert thumb.getexif().get(0x0112, 1) == 1
        assert close(mean_colour(thumb, (10, 10, 150, 150)), BLUE)  # top
        assert close(mean_colour(thumb, (10, 170, 150, 310)), RED)  # bottom


@pytest.mark.parametrize("fmt", ["heic", "webp"])
def test_heic_and_webp_covers_become_jpeg(media: MediaFixtures, tmp_path: Path, fmt: str) -> None:
    out = cover_thumbnail(media.image(3, fmt), tmp_path / "cover.jpg")
    with Image.open(out) as thumb, Image.open(media.image(3, "jpeg")) as reference:
        assert (thumb.format, thumb.size) == ("JPEG", (180, 320))
        expected = mean_colour(reference.convert("RGB"), (0, 600, 360, 640))  # below the label
        assert close(mean_colour(thumb, (0, 302, 180, 320)), expected)


def test_a_small_transparent_cover_is_not_enlarged_and_is_flattened_on_white(
    tmp_path: Path,
) -> None:
    source = tmp_path / "logo.png"
    Image.new("RGBA", (100, 50), (0, 0, 0, 0)).save(source)
    with Image.open(cover_thumbnail(source, tmp_path / "cover.jpg")) as thumb:
        assert thumb.size == (100, 50)
        assert min(mean_colour(thumb)) >= 250


def test_a_huge_colour_profile_is_dropped_rather_than_the_size_limit_broken(
    tmp_path: Path,
) -> None:
    source = tmp_path / "profiled.jpg"
    Image.new("RGB", (64, 64), GREEN).save(source, icc_profile=os.urandom(300_000))

    out = cover_thumbnail(source, tmp_path / "cover.jpg")

    assert out.stat().st_size <= THUMBNAIL_MAX_BYTES
    with Image.open(out) as thumb:
        assert thumb.info.get("icc_profile") is None


def test_a_cover_is_reused_until_its_source_changes(tmp_path: Path) -> None:
    source = solid(tmp_path / "slide.jpg", (640, 360), RED)
    out = cover_thumbnail(source, tmp_path / "cover.jpg")
    stamp = out.stat().st_mtime_ns
    assert cover_thumbnail(source, out) == out
    assert out.stat().st_mtime_ns == stamp

    later = stamp + 10**9
    solid(source, (640, 360), BLUE)
    os.utime(source, ns=(later, later))
    with Image.open(cover_thumbnail(source, out)) as thumb:
        assert close(centre(thumb), BLUE)


def test_an_unreadable_cover_is_format_not_found_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "cover.webp"
    source.write_bytes(b"<html>not found</html>")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(TikrelayError) as caught:
        cover_thumbnail(source, out_dir / "cover.jpg")
    assert caught.value.kind is ErrorKind.FORMAT_NOT_FOUND
    assert "cover.webp is not a readable image" in caught.value.message
    assert list(out_dir.iterdir()) == []
