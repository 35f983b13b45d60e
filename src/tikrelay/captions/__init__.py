"""Captions: templates, Telegram HTML escaping, safe length limits."""

from tikrelay.captions.controls import clean_name
from tikrelay.captions.markup import fit_html, visible_length
from tikrelay.captions.render import (
    CAPTION_LIMIT,
    DEFAULT_TEMPLATE,
    CaptionTemplateError,
    check_prompt,
    check_template,
    render_ai_caption,
    render_caption,
    render_prompt,
)

__all__ = [
    "CAPTION_LIMIT",
    "DEFAULT_TEMPLATE",
    "CaptionTemplateError",
    "check_prompt",
    "check_template",
    "clean_name",
    "fit_html",
    "render_ai_caption",
    "render_caption",
    "render_prompt",
    "visible_length",
]
