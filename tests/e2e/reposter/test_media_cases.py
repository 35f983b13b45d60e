"""Media that plays everywhere, end to end: videos of every awkward kind served by the emulated
TikTok go through `tikrelay run --once`, and what the Telegram emulator received is decoded: H.264
8-bit 4:2:0 with AAC, upright, re-encoded only when needed; a 60 MB video is compressed under the
50 MB limit (or sent unchanged to a local Bot API server); slideshows become videos."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image

from tests.support.relayed import FAST, TOKEN, Relayed
from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.media.probe import probe
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

FFMPEG = ffmpeg_path()
LIMIT = 50 * 1024 * 1024  # the cloud Bot API's 50 MB
TESTSRC = "testsrc2=size=144x256:rate=15:duration=2"
SINE = "sine=frequency=440:duration=2"


def make(out: Path, *args: str) -> Path:
    subprocess.run(
        [str(FFMPEG), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)],
        check=True,
    )
    return out


def with_sound(*video: str) -> list[str]:
    return ["-f", "lavfi", "-i", TESTSRC, "-f", "lavfi", "-i", SINE, *video, "-shortest"]


#: name: (file name, ffmpeg arguments, the reason expected on the timeline or None: remuxed)
CASES = {
    "10-bit H.264": (
        "ten.mp4",
        with_sound("-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-c:a", "aac"),
        "yuv420p10le",
    ),
    "VP9 in WebM": (
        "vp9.webm",
        with_sound(
            "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"
        ),
        "vp9",
    ),
    "AV1 in MP4": (
        "av1.mp4",
        with_sound(
            "-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "log-level=0", "-c:a", "aac"
        ),
        "av01",
    ),
    "hev1 HEVC": (
        "hev1.mp4",
        with_sound(
            "-c:v", "libx265", "-tag:v", "hev1", "-x265-params", "log-level=error", "-c:a", "aac"
        ),
        "hev1",
    ),
    "hvc1 HEVC": (
        "hvc1.mp4",
        with_sound(
            "-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error", "-c:a", "aac"
        ),
        "hvc1",
    ),
    "no audio": (
        "mute.mp4",
        ["-f", "lavfi", "-i", TESTSRC, "-c:v", "libx264", "-pix_fmt", "yuv420p"],
        None,
    ),
    "friendly H.264/AAC": (
        "plain.mp4",
        with_sound("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        None,
    ),
}


def received_video(relayed: Relayed, chat_id: int) -> Path:
    [message] = [m for m in relayed.telegram.messages(chat_id) if "video" in m]
    return relayed.telegram.file_path(message["video"]["file_id"])


def relay_one_video(relayed: Relayed, source: Path, desc: str) -> Path:
    """``source`` as a TikTok post of @alice, relayed to a channel by ``run --once``: the file
    the Telegram emulator received."""
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    world.add_video("alice", desc=desc, file=source)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    return received_video(relayed, channel.id)


def assert_plays_everywhere(path: Path) -> None:
    info = probe(path)
    assert info.video_codec == "h264"
    assert info.pixel_format in ("yuv420p", "yuvj420p")
    assert info.audio_codec in ("aac", None)
    assert info.rotation == 0


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_video_arrives_as_h264_aac_re_encoded_only_when_needed(
    relayed: Relayed, tmp_path: Path, case: str
) -> None:
    name, args, reason = CASES[case]
    source = make(tmp_path / name, *args)
    got = relay_one_video(relayed, source, case)
    assert_plays_everywhere(got)
    assert probe(got).duration == pytest.approx(probe(source).duration, abs=0.3)
    shown = relayed.newest_timeline("deliver")
    assert "VIDEO_PREPARED" in shown, shown
    if reason is None:
        assert "remuxed" in shown, shown
        # The video stream was copied: not one packet re-encoded.
        assert video_packets(got) == video_packets(source)
    else:
        assert "re-encoded" in shown, shown
        assert reason in shown, shown
    if case == "no audio":
        assert probe(got).audio_codec is None
    else:
        assert probe(got).audio_codec == "aac"


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def test_a_rotated_portrait_clip_arrives_upright(relayed: Relayed, tmp_path: Path) -> None:
    # A landscape-coded clip whose display matrix turns it portrait, as phones record; the left
    # half red, the right half blue, so that the upright picture has red on top.
    plain = make(
        tmp_path / "plain.mp4",
        *("-f", "lavfi", "-i", "color=red:size=128x72:rate=15:duration=1"),
        *("-f", "lavfi", "-i", "color=blue:size=128x72:rate=15:duration=1"),
        *("-filter_complex", "[0][1]hstack", "-c:v", "libx264", "-pix_fmt", "yuv420p"),
    )
    source = make(
        tmp_path / "rotated.mp4", "-display_rotation", "90", "-i", str(plain), "-c", "copy"
    )
    got = relay_one_video(relayed, source, "turned")
    info = probe(got)
    assert (info.width, info.height, info.rotation) == (72, 256, 0)
    # What a player shows: the first frame's top and bottom colours, as decoded pixels.
    with av.open(str(got)) as container:
        frame = next(container.decode(video=0)).to_image()
    top = frame.getpixel((frame.width // 2, frame.height // 8))
    bottom = frame.getpixel((frame.width // 2, frame.height * 7 // 8))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert {color_name(top), color_name(bottom)} == {"red", "blue"}


def color_name(pixel: tuple[int, ...]) -> str:
    red, _, blue = pixel[:3]
    return "red" if red > blue else "blue"


def sixty_megabytes(folder: Path) -> Path:
    """About 63 MB of H.264/AAC, 3.5 s of 540x960 noise."""
    return make(
        folder / "big.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=540x960:rate=30:duration=3.5,noise=alls=60:allf=t"),
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=3.5"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-qp", "16", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-shortest"),
    )


def test_a_60_mb_video_is_compressed_under_50_mb_keeping_duration_and_480_px(
    relayed: Relayed, tmp_path: Path
) -> None:
    source = sixty_megabytes(tmp_path)
    assert source.stat().st_size > 60 * 1000 * 1000
    got = relay_one_video(relayed, source, "big")
    assert got.stat().st_size <= LIMIT
    assert_plays_everywhere(got)
    info = probe(got)
    assert info.duration == pytest.approx(3.5, abs=0.2)
    assert min(info.width or 0, info.height or 0) >= 480
    assert info.audio_codec == "aac"
    shown = relayed.newest_timeline("deliver")
    assert "upload limit: re-encoded at" in shown, shown


@pytest.fixture
def local_relayed(media: MediaFixtures, tmp_path: Path) -> Iterator[Relayed]:
    """The emulators, Telegram's as a local Bot API server (uploads up to 2000 MB)."""
    world = TikTokWorld(media)
    with (
        TikTokEmulator(world).running() as tiktok,
        TelegramEmulator(TOKEN, files_dir=tmp_path / "telegram", local_mode=True).running() as tg,
    ):
        yield Relayed(world, tiktok, tg, tmp_path)


