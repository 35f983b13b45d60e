"""Captions: templates, escaping and cutting, checked against the Telegram emulator's own parser."""

from __future__ import annotations

import html
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tikrelay.captions import (
    CAPTION_LIMIT,
    DEFAULT_TEMPLATE,
    CaptionTemplateError,
    check_template,
    fit_html,
    render_caption,
    visible_length,
)
from tikrelay.captions.controls import close_bidi
from tikrelay.captions.render import compact_count, compile_template, template_context
from tikrelay.domain.errors import ErrorKind, classify
from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.sandbox.telegram.entities import format_text, parse_html, utf16_len

URL = "https://www.tiktok.com/@alice/video/7301?lang=en&is_copy_url=1"
POST = Post(
    site="tiktok",
    id="7301",
    kind=PostKind.VIDEO,
    url=URL,
    author="alice",
    author_name="Alice A.",
    text="Morning run",
    created_at=datetime(2026, 3, 4, 5, 6, tzinfo=UTC),
    hashtags=("run", "morning"),
    views=1_234_567,
    likes=8_900,
    sound=Sound(title="Original sound", author="alice"),
)
FOOTER = "\n\n— @alice"


def shown(caption: str, limit: int = CAPTION_LIMIT) -> str:
    """What Telegram shows; raises the emulator's ApiError wherever Telegram would refuse."""
    text, _ = format_text(caption, "HTML", None, limit=limit, what="caption")
    return text


def entities(caption: str) -> list[dict[str, Any]]:
    return format_text(caption, "HTML", None, limit=CAPTION_LIMIT, what="caption")[1]


@pytest.mark.parametrize(
    ("changes", "expected_html", "expected_text"),
    [
        ({}, "Morning run\n\n— @alice", "Morning run\n\n— @alice"),
        (
            {"text": "a < b && c > d"},
            "a &lt; b &amp;&amp; c &gt; d\n\n— @alice",
            "a < b && c > d\n\n— @alice",
        ),
        ({"text": 'say "hi"'}, "say &#34;hi&#34;\n\n— @alice", 'say "hi"\n\n— @alice'),
        ({"text": "<b>not bold</b>"}, None, "<b>not bold</b>\n\n— @alice"),
        ({"author": "@bob<i>"}, "Morning run\n\n— @bob&lt;i&gt;", "Morning run\n\n— @bob<i>"),
        ({"text": ""}, "— @alice", "— @alice"),
        ({"text": "  \n "}, "— @alice", "— @alice"),
        ({"text": "  padded\n"}, "padded\n\n— @alice", "padded\n\n— @alice"),
        ({"text": "🎉 party 👨‍👩‍👧 🇺🇦"}, None, "🎉 party 👨‍👩‍👧 🇺🇦\n\n— @alice"),
        ({"text": "#run #morning"}, None, "#run #morning\n\n— @alice"),
    ],
)
def test_default_template_escapes_for_telegram(
    changes: dict[str, str], expected_html: str | None, expected_text: str
) -> None:
    caption = render_caption(replace(POST, **changes))
    if expected_html is not None:
        assert caption == expected_html
    assert shown(caption) == expected_text
    assert entities(caption) == []


@pytest.mark.parametrize(
    ("site", "label"), [("tiktok", "TikTok"), ("TikTok", "TikTok"), ("youtube", "Original")]
)
def test_link_is_an_anchor_on_its_own_line(site: str, label: str) -> None:
    caption = render_caption(replace(POST, site=site), link=True)
    assert caption.endswith(f'\n<a href="{html.escape(URL)}">{label}</a>')
    assert shown(caption) == f"Morning run\n\n— @alice\n{label}"
    (anchor,) = entities(caption)
    assert anchor["type"] == "text_link"
    assert anchor["url"] == URL


def test_no_link_without_an_address() -> None:
    assert render_caption(replace(POST, url=""), link=True) == "Morning run\n\n— @alice"


@pytest.mark.parametrize(
    ("template", "expected_text"),
    [
        ("{{ author_name }}: {{ text }}", "Alice A.: Morning run"),
        ("{% for tag in hashtags %}#{{ tag }} {% endfor %}", "#run #morning"),
        ("{{ hashtags | join(', ') }}", "run, morning"),
        ("{{ views | compact }} views, {{ likes | compact }} likes", "1.2M views, 8.9K likes"),
        ("{{ views }}/{{ likes }}", "1234567/8900"),
        ('{{ created_at | date("%d.%m.%Y") }}', "04.03.2026"),
        ("{{ created_at.year if created_at }}", "2026"),
        ("{{ kind }} · {{ sound_title }} by {{ sound_author }}", "video · Original sound by alice"),
        ("{{ url }}", URL),
        ("{{ text | upper }}", "MORNING RUN"),
        ("{% if views and views > 1000000 %}🔥 {% endif %}{{ text }}", "🔥 Morning run"),
        ("{{ author_name or author }}", "Alice A."),
        ("{% if text %}\n{{ text }}\n{% endif %}\nby @{{ author }}\n", "Morning run\nby @alice"),
    ],
)
def test_custom_templates_see_every_variable(template: str, expected_text: str) -> None:
    check_template(template)
    assert shown(render_caption(POST, template)) == expected_text


