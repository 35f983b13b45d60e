"""Media preparation for Telegram with the real ffmpeg, PyAV and Pillow on the sandbox fixtures."""

from __future__ import annotations

import os
import stat
import struct
import subprocess
from pathlib import Path

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.media.images import MAX_RATIO, MAX_SIDES_SUM, fit_geometry, to_jpeg
from tikrelay.media.probe import probe
from tikrelay.media.video import TelegramVideo, fit_video, prepare_video, validate_video
from tikrelay.sandbox.fixtures import MediaFixtures

FFMPEG = ffmpeg_path()


# --- helpers -------------------------------------------------------------------------------------


def top_level_boxes(path: Path) -> list[str]:
    """The MP4 top-level box types in file order."""
    data = path.read_bytes()
    found: list[str] = []
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
        elif size == 0:
            size = len(data) - at
        found.append(kind.decode("latin-1"))
        at += size
    return found


def zero_media_data(mp4: bytes) -> bytes:
    """The file with its headers intact and every byte of media data zeroed."""
    data = bytearray(mp4)
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"mdat":
            data[at + 8 : at + size] = bytes(size - 8)
        at += size
    return bytes(data)


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def make_media(out: Path, *args: str) -> Path:
    subprocess.run(
        [str(FFMPEG), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)],
        check=True,
    )
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.fixture
def counting_ffmpeg(tmp_path: Path) -> tuple[Path, Path]:
    """The real ffmpeg behind a script that appends one line per run to a log."""
    log = tmp_path / "ffmpeg-runs.log"
    script = tmp_path / "ffmpeg-counting"
    script.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec "{FFMPEG}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def assert_thumbnail(video: TelegramVideo, expected_size: tuple[int, int]) -> None:
    assert video.thumbnail is not None
    assert video.thumbnail.stat().st_size < 200_000
    with Image.open(video.thumbnail) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == expected_size
        assert max(thumb.size) <= 320


# --- videos --------------------------------------------------------------------------------------


