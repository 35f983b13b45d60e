"""Slides and covers as JPEGs that Telegram's sendPhoto accepts, and small cover thumbnails.

Telegram's rules for a photo: at most 10 MB, width + height at most 10000, width/height ratio at
most 20. For a thumbnail (of a video, an audio, a document): JPEG, at most 320 px a side, under
200 kB. Slides come as JPEG, PNG, WebP or HEIC, with EXIF orientation and sometimes transparency.
"""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.media.files import is_fresh, write_atomically

#: Telegram's sendPhoto limits (it counts decimal megabytes).
MAX_PHOTO_BYTES = 10 * 1000 * 1000
MAX_SIDES_SUM = 10000
MAX_RATIO = 20
#: Telegram's thumbnail limits, the same as ``video.THUMBNAIL_MAX_*`` (a unit test keeps them
#: equal; importing video here would load PyAV for every image).
THUMBNAIL_MAX_SIDE = 320
THUMBNAIL_MAX_BYTES = 200 * 1000

_BACKGROUND = (255, 255, 255)
_QUALITIES = (90, 80, 70, 60)
#: Each round that still does not fit shrinks both sides by this factor.
_SHRINK = 0.75
_EXIF_ORIENTATION = 0x0112
#: EXIF orientations that turn the picture a quarter: width and height swap on display.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})
#: A thumbnail's qualities, best first, then the lowest once more without the colour profile
#: (some profiles are hundreds of kB): 320x320 pixels of noise at 40 come to about 30 kB.
_THUMBNAIL_QUALITIES = (85, 75, 60, 40)
#: Colour profiles describe the pixels of these modes; kept so colours do not shift.
_RGB_PROFILE_MODES = frozenset({"RGB", "RGBA", "RGBX", "P", "PA"})


