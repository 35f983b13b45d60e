"""Every message the bot says exists in every language it speaks, with the same placeholders;
Arabic is marked right to left; a person's language is chosen as documented."""

from __future__ import annotations

import string

import pytest
from babel.messages.pofile import read_po

from tikrelay.bot import texts
from tikrelay.bot.i18n import LANGUAGES, LOCALES, RLM, choose, tr

#: The operators' answers (admin figures) are English only; everything else is translated.
OPERATOR_ONLY = {
    "WORKING",
    "MAINTENANCE_ON",
    "MAINTENANCE_OFF",
    "MAINTENANCE_USAGE",
    "JOB_USAGE",
    "NO_JOB",
    "RETRIED",
    "DUE_NOW",
    "NOT_RETRYABLE",
    "CANCELLED",
    "STOPPING",
    "NOT_CANCELLABLE",
    "CREATOR_USAGE",
    "PAUSED_SOURCE",
    "RESUMED_SOURCE",
    "UNCHANGED_SOURCE",
    "BROADCAST_USAGE",
    "BROADCAST_QUEUED",
    "BROADCAST_DONE",
}


def said_to_people() -> list[str]:
    found = [
        value
        for name, value in vars(texts).items()
        if name.isupper() and isinstance(value, str) and name not in OPERATOR_ONLY
    ]
    return [*found, *texts.FAILURES.values()]


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def catalog(language: str) -> dict[str, str]:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


@pytest.mark.parametrize("language", sorted(set(LANGUAGES) - {"en"}))
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    translated = catalog(language)
    for message in said_to_people():
        assert translated.get(message), f"{language} lacks: {message!r}"
        assert placeholders(translated[message]) == placeholders(message), (language, message)
    assert set(translated) <= set(said_to_people()), "translations of messages no longer said"


def test_arabic_reads_right_to_left_and_others_do_not() -> None:
    arabic = tr("ar", texts.SUBSCRIBED, creator="alice", where=tr("ar", texts.HERE))
    assert arabic.startswith(RLM)
    assert "alice" in arabic
    assert not tr("ru", texts.NO_LINK).startswith(RLM)
    assert tr("en", texts.SPAM, seconds=5) == texts.SPAM.format(seconds=5)


@pytest.mark.parametrize(
    ("preferred", "telegram", "expected"),
    [
        (None, "ru", "ru"),
        (None, "pt-BR", "pt"),
        (None, "de", "en"),
        (None, None, "en"),
        ("es", "ru", "es"),
        ("xx", "uk", "uk"),
    ],
)
def test_the_language_chosen_with_lang_comes_first_then_the_apps(
    preferred: str | None, telegram: str | None, expected: str
) -> None:
    assert choose(preferred, telegram) == expected