def test_h264_aac_is_remuxed_with_moov_first_and_packets_untouched(
    media: MediaFixtures, tmp_path: Path
) -> None:
    # A copy without +faststart: the moov box trails the media data, as many downloads do.
    source = make_media(tmp_path / "late-moov.mp4", "-i", str(media.clean_video()), "-c", "copy")
    boxes = top_level_boxes(source)
    assert boxes.index("mdat") < boxes.index("moov")

    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    assert (video.remuxed, video.reencoded, video.has_audio) == (True, False, True)
    assert video.path == tmp_path / "out" / "late-moov.telegram.mp4"
    boxes = top_level_boxes(video.path)
    assert boxes.index("moov") < boxes.index("mdat")
    info = probe(video.path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert video_packets(video.path) == video_packets(source)
    assert (video.width, video.height) == (144, 256)
    assert video.duration == pytest.approx(1.0, abs=0.1)
    assert video.size == video.path.stat().st_size
    assert_thumbnail(video, (144, 256))  # small videos are not upscaled
    assert leftovers(tmp_path / "out") == []


def test_hevc_without_audio_is_reencoded_to_h264(media: MediaFixtures, tmp_path: Path) -> None:
    video = prepare_video(media.hevc_video_only(), tmp_path, ffmpeg=FFMPEG)

    assert (video.remuxed, video.reencoded, video.has_audio) == (False, True, False)
    info = probe(video.path)
    assert (info.video_codec, info.audio_codec) == ("h264", None)
    assert (video.width, video.height) == (288, 512)
    assert "moov" in top_level_boxes(video.path)
    assert_thumbnail(video, (180, 320))
    validate_video(video, max_bytes=50_000_000)


def test_vp9_opus_webm_gets_both_streams_reencoded(tmp_path: Path) -> None:
    source = make_media(
        tmp_path / "clip.webm",
        *("-f", "lavfi", "-i", "testsrc2=size=161x287:rate=10:duration=0.5"),
        *("-f", "lavfi", "-i", "sine=frequency=500:duration=0.5"),
        *("-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus", "-shortest"),
    )
    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    info = probe(video.path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    # Odd sizes are rounded down to even ones, which yuv420p H.264 needs.
    assert (video.width, video.height) == (160, 286)
    assert video.reencoded


def test_h264_with_mp3_keeps_the_video_and_reencodes_only_the_audio(tmp_path: Path) -> None:
    source = make_media(
        tmp_path / "mp3-audio.mkv",
        *("-f", "lavfi", "-i", "testsrc2=size=128x128:rate=10:duration=0.5"),
        *("-f", "lavfi", "-i", "sine=frequency=500:duration=0.5"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        *("-c:a", "libmp3lame", "-shortest"),
    )
    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    assert (video.remuxed, video.reencoded) == (False, True)
    info = probe(video.path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert video_packets(video.path) == video_packets(source)


def test_thumbnail_falls_back_to_the_first_frame(
    tmp_path: Path, counting_ffmpeg: tuple[Path, Path]
) -> None:
    # A single picture: nothing is decoded at the usual offset a quarter of the way in.
    ffmpeg, log = counting_ffmpeg
    source = make_media(
        tmp_path / "still.mp4",
        *("-f", "lavfi", "-i", "color=c=red:size=640x360:rate=1:duration=1"),
        *("-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"),
    )
    video = prepare_video(source, tmp_path / "out", ffmpeg=ffmpeg)

    assert runs(log) == 3  # the remux, the thumbnail at the offset, the one at 0 s
    assert_thumbnail(video, (320, 180))


def test_a_video_stream_without_a_keyframe_is_format_not_found(
    media: MediaFixtures, tmp_path: Path
) -> None:
    # A cut-off download: the opening keyframe is missing, so no frame can be decoded or copied.
    source = tmp_path / "headless.mp4"
    with av.open(str(media.clean_video())) as inp, av.open(str(source), "w") as out:
        copied = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None and not packet.is_keyframe:
                packet.stream = copied
                out.mux(packet)
    assert probe(source).video_codec == "h264"

    with pytest.raises(TikrelayError) as caught:
        prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    assert caught.value.kind is ErrorKind.FORMAT_NOT_FOUND
    assert "video stream of headless.mp4 has no usable frames" in caught.value.message
    assert list((tmp_path / "out").iterdir()) == []


def test_second_call_reuses_the_output_without_running_ffmpeg(
    media: MediaFixtures, tmp_path: Path, counting_ffmpeg: tuple[Path, Path]
) -> None:
    ffmpeg, log = counting_ffmpeg
    first = prepare_video(media.clean_video(), tmp_path / "out", ffmpeg=ffmpeg)
    made = runs(log)
    assert made == 2  # the remux and the thumbnail
    stamps = (first.path.stat().st_mtime_ns, first.thumbnail and first.thumbnail.stat().st_mtime_ns)

    second = prepare_video(media.clean_video(), tmp_path / "out", ffmpeg=ffmpeg)

    assert second == first
    assert runs(log) == made
    assert stamps == (
        second.path.stat().st_mtime_ns,
        second.thumbnail and second.thumbnail.stat().st_mtime_ns,
    )


def test_a_broken_or_outdated_output_is_made_again(
    media: MediaFixtures, tmp_path: Path, counting_ffmpeg: tuple[Path, Path]
) -> None:
    ffmpeg, log = counting_ffmpeg
    source = tmp_path / "clip.mp4"
    source.write_bytes(media.clean_video().read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip.telegram.mp4").write_bytes(b"half a file")

    video = prepare_video(source, out, ffmpeg=ffmpeg)
    assert probe(video.path).video_codec == "h264"
    assert runs(log) == 2

    # A newer download of the same name replaces what was made from the old one.
    later = video.path.stat().st_mtime_ns + 10**9
    os.utime(source, ns=(later, later))
    prepare_video(source, out, ffmpeg=ffmpeg)
    assert runs(log) == 4


@pytest.mark.parametrize("kind", ["garbage", "audio only", "missing"])
def test_sources_without_video_are_format_not_found(
    media: MediaFixtures, tmp_path: Path, kind: str
) -> None:
    source = {
        "garbage": tmp_path / "garbage.mp4",
        "audio only": media.music(),
        "missing": tmp_path / "gone.mp4",
    }[kind]
    if kind == "garbage":
        source.write_bytes(os.urandom(4096))

    with pytest.raises(TikrelayError) as caught:
        prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    assert caught.value.kind is ErrorKind.FORMAT_NOT_FOUND
    expected = "has no video stream" if kind == "audio only" else "is not a readable video"
    assert expected in caught.value.message
    assert source.name in caught.value.message


def test_ffmpeg_failure_is_unknown_with_its_error_output_and_leaves_no_file(
    media: MediaFixtures, tmp_path: Path
) -> None:
    # Headers intact (so probing succeeds) but every HEVC frame zeroed: decoding fails.
    source = tmp_path / "zeroed.mp4"
    source.write_bytes(zero_media_data(media.hevc_video_only().read_bytes()))
    out = tmp_path / "out"

    with pytest.raises(TikrelayError) as caught:
        prepare_video(source, out, ffmpeg=FFMPEG)

    assert caught.value.kind is ErrorKind.UNKNOWN
    assert "ffmpeg failed converting zeroed.mp4" in caught.value.message
    assert "hevc" in caught.value.message  # the decoder's own words
    assert list(out.iterdir()) == []


def test_ffmpeg_past_its_time_limit_is_stopped_and_leaves_no_file(
    media: MediaFixtures, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(TikrelayError) as caught:
        prepare_video(media.hevc_video_only(), out, ffmpeg=FFMPEG, timeout=0.001)

    assert caught.value.kind is ErrorKind.TIMEOUT
    assert list(out.iterdir()) == []


def test_validate_refuses_a_file_over_the_limit_with_both_sizes(
    media: MediaFixtures, tmp_path: Path
) -> None:
    video = prepare_video(media.clean_video(), tmp_path, ffmpeg=FFMPEG)
    validate_video(video, max_bytes=video.size)

    big = TelegramVideo(
        path=video.path.with_name("big.mp4"),
        width=video.width,
        height=video.height,
        duration=video.duration,
        thumbnail=None,
        size=0,
        remuxed=True,
        reencoded=False,
    )
    # A real H.264 file padded (sparsely) to 52.5 MB: the size comes from the file, not the record.
    big.path.write_bytes(video.path.read_bytes())
    with big.path.open("r+b") as fh:
        fh.truncate(52_500_000)

    with pytest.raises(TikrelayError) as caught:
        validate_video(big, max_bytes=50_000_000)

    assert caught.value.kind is ErrorKind.SIZE_LIMIT
    assert "big.mp4 is 52.5 MB, the limit is 50 MB" in caught.value.message


def test_validate_refuses_what_telegram_cannot_play(media: MediaFixtures, tmp_path: Path) -> None:
    hevc = media.hevc_video_only()
    record = TelegramVideo(hevc, 288, 512, 1.0, None, hevc.stat().st_size, False, False)
    with pytest.raises(TikrelayError) as caught:
        validate_video(record, max_bytes=50_000_000)
    assert caught.value.kind is ErrorKind.FORMAT_NOT_FOUND
    assert "video codec is hevc, not h264" in caught.value.message

    gone = TelegramVideo(tmp_path / "gone.mp4", 1, 1, 1.0, None, 1, True, False)
    with pytest.raises(TikrelayError) as caught:
        validate_video(gone, max_bytes=50_000_000)
    assert caught.value.kind is ErrorKind.UNKNOWN


# --- images --------------------------------------------------------------------------------------


def rgb(img: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    pixel = img.getpixel(xy)
    assert isinstance(pixel, tuple)
    assert len(pixel) == 3
    return pixel[0], pixel[1], pixel[2]


def jpeg_facts(path: Path) -> tuple[str | None, str, tuple[int, int]]:
    with Image.open(path) as img:
        return img.format, img.mode, img.size


def test_a_fitting_jpeg_is_copied_byte_for_byte(media: MediaFixtures, tmp_path: Path) -> None:
    source = media.image(0, "jpeg")
    out = to_jpeg(source, tmp_path / "slide.jpg")
    assert out.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("fmt", ["webp", "heic"])
def test_webp_and_heic_become_jpeg(media: MediaFixtures, tmp_path: Path, fmt: str) -> None:
    out = to_jpeg(media.image(3, fmt), tmp_path / f"slide-{fmt}.jpg")

    assert jpeg_facts(out) == ("JPEG", "RGB", (360, 640))
    with Image.open(media.image(3, "jpeg")) as reference, Image.open(out) as made:
        # The fixture's colour survives the conversion (lossy, so within a few levels).
        expected, got = rgb(reference.convert("RGB"), (5, 5)), rgb(made, (5, 5))
        assert all(abs(a - b) <= 8 for a, b in zip(expected, got, strict=True))


def test_png_transparency_is_flattened_on_white(tmp_path: Path) -> None:
    source = tmp_path / "alpha.png"
    img = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    img.paste((200, 0, 0, 255), (100, 0, 200, 100))
    img.save(source)

    out = to_jpeg(source, tmp_path / "alpha.jpg")

    with Image.open(out) as made:
        assert (made.format, made.mode, made.size) == ("JPEG", "RGB", (200, 100))
        assert min(rgb(made, (20, 50))) >= 250  # was transparent
        red, green, _ = rgb(made, (180, 50))
        assert red > 180
        assert green < 40


def test_sixteen_bit_grey_png_keeps_its_tones(tmp_path: Path) -> None:
    source = tmp_path / "grey16.png"
    Image.new("I;16", (64, 64), 32768).save(source)
    with Image.open(to_jpeg(source, tmp_path / "grey16.jpg")) as made:
        assert all(120 <= v <= 136 for v in rgb(made, (10, 10)))


def test_exif_orientation_is_applied(media: MediaFixtures, tmp_path: Path) -> None:
    source = tmp_path / "sideways.jpg"
    with Image.open(media.image(1, "jpeg")) as img:
        exif = img.getexif()
        exif[0x0112] = 6  # rotate 90° clockwise to display
        img.save(source, exif=exif, quality=90)

    out = to_jpeg(source, tmp_path / "upright.jpg")

    with Image.open(out) as made:
        assert made.size == (640, 360)
        assert made.getexif().get(0x0112, 1) == 1


def test_an_extreme_ratio_is_downscaled_and_padded(tmp_path: Path) -> None:
    source = tmp_path / "banner.png"
    Image.new("RGB", (12000, 300), (10, 120, 10)).save(source)

    out = to_jpeg(source, tmp_path / "banner.jpg")

    with Image.open(out) as made:
        width, height = made.size
        assert width + height <= MAX_SIDES_SUM
        assert width <= MAX_RATIO * height
        assert width > 9000  # shrunk only as much as the rules need
        assert min(rgb(made, (width // 2, 2))) >= 250  # white bar at the top
        red, green, _ = rgb(made, (width // 2, height // 2))
        assert green > 100
        assert red < 40


def test_an_image_over_the_byte_limit_is_compressed_until_it_fits(tmp_path: Path) -> None:
    source = tmp_path / "noise.png"
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(source)

    out = to_jpeg(source, tmp_path / "noise.jpg", max_bytes=60_000)

    assert out.stat().st_size <= 60_000
    fmt, mode, size = jpeg_facts(out)
    assert (fmt, mode) == ("JPEG", "RGB")
    assert size[0] == size[1] < 600  # shrunk, ratio kept


def test_jpeg_too_big_for_the_limit_is_recompressed(media: MediaFixtures, tmp_path: Path) -> None:
    source = media.image(2, "jpeg")
    limit = source.stat().st_size - 1
    out = to_jpeg(source, tmp_path / "smaller.jpg", max_bytes=limit)
    assert out.stat().st_size <= limit
    assert out.read_bytes() != source.read_bytes()


def test_second_conversion_reuses_the_file(media: MediaFixtures, tmp_path: Path) -> None:
    out = to_jpeg(media.image(4, "webp"), tmp_path / "slide.jpg")
    stamp = out.stat().st_mtime_ns
    assert to_jpeg(media.image(4, "webp"), out) == out
    assert out.stat().st_mtime_ns == stamp


def test_not_an_image_is_format_not_found_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "slide.webp"
    source.write_bytes(b"<html>not found</html>")
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    with pytest.raises(TikrelayError) as caught:
        to_jpeg(source, out_dir / "slide.jpg")

    assert caught.value.kind is ErrorKind.FORMAT_NOT_FOUND
    assert "slide.webp is not a readable image" in caught.value.message
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "heic"])
def test_a_cut_off_image_is_format_not_found(
    media: MediaFixtures, tmp_path: Path, fmt: str
) -> None:
    data = media.image(5, fmt).read_bytes()
    source = tmp_path / f"cut.{fmt}"
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(TikrelayError) as caught:
        to_jpeg(source, tmp_path / "cut.jpg")
    assert caught.value.kind is ErrorKind.FORMAT_NOT_FOUND
    assert not (tmp_path / "cut.jpg").exists()
    assert leftovers(tmp_path) == []


@given(st.integers(1, 300_000), st.integers(1, 300_000))
def test_fitted_geometry_meets_telegrams_rules(width: int, height: int) -> None:
    picture, canvas = fit_geometry(width, height)
    assert sum(canvas) <= MAX_SIDES_SUM
    assert max(canvas) <= MAX_RATIO * min(canvas)
    assert all(p <= c for p, c in zip(picture, canvas, strict=True))
    assert all(p <= o for p, o in zip(picture, (width, height), strict=True))
    if width + height <= MAX_SIDES_SUM and max(width, height) <= MAX_RATIO * min(width, height):
        assert picture == canvas == (width, height)


# -- what plays everywhere: 8-bit 4:2:0, upright ------------------------------------------------


def test_10_bit_h264_is_reencoded_to_8_bit_with_the_reason(tmp_path: Path) -> None:
    source = make_media(
        tmp_path / "ten.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=144x256:rate=15:duration=1"),
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=1"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-c:a", "aac", "-shortest"),
    )
    assert probe(source).pixel_format == "yuv420p10le"

    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    info = probe(video.path)
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (video.remuxed, video.reencoded) == (False, True)
    assert video.reasons == (
        "pixel format yuv420p10le (High 10) does not play everywhere; 8-bit 4:2:0 does",
    )
    validate_video(video, max_bytes=50_000_000)


def test_a_rotated_video_is_turned_upright(tmp_path: Path) -> None:
    plain = make_media(
        tmp_path / "plain.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=256x144:rate=15:duration=1"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p"),
    )
    # A landscape clip with a display matrix that turns it to portrait, as phones record.
    source = make_media(
        tmp_path / "rotated.mp4", "-display_rotation", "90", "-i", str(plain), "-c", "copy"
    )
    assert (probe(source).rotation, probe(source).width) == (90, 256)

    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    info = probe(video.path)
    assert (info.rotation, info.width, info.height) == (0, 144, 256)  # upright pixels
    assert (video.width, video.height) == (144, 256)
    assert video.reasons == ("rotated 90 degrees by its display matrix: turned upright",)


def test_hev1_hevc_is_reencoded_and_a_friendly_source_is_not(
    media: MediaFixtures, tmp_path: Path
) -> None:
    hev1 = make_media(
        tmp_path / "hev1.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=144x256:rate=15:duration=1"),
        *("-c:v", "libx265", "-tag:v", "hev1", "-x265-params", "log-level=error"),
    )
    converted = prepare_video(hev1, tmp_path / "a", ffmpeg=FFMPEG)
    assert converted.reasons == ("video codec hevc (tag hev1) is not H.264",)
    assert probe(converted.path).video_codec == "h264"

    friendly = prepare_video(media.clean_video(3), tmp_path / "b", ffmpeg=FFMPEG)
    assert (friendly.remuxed, friendly.reasons) == (True, ())


def test_av1_in_mp4_is_reencoded_with_the_reason(tmp_path: Path) -> None:
    source = make_media(
        tmp_path / "av1.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=144x256:rate=15:duration=1"),
        *("-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "log-level=0"),
    )
    assert probe(source).video_codec in ("av1", "libdav1d", "libaom-av1")

    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)

    info = probe(video.path)
    assert (info.video_codec, info.pixel_format) == ("h264", "yuv420p")
    assert len(video.reasons) == 1
    assert video.reasons[0].endswith("is not H.264")
    assert "(tag av01)" in video.reasons[0]


# -- size fit --------------------------------------------------------------------------------


def test_a_video_over_the_limit_is_compressed_to_fit_keeping_its_duration_and_sound(
    tmp_path: Path,
) -> None:
    source = make_media(
        tmp_path / "big.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=25:duration=3"),
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=3"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-qp", "5", "-c:a", "aac", "-shortest"),
    )
    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)
    limit = 300_000
    assert video.size > limit

    fitted = fit_video(video, tmp_path / "out", max_bytes=limit, ffmpeg=FFMPEG)

    assert fitted.size <= limit
    assert fitted.path.stat().st_size == fitted.size
    info = probe(fitted.path)
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert info.duration == pytest.approx(3.0, abs=0.2)
    assert min(info.width or 0, info.height or 0) >= 480  # the source had 720
    assert "over the 300,000-byte upload limit: re-encoded at" in fitted.reasons[-1]
    assert fitted.thumbnail is not None
    validate_video(fitted, max_bytes=limit)
    assert fit_video(fitted, tmp_path / "out", max_bytes=limit, ffmpeg=FFMPEG) is fitted


def test_a_video_that_cannot_fit_is_a_size_limit_error(tmp_path: Path) -> None:
    source = make_media(
        tmp_path / "long.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=144x256:rate=15:duration=20"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"),
    )
    video = prepare_video(source, tmp_path / "out", ffmpeg=FFMPEG)
    with pytest.raises(TikrelayError) as raised:
        fit_video(video, tmp_path / "out", max_bytes=20_000, ffmpeg=FFMPEG)
    assert raised.value.kind is ErrorKind.SIZE_LIMIT
    assert raised.value.retryable is False
