"""Tests import shared harnesses from tests.support, never from a conftest (a conftest only
declares fixtures), and the reposter's tests live in one folder per level."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_imports_from_a_conftest() -> None:
    found = [
        f"{path.relative_to(TESTS)}: {line.strip()}"
        for path in TESTS.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*from\s+[\w.]*conftest\s+import|\s*import\s+[\w.]*conftest", line)
    ]
    assert not found, found


def test_the_reposters_tests_have_one_folder_per_level() -> None:
    for level in ("unit", "integration", "e2e"):
        assert list((TESTS / level / "reposter").glob("test_*.py")), level
