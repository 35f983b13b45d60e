"""Every declared name is used: each member of the engine's events, the reposter's stages and
events and the error kinds is named in the code outside ``domain`` (where it is written, or for
error kinds raised or set). A name nobody writes promises a timeline row that never comes: write
it or remove it."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from pathlib import Path

import pytest

from tikrelay.domain.errors import ErrorKind
from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.jobs import JobEvent

SRC = Path(__file__).resolve().parents[3] / "src" / "tikrelay"


@cache
def code_outside_domain() -> str:
    files = sorted(p for p in SRC.rglob("*.py") if "domain" not in p.relative_to(SRC).parts)
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


@pytest.mark.parametrize("vocabulary", [JobEvent, Stage, ReposterEvent, ErrorKind])
def test_every_member_is_used_outside_domain(vocabulary: type[StrEnum]) -> None:
    code = code_outside_domain()
    names = [f"{vocabulary.__name__}.{member.name}" for member in vocabulary]
    unused = [name for name in names if not re.search(rf"\b{re.escape(name)}\b", code)]
    assert not unused, f"declared but never used outside domain: {', '.join(unused)}"