def test_missing_optional_fields_render_empty_not_none() -> None:
    sparse = Post(site="tiktok", id="1", kind=PostKind.AUDIO, url=URL, author="bob")
    template = "[{{ author_name }}|{{ views | compact }}|{{ created_at | date }}|{{ sound_title }}]"
    assert shown(render_caption(sparse, template)) == "[|||]"
    assert shown(render_caption(sparse, "{{ kind }}")) == "audio"


def test_template_markup_is_kept_and_variables_inside_it_escaped() -> None:
    post = replace(POST, text="1 < 2 & 3")
    caption = render_caption(post, "<b>{{ text }}</b>\n<i>@{{ author }}</i>")
    assert caption == "<b>1 &lt; 2 &amp; 3</b>\n<i>@alice</i>"
    assert shown(caption) == "1 < 2 & 3\n@alice"
    assert [e["type"] for e in entities(caption)] == ["bold", "italic"]


def test_safe_lets_a_template_author_pass_markup_through() -> None:
    post = replace(POST, text="<b>bold</b>")
    assert shown(render_caption(post, "{{ text | safe }}")) == "bold"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (0, "0"),
        (999, "999"),
        (1_000, "1K"),
        (1_234, "1.2K"),
        (12_345, "12.3K"),
        (999_999, "1M"),
        (2_500_000, "2.5M"),
        (3_000_000_000, "3B"),
    ],
)
def test_compact_counts(value: int | None, expected: str) -> None:
    assert compact_count(value) == expected


@pytest.mark.parametrize(
    ("source", "length"),
    [
        ("", 0),
        ("abc", 3),
        ("&amp;&lt;&gt;&quot;&#39;", 5),
        ("<b>a</b><a href='https://e.test/long/address'>b</a>", 2),
        ("😀", 2),
        ("&#128512;", 2),
        ("e\u0301", 2),
        ("  \n padded \n ", 6),
    ],
)
def test_visible_length_counts_utf16_units_after_parsing(source: str, length: int) -> None:
    assert visible_length(source) == length
    assert utf16_len(shown(source)) == length


def test_long_text_is_cut_and_the_footer_survives() -> None:
    post = replace(POST, text="x" * 5_000)
    caption = render_caption(post)
    text = shown(caption)
    assert utf16_len(text) == CAPTION_LIMIT
    assert text == "x" * (CAPTION_LIMIT - len("…" + FOOTER)) + "…" + FOOTER


def test_long_text_with_link_keeps_footer_and_link() -> None:
    words = " ".join(f"word{n} & <more>" for n in range(600))
    caption = render_caption(replace(POST, text=words), link=True)
    text = shown(caption)
    kept, footer = text.split("…")
    assert footer == FOOTER + "\nTikTok"
    assert words.startswith(kept)
    assert not kept.endswith(" ")
    assert utf16_len(text) <= CAPTION_LIMIT
    assert entities(caption)[-1]["url"] == URL


def test_whole_caption_is_cut_when_the_footer_alone_is_too_long() -> None:
    post = replace(POST, text="short text", author="a" * 2_000)
    text = shown(render_caption(post))
    assert text.startswith("short text\n\n— @aaa")
    assert text.endswith("a…")
    assert utf16_len(text) == CAPTION_LIMIT


def test_footer_alone_when_not_one_character_of_text_fits() -> None:
    footer = "— @alice"
    caption = render_caption(replace(POST, text="long " * 50), limit=len(footer) + 2)
    assert shown(caption, limit=len(footer) + 2) == footer


