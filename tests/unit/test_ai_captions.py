"""AI captions' pure parts: the prompt's fields, the answer's parsing, the caption's shape and
length, and the settings' checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from tikrelay.captions import (
    CAPTION_LIMIT,
    CaptionTemplateError,
    check_prompt,
    render_ai_caption,
    render_caption,
    render_prompt,
    visible_length,
)
from tikrelay.captions.ai import AiCaptionError, cache_key, read_reply
from tikrelay.config.fields import machine_zone
from tikrelay.config.settings import AiCaptionSettings, DestinationSettings
from tikrelay.domain.posts import Post, PostKind, Sound

POST = Post(
    site="tiktok",
    id="1",
    kind=PostKind.VIDEO,
    url="https://www.tiktok.com/@alice/video/1",
    author="alice",
    author_name="Alice A",
    text="Morning <run> & more",
    created_at=datetime(2026, 3, 4, 23, 30, tzinfo=UTC),
    hashtags=("run", "city"),
    views=1234,
    likes=56,
    sound=Sound(title="Song", author="Band"),
)


def test_the_prompt_has_every_field_unescaped_and_dates_in_the_destinations_zone() -> None:
    prompt = (
        "{{ author }}|{{ author_name }}|{{ text }}|{{ url }}|{{ hashtags | join(',') }}|"
        "{{ sound_title }}|{{ sound_author }}|{{ views | compact }}|{{ likes }}|"
        "{{ created_at | date('%d.%m %H:%M %Z') }}|{{ kind }}"
    )
    assert render_prompt(POST, prompt, ZoneInfo("Europe/Berlin")) == (
        "alice|Alice A|Morning <run> & more|https://www.tiktok.com/@alice/video/1|run,city|"
        "Song|Band|1.2K|56|05.03 00:30 CET|video"
    )


def test_caption_dates_follow_the_time_zone_and_default_to_utc() -> None:
    template = "{{ created_at | date('%Y-%m-%d %H:%M') }}"
    assert render_caption(POST, template) == "2026-03-04 23:30"
    assert render_caption(POST, template, tz=ZoneInfo("Asia/Tokyo")) == "2026-03-05 08:30"


def test_a_broken_prompt_is_refused_with_its_line() -> None:
    with pytest.raises(CaptionTemplateError, match="line 1"):
        check_prompt("{{ text ")
    with pytest.raises(CaptionTemplateError, match="unknown variable 'auther'"):
        check_prompt("{{ auther }}")
    check_prompt("Describe: {{ text }} {% if views and views > 1000 %}popular{% endif %}")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "no choices"),
        ({"choices": []}, "no choices"),
        ({"choices": [{"message": {}}]}, "no choices"),
        ([1, 2], "no choices"),
        ({"choices": [{"message": {"content": None}}]}, "not text"),
        ({"choices": [{"message": {"content": "  \n "}}]}, "empty"),
    ],
)
def test_answers_without_text_are_errors(body: Any, problem: str) -> None:
    with pytest.raises(AiCaptionError, match=problem):
        read_reply(body)


def test_the_answers_text_is_read_trimmed() -> None:
    assert read_reply({"choices": [{"message": {"content": " Hello\n"}}]}) == "Hello"


def test_the_ai_text_is_followed_by_the_templates_author_line() -> None:
    assert render_ai_caption(POST, "Fast & <b>") == "Fast &amp; &lt;b&gt;\n\n— @alice"
    custom = "<b>{{ author_name }}</b>: {{ text }}"
    assert render_ai_caption(POST, "Hi", custom, link=True) == (
        'Hi\n\n<b>Alice A</b>: \n<a href="https://www.tiktok.com/@alice/video/1">TikTok</a>'
    )
    assert render_ai_caption(POST, " \u202e ") == "— @alice"


def test_a_long_ai_text_is_cut_and_the_author_line_survives() -> None:
    caption = render_ai_caption(POST, "word " * 400)
    assert visible_length(caption) <= CAPTION_LIMIT
    assert caption.endswith("…\n\n— @alice")


def test_the_cache_key_depends_on_address_model_and_prompt() -> None:
    base = AiCaptionSettings(base_url="http://h/v1", model="m", prompt="{{ text }}")
    same = AiCaptionSettings(base_url="http://h/v1/", model="m", prompt="other", timeout_seconds=5)
    other = AiCaptionSettings(base_url="http://h/v1", model="n", prompt="{{ text }}")
    assert cache_key(base, "p") == cache_key(same, "p")
    assert cache_key(base, "p") != cache_key(base, "q")
    assert cache_key(base, "p") != cache_key(other, "p")


def test_settings_default_to_a_30_second_timeout_and_check_their_values() -> None:
    settings = AiCaptionSettings(base_url="https://api.example/v1", model="m", prompt="{{ text }}")
    assert settings.timeout_seconds == 30
    assert settings.api_key_env == "OPENAI_API_KEY"
    with pytest.raises(ValidationError, match="is not an API address"):
        AiCaptionSettings(base_url="ftp://x", model="m", prompt="p")
    with pytest.raises(ValidationError, match="not an environment variable's name"):
        AiCaptionSettings(base_url="http://x/v1", model="m", prompt="p", api_key_env="sk-123")
    with pytest.raises(ValidationError, match="is not a time zone"):
        DestinationSettings.model_validate({"telegram": {"chat_id": 1}, "tz": "Mars/Base"})
    # No tz: the machine's zone (the schedule's, when it names one).
    assert DestinationSettings.model_validate({"telegram": {"chat_id": 1}}).zone == machine_zone()
