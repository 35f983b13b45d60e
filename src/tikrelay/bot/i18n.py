"""The bot's languages: gettext catalogs (``locales/<lang>/LC_MESSAGES/messages.po``) read with
Babel and compiled in memory on first use; English is the source language. Arabic is marked
right to left (a leading RIGHT-TO-LEFT MARK), so a message that begins with a command, a name or a
link still shows from the right."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
#: Every language the bot speaks, by code, named in itself.
LANGUAGES = {
    "en": "English",
    "ru": "Русский",
    "uk": "Українська",
    "es": "Español",
    "pt": "Português",
    "id": "Bahasa Indonesia",
    "tr": "Türkçe",
    "ar": "العربية",
}
DEFAULT = "en"
RIGHT_TO_LEFT = frozenset({"ar"})
RLM = "\u200f"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The language's catalog (English, or an unknown language: the messages as written)."""
    po = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def tr(language: str, message: str, **values: object) -> str:
    """``message`` in ``language``, its ``{placeholders}`` filled."""
    text = translations(language).gettext(message)
    if values:
        text = text.format(**values)
    return RLM + text if language in RIGHT_TO_LEFT else text


def choose(preferred: str | None, telegram_code: str | None) -> str:
    """The person's language: chosen with /lang, else their Telegram app's, else English."""
    for code in (preferred, (telegram_code or "").split("-")[0].lower()):
        if code in LANGUAGES:
            return code
    return DEFAULT
