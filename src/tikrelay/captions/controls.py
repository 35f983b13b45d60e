"""Invisible control characters in what strangers write on TikTok: which go, which are closed.

C0 controls (NUL, bell, escape, …) show as nothing or as boxes, and NUL cuts a caption short in
some clients; line breaks and tabs are the only ones text needs. Bidirectional controls reorder
what follows them up to the end of the line: a right-to-left override (U+202E) in a nickname
turns the rest of the caption line around. Names and other one-line values lose them all; the
post text keeps them (right-to-left writers use them), closed at the end of every line so that
nothing after the text is reordered.
"""

from __future__ import annotations

#: C0 controls and DEL, except tab and line feed (carriage returns become line feeds first).
_C0 = frozenset((*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F))
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")  # LRE, RLE, LRO, RLO
_POP_EMBEDDING = "\u202c"  # PDF
_ISOLATES = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI
_POP_ISOLATE = "\u2069"  # PDI
_MARKS = frozenset("\u200e\u200f\u061c")  # LRM, RLM, ALM
#: Every bidirectional formatting character Unicode defines (UAX #9).
BIDI_CONTROLS = _EMBEDDINGS | _ISOLATES | _MARKS | {_POP_EMBEDDING, _POP_ISOLATE}

_DROP_FROM_TEXT = dict.fromkeys(_C0)
_DROP_FROM_NAME = {
    **_DROP_FROM_TEXT,
    **dict.fromkeys(map(ord, "\t\n"), " "),
    **dict.fromkeys(map(ord, BIDI_CONTROLS)),
}


def clean_name(value: str) -> str:
    """A name, title or tag for one line: no control characters and no bidi controls; line
    breaks and tabs become spaces."""
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_DROP_FROM_NAME)


def clean_text(value: str) -> str:
    """A post text: no C0 controls but line breaks and tabs, and every bidi embedding or
    isolate it opens on a line closed at that line's end."""
    return close_bidi(value.replace("\r\n", "\n").replace("\r", "\n").translate(_DROP_FROM_TEXT))


def close_bidi(text: str) -> str:
    """``text`` with what each of its lines leaves open closed at the line's end (again after a
    cut, which may drop the closers). Closing twice adds nothing."""
    return "\n".join(_close_line(line) for line in text.split("\n"))


def _close_line(line: str) -> str:
    """``line`` with the closers (PDF, PDI) of what it leaves open appended, as UAX #9 pairs
    them: a PDI also closes embeddings opened inside its isolate."""
    stack: list[str] = []  # "e" for an open embedding or override, "i" for an open isolate
    for char in line:
        if char in _EMBEDDINGS:
            stack.append("e")
        elif char in _ISOLATES:
            stack.append("i")
        elif char == _POP_EMBEDDING and stack and stack[-1] == "e":
            stack.pop()
        elif char == _POP_ISOLATE and "i" in stack:
            while stack.pop() != "i":
                pass
    closers = {"e": _POP_EMBEDDING, "i": _POP_ISOLATE}
    return line + "".join(closers[kind] for kind in reversed(stack))
