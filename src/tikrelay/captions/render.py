"""Captions from templates: a sandboxed Jinja2 environment whose output is Telegram HTML.

Templates come from the user's configuration, so they run in Jinja2's immutable sandbox (no access
to ``__class__`` and friends, no mutation of the values handed in), with autoescape on (every
variable is escaped for Telegram HTML unless the template marks it ``safe``) and StrictUndefined (a
misspelt variable is an error that names it, not an empty string).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tikrelay.captions.controls import BIDI_CONTROLS, clean_name, clean_text, close_bidi
from tikrelay.captions.graphemes import cut_points
from tikrelay.captions.markup import ELLIPSIS, MarkupError, check_markup, fit_html, visible_length
from tikrelay.domain.errors import ErrorKind, TikrelayError, register_classifier
from tikrelay.domain.posts import Post, PostKind, Sound

#: Telegram's limit for a media caption, in UTF-16 units of the visible text.
CAPTION_LIMIT = 1024

#: The post text, a blank line, then the author; no blank line when there is no text.
DEFAULT_TEMPLATE = "{% if text %}{{ text }}\n\n{% endif %}— @{{ author }}"

#: Every name a template may use, in the order the documentation lists them.
VARIABLES = (
    "text",
    "author",
    "author_name",
    "url",
    "hashtags",
    "views",
    "likes",
    "created_at",
    "sound_title",
    "sound_author",
    "kind",
)

_LINK_LABELS = {"tiktok": "TikTok"}
#: A text of only these shows nothing: no text, for ``{% if text %}``.
_INVISIBLE = "".join(BIDI_CONTROLS) + " \t\n"
_COMPACT_STEPS = ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K"))


class CaptionTemplateError(ValueError):
    """A caption template that cannot be used; the one-line message names the problem."""


@register_classifier
def _classify(exc: BaseException) -> TikrelayError | None:
    # A broken template fails the same way on every attempt: never worth a retry.
    if isinstance(exc, CaptionTemplateError):
        return TikrelayError(ErrorKind.UNSUPPORTED, f"caption template: {exc}")
    return None


def compact_count(value: int | None) -> str:
    """``1234`` → ``1.2K``, ``2500000`` → ``2.5M``; empty for an unknown count."""
    if value is None:
        return ""
    if abs(value) < 1_000:
        return str(value)
    for step, suffix in _COMPACT_STEPS:
        # Rounded first, so that 999,999 reads 1M rather than 1000K.
        scaled = round(value / step, 1)
        if abs(scaled) >= 1:
            return f"{scaled:.1f}".removesuffix(".0") + suffix
    return str(value)


def format_date(value: datetime | None, pattern: str = "%Y-%m-%d") -> str:
    """``created_at | date("%d.%m.%Y")``; empty when the post has no date."""
    return "" if value is None else value.strftime(pattern)


def _environment(*, autoescape: bool = True) -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        # Block tags on lines of their own leave no blank lines, so YAML block scalars read well.
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["compact"] = compact_count
    environment.filters["date"] = format_date
    return environment


_ENVIRONMENT = _environment()
#: Prompts are plain text for a language model, not Telegram HTML: nothing is escaped.
_PROMPT_ENVIRONMENT = _environment(autoescape=False)


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """The compiled template (cached per source); unknown variables are refused up front,
    even in branches a particular post would not take."""
    return _compile(_ENVIRONMENT, source)


@functools.lru_cache(maxsize=64)
def compile_prompt(source: str) -> Template:
    """A prompt template: the caption template's variables and filters, nothing escaped."""
    return _compile(_PROMPT_ENVIRONMENT, source)


def _compile(environment: ImmutableSandboxedEnvironment, source: str) -> Template:
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        raise CaptionTemplateError(f"line {exc.lineno}: {exc.message}") from exc
    unknown = sorted(
        meta.find_undeclared_variables(tree) - set(VARIABLES) - set(environment.globals)
    )
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise CaptionTemplateError(
            f"unknown variable{plural} {names}; known: {', '.join(VARIABLES)}"
        )
    return environment.from_string(tree)


def template_context(post: Post, tz: tzinfo | None = None) -> dict[str, Any]:
    """The values a template sees for ``post``; missing words are empty strings, so that
    ``{{ author_name }}`` never prints ``None``. What strangers wrote loses its control
    characters (``captions.controls``). ``created_at`` is in ``tz`` (the destination's time
    zone; UTC when None)."""
    sound = post.sound or Sound()
    text = clean_text(post.text).strip()
    created_at = post.created_at
    if created_at is not None:
        if created_at.tzinfo is None:  # a source that gave a naive date meant UTC
            created_at = created_at.replace(tzinfo=UTC)
        created_at = created_at.astimezone(tz or UTC)
    return {
        "text": text if text.strip(_INVISIBLE) else "",
        "author": clean_name(post.author).lstrip("@").strip(),
        "author_name": clean_name(post.author_name or "").strip(),
        "url": post.url,
        "hashtags": [clean_name(tag).lstrip("#").strip() for tag in post.hashtags],
        "views": post.views,
        "likes": post.likes,
        "created_at": created_at,
        "sound_title": clean_name(sound.title or "").strip(),
        "sound_author": clean_name(sound.author or "").strip(),
        "kind": post.kind.value,
    }


def _render(template: Template, context: Mapping[str, Any]) -> str:
    try:
        return template.render(context)
    except TemplateError as exc:
        raise CaptionTemplateError(str(exc)) from exc
    except Exception as exc:  # a template can call anything its values offer, and fail in it
        raise CaptionTemplateError(f"{type(exc).__name__}: {exc}") from exc