@pytest.mark.parametrize(
    ("text", "expected_kept"),
    [
        # 1013 units of text fit beside "…" and the 10-unit footer.
        ("a" * 1_011 + "😀" + "b" * 50, "a" * 1_011 + "😀"),
        ("a" * 1_012 + "😀" + "b" * 50, "a" * 1_012),
        ("a" * 1_012 + "e\u0301" + "b" * 50, "a" * 1_012),
        ("a" * 1_010 + "👍🏽" + "b" * 50, "a" * 1_010),
        ("a" * 1_008 + "👨\u200d👩\u200d👧" + "b" * 50, "a" * 1_008),
        ("a" * 1_009 + "🇺🇦🇺🇦" + "b" * 50, "a" * 1_009 + "🇺🇦"),
        ("a" * 1_010 + "🇺🇦🇺🇦" + "b" * 50, "a" * 1_010),
    ],
)
def test_cut_keeps_clusters_whole(text: str, expected_kept: str) -> None:
    visible = shown(render_caption(replace(POST, text=text)))
    assert visible == expected_kept + "…" + FOOTER


@pytest.mark.parametrize(
    ("source", "limit", "expected"),
    [
        # Surrogate pair: kept whole when both units fit, dropped whole when one would not.
        ("a" * 1_021 + "😀" + "b" * 10, 1_024, "a" * 1_021 + "😀…"),
        ("a" * 1_022 + "😀" + "b" * 10, 1_024, "a" * 1_022 + "…"),
        # Entities: kept or dropped whole, and they count as the one character they show.
        ("a" * 1_022 + "&amp;" + "b" * 10, 1_024, "a" * 1_022 + "&amp;…"),
        ("a" * 1_023 + "&lt;" + "b" * 10, 1_024, "a" * 1_023 + "…"),
        ("a" * 8 + "&#128512;" + "b", 10, "a" * 8 + "…"),
        # Open tags are closed, the ellipsis after them; tags starting at the cut are dropped.
        ("<b>bold <i>italic " + "x" * 30 + "</i></b>", 20, "<b>bold <i>italic xxxxxxx</i></b>…"),
        ("<b>" + "x" * 19 + "</b><i>yy</i>", 20, "<b>" + "x" * 19 + "</b>…"),
        ("x" * 19 + "<b>yy</b>", 20, "x" * 19 + "…"),
        # A long tag is zero-width: it is never cut, only kept or dropped whole.
        ('<a href="https://e.test/' + "q" * 500 + '">link</a>' + "z" * 20, 6, None),
        # Whitespace before the cut goes, so the ellipsis follows a word.
        ("one two    three", 12, "one two…"),
        ("x" * 40, 1, "…"),
        ("x" * 40, 0, ""),
        ("fits &amp; stays", 12, "fits &amp; stays"),
    ],
)
def test_fit_html_cuts_safely(source: str, limit: int, expected: str | None) -> None:
    fitted = fit_html(source, limit)
    if expected is not None:
        assert fitted == expected
    assert utf16_len(shown(fitted, limit=limit)) <= limit


def test_fit_html_keeps_a_cut_link_whole() -> None:
    source = '<a href="https://e.test/' + "q" * 500 + '">link text</a> after'
    fitted = fit_html(source, 6)
    assert fitted == '<a href="https://e.test/' + "q" * 500 + '">link</a>…'
    assert entities(fitted)[0]["url"] == "https://e.test/" + "q" * 500


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ text }", "line 1: unexpected '}'"),
        ("{{ text }}\n\n{% if views %}{{ views }}", "line 3: Unexpected end of template"),
        ("{{ auther }}", "unknown variable 'auther'; known: text, author,"),
        ("{% if text %}{{ txt }}{{ athor }}{% endif %}", "unknown variables 'athor', 'txt'"),
        ("{{ text.foo }}", "'str object' has no attribute 'foo'"),
        ("{{ created_at.year }}", "for a post without text, author name, date, counts or sound: "),
        ("{{ text.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ text.__class__.__mro__ }}", "is unsafe"),
        ("{{ hashtags.append('x') }}", "access to attribute 'append' of 'list' object is unsafe"),
        ('{{ "{0.__class__}".format(text) }}', "is unsafe"),
        ("{{ views + 'x' }}", "TypeError: "),
        (
            "{% if views > 1000 %}hot{% endif %}",
            "without text, author name, date, counts or sound: ",
        ),
        # Post text may hold "<" and "&": marking it safe would make Telegram refuse the caption.
        ("{{ text | safe }}", "unsupported tag <symbols>"),
        ("{{ text }}<br>", "unsupported tag <br>: Telegram allows only a, b, blockquote"),
        ("<a>{{ text }}</a>", "<a> needs a href attribute"),
        ("<span>{{ text }}</span>", '<span> is allowed only as <span class="tg-spoiler">'),
        ("<b>{{ text }}", "<b> is never closed"),
        ("<b>{{ text }}</i>", "</i> found where </b> was expected"),
        ("{{ text }}</b>", "</b> closes a tag that was never opened"),
        ("{{ text }} <3", "a bare '<' must be written &lt;"),
        ("{{ text }} & more", "a bare '&' must be written &amp;"),
        ("{{ text }}&nbsp;", "&nbsp; is not an entity Telegram decodes"),
    ],
)
def test_bad_templates_are_named(template: str, message: str) -> None:
    with pytest.raises(CaptionTemplateError) as refused:
        check_template(template)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "template",
    [
        DEFAULT_TEMPLATE,
        "",
        "<b>{{ text }}</b> <i>{{ author }}</i> <u>u</u> <s>s</s> <code>c</code>",
        '<span class="tg-spoiler">{{ text }}</span><tg-spoiler>x</tg-spoiler>',
        '<a href="{{ url }}">{{ author_name }}</a> <blockquote expandable>q</blockquote>',
        '<pre><code class="language-python">x = 1</code></pre> &lt;&gt;&amp;&quot;&#128512;',
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        "{{ author | safe }}",
        "{{ range(3) | join }} {% set shout = text | upper %}{{ shout }}",
    ],
)
def test_good_templates_pass_the_check(template: str) -> None:
    check_template(template)


