"""The logs page's ring of recent lines: bounded, redacted, filtered by job and level, and put
into structlog's chain once, before the renderer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from tikrelay.web.logbook import MAX_VALUE, LogBook, install


def record(book: LogBook, method: str, **fields: object) -> None:
    book(None, method, {"level": method, **fields})


def test_keeps_the_newest_lines_only() -> None:
    book = LogBook(size=3)
    for n in range(5):
        record(book, "info", event=f"line {n}", timestamp=f"2026-12-05T10:00:0{n}Z")
    lines = book.lines()
    assert [line.event for line in lines] == ["line 4", "line 3", "line 2"]
    assert [line.number for line in lines] == [5, 4, 3]
    assert lines[0].at == "2026-12-05T10:00:04Z"


def test_filters_by_job_and_by_least_level() -> None:
    book = LogBook()
    record(book, "debug", event="fine", job_id=7)
    record(book, "info", event="started", job_id=7)
    record(book, "warning", event="slow", job_id=7)
    record(book, "error", event="broke", job_id="8")
    assert [line.event for line in book.lines(job_id=7)] == ["slow", "started", "fine"]
    assert [line.event for line in book.lines(level="warning")] == ["broke", "slow"]
    assert [line.event for line in book.lines(job_id=8, level="error")] == ["broke"]
    assert [line.event for line in book.lines(limit=1)] == ["broke"]


def test_secrets_are_redacted_and_long_values_cut() -> None:
    book = LogBook()
    record(
        book,
        "info",
        event="called",
        token="abc",
        url="https://api.telegram.org/bot123456789:AAEabcdefghijklmnopqrstuvwxyz/sendVideo",
        proxy="http://user:hunter2@proxy:8080",
        blob="x" * 2000,
    )
    (line,) = book.lines()
    assert line.details["token"] == "[redacted]"
    assert "AAEabc" not in line.details["url"]
    assert "hunter2" not in line.details["proxy"]
    assert len(line.details["blob"]) == MAX_VALUE


@pytest.fixture
def structlog_config() -> Iterator[None]:
    kept = structlog.get_config()
    yield
    structlog.configure(**kept)


def test_installed_once_before_the_renderer(structlog_config: None) -> None:
    book = LogBook()
    install(book)
    install(book)
    processors = structlog.get_config()["processors"]
    assert [p for p in processors if p is book] == [book]
    assert processors[-2] is book
    structlog.get_logger("tikrelay.test").info("through_the_chain", job_id=5)
    assert [line.event for line in book.lines(job_id=5)] == ["through_the_chain"]
