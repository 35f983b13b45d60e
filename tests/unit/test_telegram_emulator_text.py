"""Pure parts of the Telegram emulator: HTML entities, faults, its independence from PTB."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tikrelay.sandbox.telegram as package
from tikrelay.sandbox.telegram.entities import format_text, parse_html, utf16_len
from tikrelay.sandbox.telegram.errors import ApiError
from tikrelay.sandbox.telegram.faults import Faults


def test_html_becomes_text_and_utf16_entities() -> None:
    text, entities = parse_html(
        "😀 <b>bold <i>both</i></b> <a href='https://e.test'>link</a> "
        '<pre><code class="language-python">x = 1</code></pre> &lt;tag&gt;'
    )
    assert text == "😀 bold both link x = 1 <tag>"
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
        ("bold", 3, 9),
        ("italic", 8, 4),
        ("text_link", 13, 4),
        ("pre", 18, 5),
    ]
    assert entities[2]["url"] == "https://e.test"
    assert entities[3]["language"] == "python"
    assert utf16_len("😀") == 2


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<x>y</x>", 'Unsupported start tag "x" at byte offset 0'),
        ("é <b>y", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>y</i>", 'expected "</b>", found "</i>"'),
    ],
)
def test_bad_html_is_refused_like_telegram(source: str, message: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_html(source)
    assert refused.value.status == 400
    assert refused.value.description.startswith("Bad Request: can't parse entities: ")
    assert message in refused.value.description


def test_text_is_trimmed_and_limited_after_parsing() -> None:
    text, entities = format_text("  <b> hi</b>  ", "HTML", None, limit=4096, what="text")
    assert (text, entities) == ("hi", [{"type": "bold", "offset": 0, "length": 2}])
    assert format_text("<b>" + "x" * 1024 + "</b>", "HTML", None, limit=1024, what="caption")
    with pytest.raises(ApiError, match="message caption is too long"):
        format_text("x" * 1025, None, None, limit=1024, what="caption")
    with pytest.raises(ApiError, match="message text is empty"):
        format_text("   ", None, None, limit=4096, what="text")


def test_faults_target_the_nth_call_from_when_planned() -> None:
    faults = Faults()
    faults.fail_call("sendVideo", nth=2, status=429, description="Too Many Requests")
    faults.delay_call("sendVideo", nth=1, seconds=0.5)
    faults.fail_album(nth=1, delivered=3)
    first, second, third = (faults.on_call("sendVideo") for _ in range(3))
    assert first == (None, None, 0.5)
    assert second[0] is not None
    assert second[0].status == 429
    assert third == (None, None, 0.0)
    _, album, _ = faults.on_call("sendMediaGroup")
    assert album is not None
    assert album.error().description == (
        "Bad Request: failed to send message #4 with the error message "
        '"Too Many Requests: retry after 8"'
    )


def test_the_emulator_never_imports_the_telegram_library() -> None:
    for module in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] == "telegram"], module.name
