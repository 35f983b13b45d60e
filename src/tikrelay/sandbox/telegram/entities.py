"""Text as Telegram stores it: HTML parse mode turned into plain text plus entities.

Entity offsets and lengths count UTF-16 code units, as the Bot API documents. Telegram also trims
whitespace at both ends of a text or caption, so the limits apply to the trimmed text.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from tikrelay.sandbox.telegram.errors import bad_request

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _EntityParser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self._open: list[tuple[str, dict[str, Any]]] = []

    def _byte_offset(self) -> int:
        line, col = self.getpos()
        lines = self._source.split("\n")
        chars = sum(len(part) + 1 for part in lines[: line - 1]) + col
        return len(self._source[:chars].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        entity: dict[str, Any]
        if tag == "a" and values.get("href"):
            entity = {"type": "text_link", "url": values["href"]}
        elif tag == "span" and values.get("class") == "tg-spoiler":
            entity = {"type": "spoiler"}
        elif tag == "blockquote" and "expandable" in values:
            entity = {"type": "expandable_blockquote"}
        elif tag in _SIMPLE_TAGS:
            entity = {"type": _SIMPLE_TAGS[tag]}
        else:
            raise bad_request(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset '
                f"{self._byte_offset()}"
            )
        if tag == "code" and self._open and self._open[-1][0] == "pre":
            language = (values.get("class") or "").removeprefix("language-")
            if language:
                self._open[-1][1]["language"] = language
        entity["offset"] = utf16_len(self.text)
        self._open.append((tag, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            raise bad_request(
                f"can't parse entities: Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{self._open[-1][0] if self._open else tag}>", found "</{tag}>"'
            )
        _, entity = self._open.pop()
        entity["length"] = utf16_len(self.text) - entity["offset"]
        if entity["length"] > 0 and not (entity["type"] == "code" and _inside_pre(self._open)):
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text += data


def _inside_pre(opened: list[tuple[str, dict[str, Any]]]) -> bool:
    return any(tag == "pre" for tag, _ in opened)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    parser = _EntityParser(source)
    parser.feed(source)
    parser.close()
    if parser._open:
        raise bad_request(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{parser._open[-1][0]}"'
        )
    parser.entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return parser.text, parser.entities


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    end = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        stop = min(end, entity["offset"] - shift + entity["length"])
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return stripped, kept


def format_text(
    raw: str | None,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    limit: int,
    what: str,
) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of a text (``what="text"``) or caption, checked against ``limit``.

    Only the HTML parse mode is interpreted; Markdown modes are kept as given, because the project
    sends HTML and a half-faithful Markdown parser would mislead more than help.
    """
    text, found = raw or "", list(entities or [])
    if parse_mode and parse_mode.upper() == "HTML":
        text, found = parse_html(text)
    text, found = _trim(text, found)
    if what == "text" and not text:
        raise bad_request("message text is empty")
    if utf16_len(text) > limit:
        raise bad_request(f"message {'is' if what == 'text' else 'caption is'} too long")
    return text, found