def _link_html(post: Post) -> str:
    label = _LINK_LABELS.get(post.site.lower(), "Original")
    return f'<a href="{html.escape(post.url, quote=True)}">{label}</a>'


def render_caption(
    post: Post,
    template: str | None = None,
    *,
    link: bool = False,
    limit: int = CAPTION_LIMIT,
    tz: tzinfo | None = None,
) -> str:
    """The Telegram HTML caption of ``post``, at most ``limit`` visible UTF-16 units.

    ``link`` appends a link to the original on a line of its own; dates are in ``tz`` (UTC when
    None). When the caption is too long the post text is cut and the template rendered again, so
    the rest (author line, link) survives whenever it fits on its own; otherwise the whole
    caption is cut.
    """
    compose = _composer(post, template, link=link, tz=tz)
    return _fit(template_context(post, tz)["text"], compose, limit)


def render_ai_caption(
    post: Post,
    ai_text: str,
    template: str | None = None,
    *,
    link: bool = False,
    limit: int = CAPTION_LIMIT,
    tz: tzinfo | None = None,
) -> str:
    """``ai_text`` (plain text from a language model: escaped, its control characters handled
    as a post text's), a blank line, then the author line: what the destination's template
    renders for ``post`` with an empty ``text`` (``— @author`` for the default template, plus
    the link with ``link``). Cut like ``render_caption``: the author line survives."""
    author_line = _composer(post, template, link=link, tz=tz)("")
    text = clean_text(ai_text).strip()
    if not text.strip(_INVISIBLE):
        return fit_html(author_line, limit)

    def compose(shown: str) -> str:
        body = html.escape(shown, quote=False)
        return "\n\n".join(part for part in (body, author_line) if part)

    return _fit(text, compose, limit)


def _composer(
    post: Post, template: str | None, *, link: bool, tz: tzinfo | None
) -> Callable[[str], str]:
    """The caption of ``post`` for a given ``text`` (already cleaned): the template rendered
    with it, and the link after it."""
    compiled = compile_template(DEFAULT_TEMPLATE if template is None else template)
    context = template_context(post, tz)
    suffix = _link_html(post) if link and post.url else ""

    def compose(text: str) -> str:
        rendered = _render(compiled, {**context, "text": text})
        return "\n".join(part for part in (rendered, suffix) if part)

    return compose


def _fit(text: str, compose: Callable[[str], str], limit: int) -> str:
    """``compose(text)`` when it fits ``limit``; else with the text cut so that what ``compose``
    adds around it survives; else the whole caption cut."""
    full = compose(text)
    if visible_length(full) <= limit:
        return full
    footer = compose("")
    if visible_length(footer) <= limit:
        return _cut_text(text, compose, limit) or footer
    return fit_html(full, limit)


def _cut_text(text: str, compose: Callable[[str], str], limit: int) -> str | None:
    """The caption with the longest prefix of ``text`` (plus an ellipsis) that fits, found by
    bisection over the places a cut may fall; None when not even one character fits."""
    allowed = cut_points(text)
    places = [end for end in range(1, len(text)) if allowed[end] and not text[end - 1].isspace()]
    best: str | None = None
    low, high = 0, len(places) - 1
    while low <= high:
        middle = (low + high) // 2
        # A cut may drop the closers of the text's bidi controls: close them again.
        caption = compose(close_bidi(text[: places[middle]]) + ELLIPSIS)
        if visible_length(caption) <= limit:
            best, low = caption, middle + 1
        else:
            high = middle - 1
    return best


_SAMPLE_FULL = Post(
    site="tiktok",
    id="7300000000000000001",
    kind=PostKind.VIDEO,
    url="https://www.tiktok.com/@sample/video/7300000000000000001",
    author="sample",
    author_name="Sample Creator",
    text="Sample text with #sample & <symbols>",
    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    hashtags=("sample",),
    views=123_456,
    likes=7_890,
    sound=Sound(title="Sample sound", author="Sample artist"),
)
_SAMPLE_SPARSE = Post(
    site="tiktok",
    id="7300000000000000002",
    kind=PostKind.AUDIO,
    url="https://www.tiktok.com/@sample/video/7300000000000000002",
    author="sample",
)
_SAMPLES = (
    ("", _SAMPLE_FULL),
    ("for a post without text, author name, date, counts or sound: ", _SAMPLE_SPARSE),
)


def check_template(source: str) -> None:
    """Raise CaptionTemplateError unless ``source`` renders valid Telegram HTML for a full
    sample post and for one that lacks every optional field."""
    compiled = compile_template(source)
    for context_note, sample in _SAMPLES:
        try:
            check_markup(_render(compiled, template_context(sample)))
        except (CaptionTemplateError, MarkupError) as exc:
            raise CaptionTemplateError(f"{context_note}{exc}") from exc


def render_prompt(post: Post, source: str, tz: tzinfo | None = None) -> str:
    """The prompt for ``post``: ``source`` rendered with the caption template's values."""
    return _render(compile_prompt(source), template_context(post, tz)).strip()


def check_prompt(source: str) -> None:
    """Raise CaptionTemplateError unless ``source`` renders for both sample posts."""
    compiled = compile_prompt(source)
    for context_note, sample in _SAMPLES:
        try:
            _render(compiled, template_context(sample))
        except CaptionTemplateError as exc:
            raise CaptionTemplateError(f"{context_note}{exc}") from exc