def test_render_refuses_a_bad_template_with_the_same_error() -> None:
    with pytest.raises(CaptionTemplateError, match="unknown variable 'nope'"):
        render_caption(POST, "{{ nope }}")
    with pytest.raises(CaptionTemplateError, match="is unsafe"):
        render_caption(POST, "{{ text.__class__ }}")


def test_template_errors_are_not_retried() -> None:
    error = classify(CaptionTemplateError("line 1: unexpected '}'"))
    assert error.kind is ErrorKind.UNSUPPORTED
    assert error.message == "caption template: line 1: unexpected '}'"


def test_compiled_templates_are_cached() -> None:
    assert compile_template("{{ text }}!") is compile_template("{{ text }}!")


# Pieces that make cutting hard: markup characters, astral emoji, joiners, marks and flags.
TRICKY = st.sampled_from(
    [
        "&",
        "<",
        ">",
        '"',
        "'",
        "😀",
        "👨‍👩‍👧",
        "👍🏽",
        "e\u0301",
        "\u0301",
        "🇺🇦",
        " ",
        "\n",
        "&amp;",
        "é",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(TRICKY, st.text(max_size=4)), max_size=900).map("".join),
    # Long enough to pass the caption limit, so that most of these are cut.
    st.lists(st.one_of(TRICKY, st.text(min_size=1, max_size=6)), min_size=300, max_size=900).map(
        "".join
    ),
)


def _assert_clean_cut(kept: str, full: str) -> None:
    assert full.startswith(kept)
    rest = full[len(kept) :]
    if kept and rest:
        assert not kept[-1].isspace()
        assert kept[-1] != "\u200d"
        assert unicodedata.category(rest[0]) not in {"Mn", "Mc", "Me"}


@settings(max_examples=100, deadline=None)
@given(text=TEXTS, link=st.booleans())
def test_any_text_renders_a_caption_telegram_accepts(text: str, link: bool) -> None:
    post = replace(POST, text=text)
    caption = render_caption(post, link=link)
    visible = shown(caption)
    footer = "— @alice" + ("\nTikTok" if link else "")
    body = template_context(post)["text"]  # the text without its control characters
    if visible != (f"{body}\n\n{footer}" if body else footer):
        kept, _, rest = visible.rpartition("…\n\n")
        assert rest == footer
        assert kept
        _assert_clean_cut(_without_added_closers(kept, body), body)


def _without_added_closers(kept: str, body: str) -> str:
    """The prefix of ``body`` a cut kept, before its open bidi controls were closed again."""
    for end in range(len(kept), 0, -1):
        if body.startswith(kept[:end]) and close_bidi(kept[:end]) == kept:
            return kept[:end]
    raise AssertionError(f"{kept!r} is no closed prefix of {body!r}")


def _markup(pieces: list[tuple[str | None, str]]) -> str:
    parts = []
    for tag, text in pieces:
        inner = html.escape(text)
        parts.append(f"<{tag}>{inner}</{tag}>" if tag else inner)
    return "".join(parts)


MARKUP = st.lists(
    st.tuples(st.sampled_from([None, "b", "i", "code", "tg-spoiler"]), TEXTS), max_size=6
).map(_markup)


