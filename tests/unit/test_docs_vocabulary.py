"""The names on a job's timeline and the error kinds agree with the docs, both ways: docs/jobs.md
documents every engine event and every error kind (with its meaning and whether it is retried),
and no page names an UPPER_SNAKE event or stage that does not exist.

Upper-case names with an underscore are taken for events or stages unless they are listed in
``NOT_EVENTS`` (environment variables, constants, other systems' codes) or start with
``TIKRELAY_`` (the settings' environment variables)."""

from __future__ import annotations

import re
from pathlib import Path

from tikrelay.domain.errors import ErrorKind
from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.jobs import JobEvent, JobStatus
from tikrelay.domain.retry import RETRYABLE

ROOT = Path(__file__).resolve().parents[2]
JOBS_DOC = ROOT / "docs" / "jobs.md"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

NOT_EVENTS = {
    "TELEGRAM_BOT_TOKEN",  # environment variable
    "HTTPS_PROXY",  # environment variable
    "OPENAI_API_KEY",  # environment variable (ai_caption.api_key_env)
    "SQLITE_FULL",  # SQLite's result code
    "PRIVATE_POST",  # sandbox.tiktok status codes
    "PRIVATE_ACCOUNT",
    "IP_BLOCKED",
    "DEFAULT_TEMPLATE",  # captions constants
    "CAPTION_LIMIT",
    "MEDIA_HOSTS",  # sources.media_urls constant
    "AWS_ACCESS_KEY_ID",  # archive credentials in the environment
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_SAS_TOKEN",
    "LC_MESSAGES",  # gettext's folder name
    "PUBLIC_TO_EVERYONE",  # TikTok's privacy levels (destinations.NAME.tiktok.privacy_level)
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
    "YOUR_CLIENT_KEY",  # a placeholder in an example config
}
NAMES = {*JobEvent, *Stage, *ReposterEvent, *JobStatus}
UPPER_SNAKE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
#: A row of the error kinds' table: | `kind` | meaning | retried |
KIND_ROW = re.compile(r"^\| `([a-z-]+)` \| ([^|]*) \| ([^|]*) \|$", re.MULTILINE)


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_every_engine_event_is_in_the_jobs_doc() -> None:
    text = JOBS_DOC.read_text(encoding="utf-8")
    problems = [f"docs/jobs.md does not document {e}" for e in JobEvent if f"`{e}`" not in text]
    assert not problems, "\n".join(problems)


def test_every_error_kind_has_a_row_saying_whether_it_is_retried() -> None:
    rows = KIND_ROW.findall(_section(JOBS_DOC.read_text(encoding="utf-8"), "Errors and retries"))
    table = {kind: (meaning.strip(), retried.strip()) for kind, meaning, retried in rows}
    problems = [
        f"docs/jobs.md has no row for the error kind `{k}`" for k in ErrorKind if k not in table
    ]
    for kind, (meaning, retried) in table.items():
        if kind not in set(ErrorKind):
            problems.append(f"docs/jobs.md lists `{kind}`, which is not an error kind")
            continue
        says = retried.split(maxsplit=1)[0].strip(",;") if retried else ""
        truth = "yes" if ErrorKind(kind) in RETRYABLE else "no"
        if not meaning or says != truth:
            problems.append(
                f"docs/jobs.md: `{kind}` needs a meaning and a retried cell starting with "
                f"{truth!r} (domain.retry.RETRYABLE), not {retried!r}"
            )
    assert not problems, "\n".join(problems)


def test_the_docs_name_only_real_events_and_stages() -> None:
    problems = [
        f"{page.relative_to(ROOT)} names {name}, which is not an event or stage"
        for page in PAGES
        for name in sorted(set(UPPER_SNAKE.findall(page.read_text(encoding="utf-8"))))
        if name not in NAMES and name not in NOT_EVENTS and not name.startswith("TIKRELAY_")
    ]
    assert not problems, "\n".join(problems)
