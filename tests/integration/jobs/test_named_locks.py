"""One holder per named lock, across connections and processes, on both databases."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.store import locks
from tikrelay.store.engine import create_db_engine


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_holder_waits_for_the_first(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            order: list[str] = []
            first_holds, let_go = threading.Event(), threading.Event()

            def first() -> None:
                with locks.held(engine, "chat:-100", tmp_path / "locks"):
                    order.append("first in")
                    first_holds.set()
                    let_go.wait(10)
                    order.append("first out")

            def second() -> None:
                first_holds.wait(10)
                with locks.held(engine, "chat:-100", tmp_path / "locks"):
                    order.append("second in")

            threads = [threading.Thread(target=first), threading.Thread(target=second)]
            for thread in threads:
                thread.start()
            first_holds.wait(10)
            # Another name is free meanwhile.
            with locks.held(engine, "chat:-200", tmp_path / "locks"):
                order.append("other chat")
            let_go.set()
            for thread in threads:
                thread.join(10)
        finally:
            engine.dispose()
    assert order == ["first in", "other chat", "first out", "second in"]