def test_in_local_mode_a_60_mb_video_is_sent_unchanged(
    local_relayed: Relayed, tmp_path: Path
) -> None:
    relayed = local_relayed
    source = sixty_megabytes(tmp_path)
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    world.add_video("alice", desc="big", file=source)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    relayed.extra = {"telegram": {"api_url": telegram.url, "local_mode": True, "flood": FAST}}

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    got = received_video(relayed, channel.id)
    assert got.stat().st_size > LIMIT
    assert video_packets(got) == video_packets(source)


def test_a_12_mb_photo_is_resized_to_telegrams_photo_limits(
    relayed: Relayed, tmp_path: Path
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    # The first slide is a 12 MB photo of noise (JPEG at full quality).
    big = tmp_path / "big.jpg"
    Image.effect_noise((4000, 4000), 100).convert("RGB").save(big, "JPEG", quality=100)
    assert big.stat().st_size > 12 * 1000 * 1000
    world.add_slideshow("alice", images=("jpeg", "jpeg"), desc="huge photo", files=[big])
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    photos = [m for m in telegram.messages(channel.id) if "photo" in m]
    assert len(photos) == 2
    first = telegram.file_path(photos[0]["photo"][-1]["file_id"])
    assert first.stat().st_size <= 10 * 1000 * 1000
    with Image.open(first) as image:
        assert image.format == "JPEG"
        assert image.width + image.height <= 10000


COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}


