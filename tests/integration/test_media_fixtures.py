"""The generated media are what the emulators promise: real codecs, distinct contents."""

from __future__ import annotations

import hashlib

from PIL import Image
from pillow_heif import register_heif_opener

from tikrelay.media.probe import probe
from tikrelay.sandbox.fixtures import MediaFixtures


def sha(path: object) -> str:
    from pathlib import Path

    assert isinstance(path, Path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_videos_have_the_promised_codecs(media: MediaFixtures) -> None:
    clean = probe(media.clean_video())
    assert (clean.video_codec, clean.audio_codec) == ("h264", "aac")
    assert (clean.width, clean.height) == (144, 256)
    hevc = probe(media.hevc_video_only())
    assert (hevc.video_codec, hevc.audio_codec) == ("hevc", None)
    assert (hevc.height or 0) > (clean.height or 0)
    assert probe(media.music()).audio_codec in {"mp3", "mp3float"}


def test_watermarked_and_variants_differ(media: MediaFixtures) -> None:
    digests = {
        sha(media.clean_video(0)),
        sha(media.clean_video(1)),
        sha(media.watermarked_video(0)),
    }
    assert len(digests) == 3


def test_images_in_every_format_are_distinct(media: MediaFixtures) -> None:
    register_heif_opener()
    seen = set()
    for index, fmt in enumerate(("jpeg", "webp", "heic")):
        path = media.image(index, fmt)
        with Image.open(path) as img:
            assert img.format == {"jpeg": "JPEG", "webp": "WEBP", "heic": "HEIF"}[fmt]
            assert img.size == (360, 640)
            seen.add(img.convert("RGB").getpixel((5, 5)))
    assert len(seen) == 3
