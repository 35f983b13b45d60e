"""docs/reposting.md documents every stage and every event the reposter's jobs write on their
timelines (the other direction, names that do not exist, is test_docs_vocabulary's)."""

from __future__ import annotations

from pathlib import Path

from tikrelay.domain.events import ReposterEvent, Stage

REPOSTING = Path(__file__).resolve().parents[2] / "docs" / "reposting.md"


def test_every_stage_and_reposter_event_is_in_the_reposting_doc() -> None:
    text = REPOSTING.read_text(encoding="utf-8")
    problems = [
        f"docs/reposting.md does not document the {what} {name}"
        for what, names in (("stage", Stage), ("event", ReposterEvent))
        for name in names
        if f"`{name}`" not in text
    ]
    assert not problems, "\n".join(problems)