@settings(max_examples=100, deadline=None)
@given(source=MARKUP, limit=st.integers(min_value=1, max_value=400), wrap=st.booleans())
def test_fit_html_always_fits_and_keeps_a_prefix(source: str, limit: int, wrap: bool) -> None:
    if wrap:
        source = f'<blockquote><a href="https://e.test/?a=1&amp;b=2">{source}</a></blockquote>'
    full = parse_html(source)[0].strip()
    assert visible_length(source) == utf16_len(full)
    fitted = fit_html(source, limit)
    visible = shown(fitted, limit=limit)
    if visible != full:
        assert visible.endswith("…")
        _assert_clean_cut(visible[:-1], full)


# -- control characters ----------------------------------------------------------------------------

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
BIDI += ["\u200e", "\u200f", "\u061c"]
C0 = [chr(code) for code in range(0x20) if chr(code) not in "\t\n\r"] + ["\x7f"]


def test_nul_and_other_c0_controls_leave_the_text_but_lines_and_tabs_stay() -> None:
    text = "a\x00b\x07c\x1b[31md\tcol\r\nnext\rlast\x7f"
    caption = render_caption(replace(POST, text=text))
    assert caption == "abc[31md\tcol\nnext\nlast\n\n— @alice"
    assert shown(caption) == caption


@pytest.mark.parametrize("control", C0)
def test_every_c0_control_is_dropped(control: str) -> None:
    post = replace(POST, text=f"x{control}y", author_name=f"A{control}B")
    caption = render_caption(post, "{{ text }} {{ author_name }}")
    assert caption == "xy AB"


@pytest.mark.parametrize("control", BIDI)
def test_bidi_controls_leave_names(control: str) -> None:
    post = replace(
        POST,
        author=f"eve{control}lyn",
        author_name=f"Eve{control} Lyn",
        sound=Sound(title=f"Song{control}", author=f"DJ{control}"),
        hashtags=(f"tag{control}",),
    )
    template = (
        "{{ author }} {{ author_name }} {{ sound_title }} {{ sound_author }} {{ hashtags[0] }}"
    )
    assert render_caption(post, template) == "evelyn Eve Lyn Song DJ tag"


def test_a_right_to_left_override_in_a_nickname_cannot_turn_the_caption_line_around() -> None:
    post = replace(POST, author="\u202eecila", author_name="Alice\u202e evil\nname")
    caption = render_caption(post, "<b>{{ author_name }}</b> — @{{ author }}: {{ text }}")
    assert caption == "<b>Alice evil name</b> — @ecila: Morning run"


def test_the_text_keeps_its_bidi_controls_closed_at_each_line_end() -> None:
    text = "\u202bשלום\u202c world\n\u202eevil \u2067isolated"
    caption = render_caption(replace(POST, text=text), "{{ text }} — @{{ author }}")
    first, second = caption.split("\n")
    assert first == "\u202bשלום\u202c world"
    assert second == "\u202eevil \u2067isolated\u2069\u202c — @alice"


def test_a_text_of_only_bidi_controls_counts_as_no_text() -> None:
    assert render_caption(replace(POST, text="\u202e \u200f\x00")) == "— @alice"


@pytest.mark.parametrize(
    ("line", "closed"),
    [
        ("plain", "plain"),
        ("\u202eopen", "\u202eopen\u202c"),
        ("\u202eclosed\u202c", "\u202eclosed\u202c"),
        ("\u2067a\u202bb\u2069c", "\u2067a\u202bb\u2069c"),  # a PDI closes embeddings inside
        ("\u202b\u2066a", "\u202b\u2066a\u2069\u202c"),
        ("stray\u202c\u2069", "stray\u202c\u2069"),
        ("a\u202e\nb", "a\u202e\u202c\nb"),
    ],
)
def test_close_bidi(line: str, closed: str) -> None:
    assert close_bidi(line) == closed
    assert close_bidi(closed) == closed


def _open_at_end(line: str) -> bool:
    return close_bidi(line) != line


NAMES = st.text(alphabet=st.sampled_from([*BIDI, *C0, "\t", "\n", "\r", "a", "é", "😀", " "]))


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(TEXTS, NAMES), author=NAMES, author_name=NAMES, link=st.booleans())
def test_no_control_character_reaches_telegram_and_no_line_is_left_reordered(
    text: str, author: str, author_name: str, link: bool
) -> None:
    post = replace(POST, text=text, author=author or "alice", author_name=author_name)
    for template in (None, "{{ author_name }} {{ text }} — @{{ author }}"):
        caption = render_caption(post, template, link=link)
        shown(caption)  # Telegram takes it
        assert not [char for char in caption if char in C0 or char == "\r"]
        assert not [line for line in caption.split("\n") if _open_at_end(line)]
    context = template_context(post)
    for name in ("author", "author_name"):
        assert not [char for char in context[name] if char in BIDI or char in [*C0, "\n", "\t"]]
