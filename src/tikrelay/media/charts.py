"""A small PNG chart of daily figures (the bot's /stats), drawn with Pillow: one line per series
over the days, a legend, the largest value on the axis."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tikrelay.media.files import write_atomically

WIDTH, HEIGHT = 900, 420
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 60, 20, 50, 40
COLOURS = ((31, 119, 180), (44, 160, 44), (214, 39, 40), (148, 103, 189))


def daily_chart(
    out: Path, title: str, days: Sequence[date], series: Sequence[tuple[str, Sequence[int]]]
) -> Path:
    """Draw ``series`` (name, one value a day) over ``days`` into the PNG ``out``."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    peak = max([1, *(value for _, values in series for value in values)])
    draw.text((left, 12), title, fill="black", font=font)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill="black")
    draw.text((8, top - 6), str(peak), fill="black", font=font)
    draw.text((8, bottom - 6), "0", fill="black", font=font)
    step = (right - left) / max(len(days) - 1, 1)
    for index, day in enumerate(days):
        if index % 7 == 0 or index == len(days) - 1:
            x = left + index * step
            draw.text((x - 14, bottom + 8), f"{day:%m-%d}", fill="black", font=font)
    for number, (name, values) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        points = [
            (left + index * step, bottom - (bottom - top) * value / peak)
            for index, value in enumerate(values)
        ]
        if len(points) > 1:
            draw.line(points, fill=colour, width=3)
        legend_x = left + 160 + number * 180
        draw.rectangle([legend_x, 14, legend_x + 12, 26], fill=colour)
        draw.text((legend_x + 18, 12), name, fill="black", font=font)
    write_atomically(out, lambda tmp: image.save(tmp, "PNG"))
    return out
