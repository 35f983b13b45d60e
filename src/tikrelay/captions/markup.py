"""Telegram's HTML: what a reader sees of it, how long that is, and where it may be cut.

Telegram checks a caption's length after parsing: tags removed, entities decoded, whitespace trimmed
at both ends, counted in UTF-16 code units. The stdlib HTML parser decodes text the same way, so it
measures; a small tokenizer finds the pieces a cut must keep whole (tags, entities, clusters).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import Enum
from html.parser import HTMLParser

from tikrelay.captions.graphemes import cut_points

ELLIPSIS = "…"

#: Tags Telegram's HTML parse mode accepts; anything else makes it refuse the whole message.
ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "u",
    }
)
_REQUIRED_ATTRIBUTES = {"a": "href", "tg-emoji": "emoji-id"}
_NAMED_ENTITIES = frozenset({"&lt;", "&gt;", "&amp;", "&quot;"})

# Entity references exactly as html.unescape finds them, so a cut never splits what it decodes.
_TOKEN = re.compile(
    r"(?P<other><!--.*?-->|<![^>]*>|<\?[^>]*>)"
    r"|(?P<tag></?[a-zA-Z][^\s/>]*(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)"
    r"|(?P<ref>&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?))"
    r"|(?P<char>.)",
    re.DOTALL,
)
_TAG_NAME = re.compile(r"</?([a-zA-Z][^\s/>]*)")


class MarkupError(ValueError):
    """HTML that Telegram would refuse; the message names the first problem."""


class _Kind(Enum):
    OPEN = "open"
    CLOSE = "close"
    OTHER = "other"
    TEXT = "text"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    source: str
    name: str = ""
    shown: str = ""


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Telegram limit and entity offset."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(source: str) -> str:
    """The text Telegram shows for ``source``: tags removed, entities decoded, trimmed."""
    collector = _TextCollector()
    collector.feed(source)
    collector.close()
    return "".join(collector.parts).strip()


def visible_length(source: str) -> int:
    """What Telegram counts against a limit: UTF-16 units of the visible text."""
    return utf16_length(visible_text(source))


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(source):
        piece = match.group()
        if match.lastgroup == "tag":
            name_match = _TAG_NAME.match(piece)
            name = name_match.group(1).lower() if name_match else ""
            if piece.startswith("</"):
                tokens.append(_Token(_Kind.CLOSE, piece, name))
            elif piece.endswith("/>"):
                tokens.append(_Token(_Kind.OTHER, piece, name))
            else:
                tokens.append(_Token(_Kind.OPEN, piece, name))
        elif match.lastgroup == "other":
            tokens.append(_Token(_Kind.OTHER, piece))
        else:
            tokens.append(_Token(_Kind.TEXT, piece, shown=html.unescape(piece)))
    return tokens


def fit_html(source: str, limit: int) -> str:
    """``source`` unchanged if its visible length is within ``limit``, else cut to fit.

    A cut keeps tags and entities whole, never splits a character cluster, drops whitespace
    before the cut, closes every tag left open and ends with an ellipsis.
    """
    if visible_length(source) <= limit:
        return source
    if limit < utf16_length(ELLIPSIS):
        return ""
    tokens = _tokenize(source)
    budget = limit - utf16_length(ELLIPSIS)
    while True:
        fitted = _cut(tokens, budget)
        excess = visible_length(fitted) - limit
        if excess <= 0:
            return fitted
        # The tokenizer and the parser disagree on odd markup (an unclosed quote, say);
        # the parser is what Telegram does, so trust it and cut further.
        budget -= excess


def _cut(tokens: list[_Token], budget: int) -> str:
    text_at = [index for index, token in enumerate(tokens) if token.kind is _Kind.TEXT]
    allowed = cut_points([tokens[index].shown for index in text_at])
    used = kept = 0
    for index in text_at:
        width = utf16_length(tokens[index].shown)
        if used + width > budget:
            break
        used += width
        kept += 1
    while kept > 0 and (not allowed[kept] or tokens[text_at[kept - 1]].shown.isspace()):
        kept -= 1
    if kept == 0:
        return ELLIPSIS
    # Keep the tags between the last character kept and the first one dropped, except those
    # that open: they would wrap nothing.
    end = text_at[kept] if kept < len(text_at) else len(tokens)
    while end > 0 and tokens[end - 1].kind is _Kind.OPEN:
        end -= 1
    still_open: list[str] = []
    for token in tokens[:end]:
        if token.kind is _Kind.OPEN:
            still_open.append(token.name)
        elif token.kind is _Kind.CLOSE and still_open and still_open[-1] == token.name:
            still_open.pop()
    closing = "".join(f"</{name}>" for name in reversed(still_open))
    return "".join(token.source for token in tokens[:end]) + closing + ELLIPSIS


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problem: str | None = None

    def _report(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag not in ALLOWED_TAGS:
            allowed = ", ".join(sorted(ALLOWED_TAGS))
            self._report(f"unsupported tag <{tag}>: Telegram allows only {allowed}")
        elif tag in _REQUIRED_ATTRIBUTES and not values.get(_REQUIRED_ATTRIBUTES[tag]):
            self._report(f"<{tag}> needs a {_REQUIRED_ATTRIBUTES[tag]} attribute")
        elif tag == "span" and values.get("class") != "tg-spoiler":
            self._report('<span> is allowed only as <span class="tg-spoiler">')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open:
            self._report(f"</{tag}> closes a tag that was never opened")
        elif self.open[-1] != tag:
            self._report(f"</{tag}> found where </{self.open[-1]}> was expected")
        else:
            self.open.pop()


def check_markup(source: str) -> None:
    """Raise MarkupError naming the first thing Telegram's HTML parse mode would refuse."""
    checker = _TagChecker()
    checker.feed(source)
    checker.close()
    if checker.problem is None and checker.open:
        checker.problem = f"<{checker.open[-1]}> is never closed"
    if checker.problem is not None:
        raise MarkupError(checker.problem)
    for token in _tokenize(source):
        if token.kind is not _Kind.TEXT:
            continue
        if token.source in {"<", ">"}:
            escaped = html.escape(token.source)
            raise MarkupError(f"a bare {token.source!r} must be written {escaped}")
        if token.source.startswith("&") and not token.source.endswith(";"):
            raise MarkupError("a bare '&' must be written &amp;")
        if token.source.startswith("&") and not _is_known_entity(token.source):
            raise MarkupError(
                f"{token.source} is not an entity Telegram decodes "
                "(only &lt; &gt; &amp; &quot; and numeric ones)"
            )


def _is_known_entity(reference: str) -> bool:
    return reference.startswith("&#") or reference in _NAMED_ENTITIES
