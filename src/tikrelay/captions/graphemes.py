"""Where a text may be cut without splitting what a reader sees as one character.

Python strings hold code points, so a non-BMP character (two UTF-16 units) is never split by a
slice. What a slice can still split is a cluster of code points drawn as one symbol: a letter and
its combining accent, an emoji and its skin tone, a family joined by zero-width joiners, a flag made
of two regional indicators. This is a deliberately small subset of Unicode's grapheme rules
(UAX #29) that covers what post texts actually contain, without a third-party dependency.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

_ZWJ = "\u200d"
_MARKS = frozenset({"Mn", "Mc", "Me"})


def _extends(char: str) -> bool:
    """True for code points that belong to the symbol before them."""
    code = ord(char)
    return (
        unicodedata.category(char) in _MARKS
        or char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (text or emoji presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters of subdivision flags
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def cut_points(units: Sequence[str]) -> list[bool]:
    """``allowed[i]`` says whether ``units[:i]`` may be kept and ``units[i:]`` dropped.

    ``units`` are non-empty strings: single characters, or what one HTML entity decodes to.
    The result has ``len(units) + 1`` entries; both ends are always allowed.
    """
    allowed = [True] * (len(units) + 1)
    regional_run = 0
    for index in range(1, len(units)):
        for char in units[index - 1]:
            regional_run = regional_run + 1 if _regional(char) else 0
        before, after = units[index - 1][-1], units[index][0]
        splits_flag = _regional(after) and regional_run % 2 == 1
        allowed[index] = not (_extends(after) or before == _ZWJ or splits_flag)
    return allowed
