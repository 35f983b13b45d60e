"""A source's filters as a pure decision: each rule, its inclusive bound, what is unknown
passing, and words and hashtags matched whole, without regard to case or accents."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tikrelay.cli.posts import post_line
from tikrelay.cli.progress import LiveProgress, PlainProgress
from tikrelay.config import ConfigError, load_settings
from tikrelay.config.settings import FilterSettings, Settings
from tikrelay.domain.posts import Post, PostKind
from tikrelay.domain.words import fold, hashtags, words
from tikrelay.reposter.filters import reason_to_skip
from tikrelay.reposter.model import Routes, watched_sources
from tikrelay.sources.tiktok_item import post_from_item
from tikrelay.store.reports import PostLine

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def post(**fields: Any) -> Post:
    base: dict[str, Any] = {
        "site": "tiktok",
        "id": "7300000000000000001",
        "kind": PostKind.VIDEO,
        "url": "https://www.tiktok.com/@alice/video/7300000000000000001",
        "author": "alice",
    }
    return Post(**{**base, **fields})


def skip(rules: dict[str, Any], **fields: Any) -> str | None:
    return reason_to_skip(post(**fields), FilterSettings.model_validate(rules), NOW)


# -- each rule, at its bound and beyond ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "fields", "reason"),
    [
        ({"min_views": 1000}, {"views": 1000}, None),
        ({"min_views": 1000}, {"views": 999}, "views 999 < min_views 1000"),
        ({"min_views": 0}, {"views": 0}, None),
        ({"min_likes": 50}, {"likes": 50}, None),
        ({"min_likes": 50}, {"likes": 49}, "likes 49 < min_likes 50"),
        ({"max_age_days": 7}, {"created_at": NOW - timedelta(days=7)}, None),
        (
            {"max_age_days": 7},
            {"created_at": NOW - timedelta(days=7, seconds=1)},
            "age 7.1 days > max_age_days 7",
        ),
        ({"max_age_days": 0.5}, {"created_at": NOW - timedelta(hours=11)}, None),
        (
            {"max_age_days": 0.5},
            {"created_at": NOW - timedelta(hours=13)},
            "age 0.6 days > max_age_days 0.5",
        ),
        ({"max_age_days": 1}, {"created_at": NOW + timedelta(hours=2)}, None),  # clocks differ
        ({"kinds": ["video"]}, {"kind": PostKind.VIDEO}, None),
        (
            {"kinds": ["video"]},
            {"kind": PostKind.SLIDESHOW},
            "kind slideshow not in kinds (video)",
        ),
        ({"kinds": ["slideshow"]}, {"kind": PostKind.VIDEO}, "kind video not in kinds (slideshow)"),
        ({"kinds": ["video", "slideshow"]}, {"kind": PostKind.SLIDESHOW}, None),
        # A sound alone is no kind a creator's feed has: kinds that are listed keep it out.
        (
            {"kinds": ["video", "slideshow"]},
            {"kind": PostKind.AUDIO},
            "kind audio not in kinds (video, slideshow)",
        ),
        ({"min_duration": 5}, {"duration": 5.0}, None),
        ({"min_duration": 5}, {"duration": 4.5}, "duration 4.5 s < min_duration 5"),
        ({"max_duration": 60}, {"duration": 60.0}, None),
        ({"max_duration": 60}, {"duration": 61.0}, "duration 61 s > max_duration 60"),
        ({"min_height": 720}, {"heights": (720,)}, None),
        ({"min_height": 720}, {"heights": (540,)}, "height 540 < min_height 720"),
        ({"min_height": 720}, {"heights": (1080, 540)}, None),  # the best a site offers
    ],
)
def test_each_rule_and_its_inclusive_bound(
    rules: dict[str, Any], fields: dict[str, Any], reason: str | None
) -> None:
    assert skip(rules, **fields) == reason


ALL_RULES = {
    "min_views": 1000,
    "min_likes": 10,
    "max_age_days": 7,
    "min_duration": 5,
    "max_duration": 60,
    "min_height": 720,
}


def test_what_the_source_does_not_give_passes() -> None:
    # No views, likes, creation time, length or height: nothing known fails a rule.
    assert skip(ALL_RULES) is None


def test_a_slideshow_has_no_length_or_height_to_fail() -> None:
    slides = {"kind": PostKind.SLIDESHOW, "duration": 1.0, "heights": (100,)}
    assert skip(ALL_RULES, **slides) is None
    assert skip(ALL_RULES, kind=PostKind.VIDEO, duration=1.0, heights=(100,)) == (
        "duration 1 s < min_duration 5; height 100 < min_height 720"
    )


def test_every_failed_rule_is_named() -> None:
    found = skip(
        {**ALL_RULES, "kinds": ["video"], "exclude": ["#ad"]},
        views=812,
        likes=3,
        created_at=NOW - timedelta(days=8, hours=6),
        duration=30.0,
        text="buy it #ad",
    )
    assert found == (
        "age 8.3 days > max_age_days 7; views 812 < min_views 1000; likes 3 < min_likes 10; "
        'has "#ad" (exclude)'
    )


def test_no_filters_and_empty_filters_pass_everything() -> None:
    assert reason_to_skip(post(views=0), None, NOW) is None
    assert skip({}, views=0, text="#ad", created_at=NOW - timedelta(days=9999)) is None


# -- words and hashtags ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "text", "tags", "found"),
    [
        ("#ad", "summer #ad", (), True),
        ("#ad", "summer #adventure", (), False),  # a whole hashtag only
        ("#ad", "an ad break", (), False),  # a hashtag term is not the plain word
        ("#ad", "no tag in the text", ("ad",), True),  # tags the page lists beside the text
        ("#AD", "summer #Ad", (), True),
        ("ad", "an ad break", (), True),
        ("ad", "an adventure", (), False),  # whole words
        ("ad", "ads", (), False),
        ("ad", "summer #ad", (), True),  # a plain word also finds the hashtag a reader sees
        ("ad", "caption", ("ad",), True),
        ("ad", "summer #adventure", (), False),
        ("Café", "CAFE crème", (), True),  # case and accents ignored, both ways
        ("cafe", "Un café", (), True),
        ("#café", "#Cafe", (), True),
        ("straße", "STRASSE", (), True),
        ("ﬁsh", "fish", (), True),  # a ligature is its letters
        ("ｃａｔ", "cat", (), True),  # full-width letters too
        ("new york", "I ♥ New-York!", (), True),  # a few words: in that order
        ("new york", "york, new", (), False),
        ("new york", "#newyork", (), False),
        ("don't", "I DON'T care", (), True),
        ("2024", "best of 2024", (), True),
        ("à", "a la carte", (), True),
    ],
)
def test_terms_match_whole_words_and_hashtags(
    term: str, text: str, tags: tuple[str, ...], found: bool
) -> None:
    kept = skip({"exclude": [term]}, text=text, hashtags=tags)
    assert (kept is not None) is found
    chosen = skip({"include": [term]}, text=text, hashtags=tags)
    assert (chosen is None) is found


def test_include_needs_one_term_and_exclude_none() -> None:
    rules = {"include": ["cats", "#dogs"], "exclude": ["sponsored", "#ad"]}
    assert skip(rules, text="my #dogs") is None
    assert skip(rules, text="Cats!") is None
    assert skip(rules, text="birds") == 'has none of include ("cats", "#dogs")'
    assert skip(rules, text="cats #AD, sponsored") == 'has "sponsored", "#ad" (exclude)'
    assert skip(rules, text="birds #ad") == (
        'has "#ad" (exclude); has none of include ("cats", "#dogs")'
    )


def test_folding() -> None:
    assert fold("Ça Crème BRÛLÉE") == "ca creme brulee"
    assert words("Hello, wörld! #Fun_Times 2024") == ["hello", "world", "fun_times", "2024"]
    assert hashtags("a #Été and #b2", ("#Extra", "more")) == {"ete", "b2", "extra", "more"}


@given(st.text(max_size=40), st.text(max_size=40))
def test_any_text_and_term_decide_without_error(term: str, text: str) -> None:
    try:
        rules = FilterSettings.model_validate({"include": [term], "exclude": [term + "x"]})
    except ValidationError:
        return
    reason_to_skip(post(text=text, hashtags=(text[:5],)), rules, NOW)


@given(st.text(min_size=1, max_size=20).filter(lambda t: words(t) == [fold(t)]))
def test_a_word_always_finds_itself_and_its_hashtag(word: str) -> None:
    assert skip({"exclude": [word]}, text=f"x {word} y") is not None
    assert skip({"exclude": [word]}, text=f"x #{word} y") is not None
    assert skip({"exclude": [f"#{word}"]}, text=f"x #{word.upper()} y") is not None


# -- the settings -------------------------------------------------------------------------------


def load(tmp_path: Path, filters: str, *, second: str = "") -> Settings:
    path = tmp_path / "tikrelay.yaml"
    path.write_text(
        "destinations: {main: {telegram: {chat_id: '@main'}}}\n"
        f"sources:\n  - {{tiktok: '@alice', to: [main], filters: {filters}}}\n{second}",
        encoding="utf-8",
    )
    return load_settings(path)


def refused(tmp_path: Path, filters: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, filters)
    return str(caught.value)


def test_the_contract_loads(tmp_path: Path) -> None:
    settings = load(
        tmp_path, '{min_views: 1000, max_age_days: 7, kinds: [video], exclude: ["#ad"]}'
    )
    rules = settings.sources[0].filters
    assert rules is not None
    assert (rules.min_views, rules.max_age_days, rules.kinds, rules.exclude) == (
        1000,
        7,
        ["video"],
        ["#ad"],
    )
    assert rules.include == []


def test_one_kind_or_term_may_be_written_without_a_list(tmp_path: Path) -> None:
    rules = load(tmp_path, "{kinds: Slideshow, exclude: '#ad', include: 2024}").sources[0].filters
    assert rules is not None
    assert (rules.kinds, rules.exclude, rules.include) == (["slideshow"], ["#ad"], ["2024"])


@pytest.mark.parametrize(
    ("filters", "says"),
    [
        (
            "{kinds: [gif]}",
            "sources.0.filters.kinds.0: 'gif' is not a kind of post: write video and/or slideshow",
        ),
        ("{kinds: [audio]}", "sources.0.filters.kinds.0: 'audio' is not a kind a creator's feed"),
        ("{kinds: []}", "sources.0.filters.kinds: an empty list lets no post through"),
        (
            "{min_duration: 60, max_duration: 30}",
            "sources.0.filters: min_duration 60 is more than max_duration 30: no video could "
            "pass; lower min_duration or raise max_duration",
        ),
        (
            "{include: [Café], exclude: [cafe]}",
            "sources.0.filters: 'cafe' is in both include and exclude",
        ),
        (
            "{exclude: ['#summer vibes']}",
            "sources.0.filters.exclude.0: '#summer vibes' is not one hashtag",
        ),
        ("{exclude: ['#']}", "sources.0.filters.exclude.0: '#' has no letters or digits"),
        ("{include: ['']}", "sources.0.filters.include.0: '' has no letters or digits"),
        ("{min_views: -1}", "sources.0.filters.min_views: "),
        ("{min_views: true}", "sources.0.filters.min_views: true is not a number"),
        ("{max_age_days: 0}", "sources.0.filters.max_age_days: "),
        ("{min_view: 10}", "sources.0.filters.min_view: unknown key"),
        ("[min_views]", "sources.0.filters: "),
    ],
)
def test_mistakes_name_the_key_and_the_fix(tmp_path: Path, filters: str, says: str) -> None:
    assert says in refused(tmp_path, filters)


def test_hashtag_and_word_of_the_same_name_may_differ() -> None:
    # "#ad" matches the hashtag only, "ad" also the word: not the same term.
    FilterSettings.model_validate({"include": ["#ad"], "exclude": ["ad"]})


def test_every_number_is_bounded_and_refuses_booleans() -> None:
    checked = []
    for name, field in FilterSettings.model_fields.items():
        kind = str(field.annotation)
        if "float" not in kind and "int" not in kind:
            continue
        FilterSettings.model_validate({name: 1})
        wrong: list[object] = [10**30, True, False, -1]
        if "float" in kind:
            wrong += [1e300, float("inf"), float("nan")]
        for number in wrong:
            with pytest.raises(ValidationError):
                FilterSettings.model_validate({name: number})
        checked.append(name)
    assert len(checked) == 6, checked


def test_one_creator_twice_must_have_the_same_filters(tmp_path: Path) -> None:
    same = load(
        tmp_path,
        "{min_views: 5}",
        second="  - {tiktok: alice, to: [main], filters: {min_views: 5}}\n",
    )
    assert len(watched_sources(same)) == 1
    other = load(tmp_path, "{min_views: 5}", second="  - {tiktok: alice, to: [main]}\n")
    with pytest.raises(ValueError, match=r"sources\.1\.filters: @alice is watched by sources\.0"):
        watched_sources(other)


def test_filters_hold_for_the_sources_own_destinations_only(tmp_path: Path) -> None:
    routes = Routes.from_settings(load(tmp_path, "{min_views: 5}"))
    rules = routes.filters_for("tiktok:@alice", "main")
    assert rules is not None
    assert rules.min_views == 5
    assert routes.filters_for("tiktok:@alice", "vault") is None  # reached through archive_to
    assert routes.filters_for("web", "main") is None  # a person asked for the post
    assert routes.filters_for("tiktok:@bob", "main") is None


# -- what the post page says ---------------------------------------------------------------------

ITEM: dict[str, Any] = {
    "id": "7300000000000000001",
    "desc": "clip",
    "createTime": "1760000000",
    "author": {"uniqueId": "alice"},
    "stats": {"playCount": 10, "diggCount": 2},
    "video": {"duration": 15, "height": 1024, "width": 576},
}
URL = "https://www.tiktok.com/@alice/video/7300000000000000001"


def test_a_video_page_gives_its_length_and_height() -> None:
    found = post_from_item(ITEM, URL, ITEM["id"])
    assert (found.duration, found.heights) == (15.0, (1024,))


@pytest.mark.parametrize("value", [0, -3, None, "long", True, float("nan"), [], {}])
def test_an_odd_length_or_height_is_unknown(value: object) -> None:
    item = copy.deepcopy(ITEM)
    item["video"] = {"duration": value, "height": value}
    found = post_from_item(item, URL, ITEM["id"])
    assert (found.duration, found.heights) == (None, ())
    item["video"] = value
    assert post_from_item(item, URL, ITEM["id"]).duration is None


def test_a_slideshow_has_no_length_or_height() -> None:
    item = copy.deepcopy(ITEM)
    item["imagePost"] = {"images": [{"imageURL": {"urlList": ["https://x/1.jpg"]}}]}
    found = post_from_item(item, URL, ITEM["id"])
    assert (found.kind, found.duration, found.heights) == (PostKind.SLIDESHOW, None, ())


# -- how it is shown -------------------------------------------------------------------------------


def test_the_lines_a_run_and_tikrelay_posts_show(capsys: pytest.CaptureFixture[str]) -> None:
    PlainProgress().filtered("tiktok:1", "main", "views 812 < min_views 1000")
    assert capsys.readouterr().out == "filtered tiktok:1 → main: views 812 < min_views 1000\n"
    with LiveProgress() as live:
        live.polled("tiktok:@alice", 2, 2)
        live.stage("tiktok:1", "main", "METADATA_FETCH")
        live.filtered("tiktok:1", "main", "views 812 < min_views 1000")
        (total,) = live._bar.tasks  # the post's row is gone, and it counts as done
        assert (total.total, total.completed) == (2, 1)

    at = datetime(2026, 12, 5, 18, 51, tzinfo=UTC)
    line = PostLine(
        "tiktok:7301",
        "alice",
        "video",
        at,
        ["clips"],
        {"fans": "views 812 < min_views 1000", "archive": "views 812 < min_views 1000"},
    )
    assert post_line(line) == (
        "tiktok:7301  @alice  video  2026-12-05 18:51  delivered to clips; "
        "filtered for archive, fans: views 812 < min_views 1000"
    )
    assert post_line(line, filtered_only=True) == (
        "tiktok:7301  @alice  video  2026-12-05 18:51  "
        "filtered for archive, fans: views 812 < min_views 1000"
    )
    unknown = PostLine("tiktok:7302", None, None, at, [], {})
    assert post_line(unknown) == "tiktok:7302  ?  ?  2026-12-05 18:51  not delivered"


def test_a_hashtag_with_a_combining_accent_is_one_hashtag() -> None:
    """``#cafe`` + U+0301 + ``s`` (the accent written as a mark of its own) is ``#cafes``."""
    from tikrelay.domain.words import hashtags

    assert hashtags("so good #cafe\u0301s") == {"cafes"}