def coloured_slides(folder: Path) -> list[Path]:
    paths = []
    for name, rgb in COLOURS.items():
        path = folder / f"{name}.jpg"
        Image.new("RGB", (360, 640), rgb).save(path, "JPEG", quality=95)
        paths.append(path)
    return paths


def nearest_colour(pixel: tuple[int, ...]) -> str:
    return min(
        COLOURS,
        key=lambda name: sum((a - b) ** 2 for a, b in zip(COLOURS[name], pixel[:3], strict=True)),
    )


def frame_colour_at(path: Path, seconds: float) -> str:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                image = frame.to_image()
                pixel = image.getpixel((image.width // 2, image.height // 2))
                assert isinstance(pixel, tuple)
                return nearest_colour(pixel)
    raise AssertionError(f"no frame at {seconds} s")


@pytest.mark.parametrize("mode", ["video", "both"])
def test_a_slideshow_becomes_one_video_of_its_slides_as_long_as_its_sound(
    relayed: Relayed, tmp_path: Path, mode: str
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    post = world.add_slideshow(
        "alice", images=("jpeg",) * 3, desc="three colours", files=coloured_slides(tmp_path)
    )
    assert post.media.music_path is not None
    sound = probe(post.media.music_path).duration
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id, "slideshow": mode}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    messages = telegram.messages(channel.id)
    kinds = [next(k for k in ("video", "photo", "audio") if k in m) for m in messages]
    if mode == "video":
        assert kinds == ["video"]
    else:
        assert kinds == ["photo", "photo", "photo", "video", "audio"]
        # The sound has its cover: the first slide, at most 320 px and 200 kB.
        [audio] = [m for m in messages if "audio" in m]
        cover = telegram.file_path(audio["audio"]["thumbnail"]["file_id"])
        assert cover.stat().st_size <= 200_000
        with Image.open(cover) as image:
            assert max(image.size) <= 320
            pixel = image.getpixel((image.width // 2, image.height // 2))
            assert isinstance(pixel, tuple)
            assert nearest_colour(pixel) == "red"
    [video] = [m for m in messages if "video" in m]
    captioned = [m for m in messages if m.get("caption")]
    assert len(captioned) == 1
    assert captioned[0]["caption"].startswith("three colours")
    assert (captioned[0] is video) == (mode == "video")

    got = telegram.file_path(video["video"]["file_id"])
    assert_plays_everywhere(got)
    info = probe(got)
    assert info.audio_codec == "aac"
    assert info.duration == pytest.approx(sound, abs=1.0)
    share = info.duration / 3
    seen = [frame_colour_at(got, share * (index + 0.5)) for index in range(3)]
    assert seen == list(COLOURS)
    assert "SLIDESHOW_VIDEO" in relayed.newest_timeline("deliver")


def test_where_hevc_is_allowed_hvc1_is_sent_as_it_is_and_hev1_re_encoded(
    relayed: Relayed, tmp_path: Path
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    sources = {}
    start = 1_700_000_000
    for offset, case in enumerate(("hvc1 HEVC", "hev1 HEVC")):
        name, args, _ = CASES[case]
        sources[case] = make(tmp_path / name, *args)
        world.add_video("alice", desc=case, file=sources[case], at=start + offset)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id, "hevc": True}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    got = {
        m["caption"].split("\n")[0]: telegram.file_path(m["video"]["file_id"])
        for m in telegram.messages(channel.id)
    }
    kept = probe(got["hvc1 HEVC"])
    assert (kept.video_codec, kept.codec_tag, kept.audio_codec) == ("hevc", "hvc1", "aac")
    assert video_packets(got["hvc1 HEVC"]) == video_packets(sources["hvc1 HEVC"])
    assert_plays_everywhere(got["hev1 HEVC"])
