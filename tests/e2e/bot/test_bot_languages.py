"""The bot speaks each person's language: their Telegram app's, or the one chosen with /lang."""

from __future__ import annotations

from tests.support.bot import bot_replies
from tests.support.processes import running_bot, wait_until
from tests.support.relayed import Relayed
from tikrelay.bot import texts
from tikrelay.bot.i18n import RLM, tr


def test_replies_follow_the_app_language_and_lang(relayed: Relayed) -> None:
    telegram = relayed.telegram
    olga = telegram.add_user("Olga", language_code="ru")
    omar = telegram.add_user("Omar", language_code="ar")
    olga_chat = telegram.add_chat("private", person=olga)
    omar_chat = telegram.add_chat("private", person=omar)
    telegram.user_message(olga_chat.id, "привет")
    telegram.user_command(olga_chat.id, "lang", "es")
    telegram.user_message(olga_chat.id, "hola")
    telegram.user_command(olga_chat.id, "lang", "xx")
    telegram.user_message(omar_chat.id, "مرحبا")

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, olga_chat.id)) == 4, 60, proc)
        wait_until(lambda: len(bot_replies(relayed, omar_chat.id)) == 1, 60, proc)
    hint_ru, chosen, hint_es, usage = bot_replies(relayed, olga_chat.id)
    assert hint_ru == tr("ru", texts.NO_LINK)
    assert hint_ru.startswith("Пришлите")
    assert chosen == "A partir de ahora te hablo en español."
    assert hint_es.startswith("Envíame un enlace")
    assert usage.startswith("Elige mi idioma con /lang")
    assert "ar (العربية)" in usage
    [hint_ar] = bot_replies(relayed, omar_chat.id)
    assert hint_ar.startswith(RLM)
    assert hint_ar == tr("ar", texts.NO_LINK)