@cache
def _register_heif() -> None:
    """Teach Pillow HEIC once, on first use: importing libheif costs start-up time otherwise."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def to_jpeg(source: Path, out: Path, *, max_bytes: int = MAX_PHOTO_BYTES) -> Path:
    """Write ``source`` (JPEG, PNG, WebP, HEIC, or anything else Pillow reads; the first frame of
    an animation) to ``out`` as a JPEG that sendPhoto accepts, and return ``out``.

    - Already acceptable JPEGs (RGB, upright, within the limits) are copied byte for byte: no
      recompression.
    - Otherwise: EXIF orientation applied, transparency flattened onto white, colour profile kept,
      EXIF dropped (the pixels are upright now), downscaled until width + height fits, quality
      (90, 80, 70, 60), then size, lowered until the file is within ``max_bytes``.
    - A ratio beyond 20 is padded with white bars along the short side, centred, rather than
      refused: a refused slide would sink its whole album, and a strip with bars still shows
      everything. Padding never crops.

    ``out`` is written under a temporary name and renamed, and an existing acceptable ``out`` not
    older than ``source`` is reused. Raises TikrelayError: FORMAT_NOT_FOUND when ``source`` is not
    a readable image, SIZE_LIMIT when it has more pixels than Pillow will safely decode.
    """
    if is_fresh(out, than=source) and _acceptable(out, max_bytes):
        return out
    _register_heif()
    upright: Image.Image | None = None
    with _opened(source) as img:
        if _acceptable_image(img, source.stat().st_size, max_bytes):
            img.load()  # a cut-off download has a fine header: decode before passing it on
        else:
            upright = _upright_rgb(img)
    if upright is None:
        if out != source:
            write_atomically(out, lambda tmp: shutil.copyfile(source, tmp))
        return out
    data = _encode(upright, max_bytes)
    write_atomically(out, lambda tmp: tmp.write_bytes(data))
    return out


def cover_thumbnail(source: Path, out: Path) -> Path:
    """Write a small JPEG of ``source`` (anything Pillow reads, HEIC and WebP included) to
    ``out`` within Telegram's thumbnail rules, at most 320 px a side and under 200 kB, and return
    ``out``: for a sound's cover or a slideshow video's thumbnail.

    EXIF orientation applied, transparency flattened onto white, the aspect ratio kept, never
    upscaled. A JPEG is decoded at a reduced scale (Pillow's draft mode), so a 12-megapixel photo
    costs a fraction of a full decode. ``out`` is written under a temporary name and renamed, and
    an existing one within the rules and not older than ``source`` is reused. Raises
    TikrelayError like :func:`to_jpeg`.
    """
    if is_fresh(out, than=source) and _thumbnail_acceptable(out):
        return out
    _register_heif()
    bounds = (THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE)
    with _opened(source) as img:
        img.draft("RGB", bounds)  # JPEG only: decode at 1/2 to 1/8 scale, still >= the bounds
        upright = _upright_rgb(img)
    upright.thumbnail(bounds, Image.Resampling.LANCZOS)
    data = _encode_thumbnail(upright)
    write_atomically(out, lambda tmp: tmp.write_bytes(data))
    return out


def upright_size(source: Path) -> tuple[int, int]:
    """``source``'s width and height as shown, EXIF orientation applied, from its header alone
    (no pixels are decoded). Raises TikrelayError like :func:`to_jpeg`."""
    _register_heif()
    with _opened(source) as img:
        width, height = img.size
        turned = img.getexif().get(_EXIF_ORIENTATION, 1) in _QUARTER_TURNS
    return (height, width) if turned else (width, height)


@contextmanager
def _opened(source: Path) -> Iterator[Image.Image]:
    """``source`` opened with Pillow; its failures (and those of the block) classified: too
    many pixels is SIZE_LIMIT; truncated or corrupt data, which Pillow reports as OSError,
    SyntaxError or ValueError by plugin, is FORMAT_NOT_FOUND."""
    try:
        with Image.open(source) as img:
            yield img
    except Image.DecompressionBombError as exc:
        raise TikrelayError(
            ErrorKind.SIZE_LIMIT, f"{source.name} has too many pixels to convert: {exc}"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND, f"{source.name} is not a readable image: {exc}"
        ) from exc


def _thumbnail_acceptable(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            fits = (
                img.format == "JPEG"
                and img.mode == "RGB"
                and img.getexif().get(_EXIF_ORIENTATION, 1) == 1
                and max(img.size) <= THUMBNAIL_MAX_SIDE
                and path.stat().st_size < THUMBNAIL_MAX_BYTES
            )
            if fits:
                img.load()
            return fits
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def _encode_thumbnail(img: Image.Image) -> bytes:
    profile = img.info.get("icc_profile")
    lowest = _THUMBNAIL_QUALITIES[-1]
    for quality, icc in [*((q, profile) for q in _THUMBNAIL_QUALITIES), (lowest, None)]:
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=quality, optimize=True, icc_profile=icc)
        if buffer.tell() < THUMBNAIL_MAX_BYTES:
            return buffer.getvalue()
    # Not reached: 320x320 pixels of noise at the lowest quality come to about 30 kB.
    raise TikrelayError(ErrorKind.SIZE_LIMIT, "no thumbnail of this image fits in 200 kB")


def fit_geometry(width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The picture size and the canvas size (with white bars, if any) that meet Telegram's rules:
    canvas width + height ≤ 10000 and ratio ≤ 20, never upscaled, the picture never cropped."""
    long_side, short_side = max(width, height), min(width, height)
    padded_short = max(short_side, math.ceil(long_side / MAX_RATIO))
    factor = min(1.0, MAX_SIDES_SUM / (long_side + padded_short))
    picture = _scaled((width, height), factor)
    canvas = _canvas(picture)
    while sum(canvas) > MAX_SIDES_SUM:  # rounding pushed the sum a pixel or two over
        factor *= 0.999
        picture = _scaled((width, height), factor)
        canvas = _canvas(picture)
    return picture, canvas


def _scaled(size: tuple[int, int], factor: float) -> tuple[int, int]:
    if factor >= 1.0:
        return size
    return max(1, math.floor(size[0] * factor)), max(1, math.floor(size[1] * factor))


def _canvas(picture: tuple[int, int]) -> tuple[int, int]:
    """The picture's size grown along its short side until the ratio is at most 20."""
    width, height = picture
    return max(width, math.ceil(height / MAX_RATIO)), max(height, math.ceil(width / MAX_RATIO))


def _acceptable(path: Path, max_bytes: int) -> bool:
    try:
        with Image.open(path) as img:
            if not _acceptable_image(img, path.stat().st_size, max_bytes):
                return False
            img.load()
            return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def _acceptable_image(img: Image.Image, size: int, max_bytes: int) -> bool:
    width, height = img.size
    return (
        img.format == "JPEG"
        and img.mode == "RGB"
        and img.getexif().get(_EXIF_ORIENTATION, 1) == 1
        and size <= max_bytes
        and width + height <= MAX_SIDES_SUM
        and max(width, height) <= MAX_RATIO * min(width, height)
    )


def _upright_rgb(img: Image.Image) -> Image.Image:
    """Orientation applied, alpha flattened on white, 8-bit RGB; ``info`` keeps a usable profile."""
    profile = img.info.get("icc_profile") if img.mode in _RGB_PROFILE_MODES else None
    img = ImageOps.exif_transpose(img) or img
    if img.mode.startswith("I;16"):
        # Pillow clips 16-bit grey to 8 bits instead of scaling it.
        img = img.convert("I").point(lambda value: value / 256).convert("L")
    if img.mode in {"RGBA", "LA", "PA", "La", "RGBa"} or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    elif img.mode != "RGB":
        img = img.convert("RGB")
    img.info = {"icc_profile": profile} if profile else {}
    return img


def _encode(img: Image.Image, max_bytes: int) -> bytes:
    picture, canvas = fit_geometry(*img.size)
    while True:
        framed = _frame(img, picture, canvas)
        for quality in _QUALITIES:
            buffer = io.BytesIO()
            framed.save(
                buffer,
                format="JPEG",
                quality=quality,
                optimize=True,
                icc_profile=img.info.get("icc_profile"),
            )
            if buffer.tell() <= max_bytes:
                return buffer.getvalue()
        smaller = _scaled(picture, _SHRINK)
        if smaller == picture:
            raise TikrelayError(
                ErrorKind.SIZE_LIMIT, f"no JPEG of this image fits in {max_bytes} bytes"
            )
        picture, canvas = smaller, _canvas(smaller)


def _frame(img: Image.Image, picture: tuple[int, int], canvas: tuple[int, int]) -> Image.Image:
    scaled = img if img.size == picture else img.resize(picture, Image.Resampling.LANCZOS)
    if picture == canvas:
        return scaled
    framed = Image.new("RGB", canvas, _BACKGROUND)
    framed.paste(scaled, ((canvas[0] - picture[0]) // 2, (canvas[1] - picture[1]) // 2))
    return framed
