"""Captions: templates, Telegram HTML escaping, safe length limits."""

from tikrelay.captions.controls import clean_name
from tikrelay.captions.markup import fit_html, visible_length
from tikrelay.captions.render import (
    CAPTION_LIMIT,
    DEFAULT_TEMPLATE,
    CaptionTemplateError,
    check_template,
    render_caption,
)

__all__ = [
    "CAPTION_LIMIT",
    "DEFAULT_TEMPLATE",
    "CaptionTemplateError",
    "check_template",
    "clean_name",
    "fit_html",
    "render_caption",
    "visible_length",
]
