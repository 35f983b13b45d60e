"""Words and hashtags of a post's text, compared as a reader would: without regard to case or
accents (``Café`` is ``cafe``, ``STRASSE`` is ``straße``), whole words only (``ad`` is not in
``adventure``). The settings check a filter's terms with these functions and the filters match
them with the same ones, so a term that loads is a term that can match."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: A word: letters, digits and underscores (what TikTok allows in a hashtag).
_WORD = re.compile(r"\w+")
_HASHTAG = re.compile(r"#(\w+)")


def fold(text: str) -> str:
    """``text`` without case or accents: casefolded, decomposed (NFKD, which also turns
    ligatures and full-width letters into plain ones), its combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The folded words of ``text`` in order; a hashtag's word is one of them (``#ad`` gives
    ``ad``)."""
    return _WORD.findall(fold(text))


def hashtags(text: str, known: Iterable[str] = ()) -> set[str]:
    """The folded hashtags written in ``text`` (``#Summer`` gives ``summer``) and those the
    source lists (``known``, without their ``#``)."""
    found = set(_HASHTAG.findall(fold(text)))  # folded first: an accent is a letter's part
    found.update(fold(tag.removeprefix("#")) for tag in known)
    return found


def term_problem(term: str) -> str | None:
    """Why ``term`` cannot be matched, or None: a term has letters or digits, and a hashtag
    (``#ad``) is one word."""
    if not words(term):
        return f"{term!r} has no letters or digits: write a word, a few words or a #hashtag"
    if term.startswith("#") and len(words(term)) > 1:
        return f"{term!r} is not one hashtag: a hashtag is one word, such as #summervibes"
    if term.startswith("#") and not _HASHTAG.fullmatch(fold(term)):
        return f"{term!r} is not a hashtag: write # and one word, such as #ad"
    return None
