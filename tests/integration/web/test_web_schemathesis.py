"""Schemathesis walks the OpenAPI document of the app in-process (its ASGI transport) with the
token: every operation, with examples made from the document (valid and invalid ones), answers
no 5xx, with a status code, content type and body the document declares for it.

The catalog holds a destination and a source, so that valid requests can reach the code behind
the validation. Examples are few and derandomized: the run is the same every time and takes
seconds; a failure prints the request that reproduces it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.web import AUTH, TOKEN
from tests.support.web.posts import add_post
from tikrelay.config import load_settings
from tikrelay.runtime.app import Runtime
from tikrelay.web.app import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Every operation of the document: each is walked, none skipped.
OPERATIONS = 23
WITHOUT_INPUT = [
    "GET /api/destinations",
    "GET /api/settings",
    "GET /api/sources",
    "GET /healthz",
    "GET /metrics",
    "GET /readyz",
]


def seed(runtime: Runtime, state: Path) -> None:
    """A destination and two sources (one from the config file), a delivered post, a job and
    a live worker."""
    found = runtime.catalog()
    found.sync_from_settings(
        load_settings(
            None,
            state_dir=str(state),
            destinations={"clips": {"telegram": {"chat_id": -100123}}},
            sources=[{"tiktok": "@filed", "to": ["clips"]}],
        )
    )
    found.add_source("@alice", ["clips"], origin="cli")
    add_post(runtime, "101", author="alice", source="tiktok:@alice", delivered_to=("clips",))
    runtime.service.enqueue("greet", {})
    # A worker's heartbeat: /readyz answers 200 (its documented 503 is a 5xx all the same).
    runtime.queue.register_worker("schemathesis", "localhost", os.getpid())


def operations(runtime: Runtime) -> list[Any]:
    """Every operation of the document; one the loader cannot read fails the test."""
    app = create_app(runtime, SecretStr(TOKEN))
    found = []
    for result in schemathesis.openapi.from_asgi(
        "/openapi.json", app, headers=AUTH
    ).get_all_operations():
        assert isinstance(result, Ok), result.err()
        found.append(result.ok())
    return found


def takes_input(operation: Any) -> bool:
    return any(len(getattr(operation, part)) for part in ("path_parameters", "query", "body"))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(
    runtime: Runtime, tmp_path: Path, mode: GenerationMode
) -> None:
    seed(runtime, tmp_path / "state")
    found = operations(runtime)
    assert len(found) == OPERATIONS
    if mode is GenerationMode.NEGATIVE:  # what takes no input cannot be sent a wrong one
        assert sorted(o.label for o in found if not takes_input(o)) == WITHOUT_INPUT
        found = [operation for operation in found if takes_input(operation)]
    for operation in found:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=15,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers(case: Any) -> None:
            case.call_and_validate(headers=AUTH, checks=CHECKS)

        answers()
