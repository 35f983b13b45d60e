"""The command line and its docs agree, both ways: README.md's command table lists every command
and sub-command of ``tikrelay``, and no page shows a ``tikrelay …`` invocation that does not exist.

Invocations are read from code only (inline code and fenced blocks), where a line starts with
``tikrelay`` (after ``$ ``, ``uv run ``, ``VAR=value `` or ``&& ``): prose says "tikrelay
reads…", and so does an error message in a code span."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from tikrelay.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), README]

FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
INVOCATION = re.compile(
    r"(?:^[ \t]*|&& )(?:\$ )?(?:[A-Z_]+=\S+ )*(?:uv run )?tikrelay((?: [a-z][a-z-]*){1,2})",
    re.MULTILINE,
)


def commands() -> dict[str, bool]:
    """Every command path (``run``, ``jobs``, ``jobs list``), True for those that run something
    (not a group of sub-commands)."""
    found: dict[str, bool] = {}

    def visit(command: Any, path: str) -> None:
        children = getattr(command, "commands", {})
        for name, child in children.items():
            if not child.hidden:
                found[f"{path}{name}"] = not getattr(child, "commands", None)
                visit(child, f"{path}{name} ")

    visit(typer.main.get_command(app), "")
    return found


def invoked(text: str) -> set[str]:
    """The command paths of the ``tikrelay`` invocations in ``text``'s code: the first word, and
    the second where the first is a group (``jobs list``; ``init tikrelay.yaml`` is ``init``)."""
    code = [*FENCED.findall(text), *INLINE.findall(FENCED.sub("", text))]
    known = commands()
    paths = set()
    for snippet in code:
        for match in INVOCATION.finditer(snippet):
            words = match.group(1).split()
            is_group = known.get(words[0]) is False
            paths.add(" ".join(words[:2]) if is_group and len(words) > 1 else words[0])
    return paths


def readme_table() -> set[str]:
    """The commands in README.md's "## Commands" table (its first column)."""
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1].split("\n## ")[0]
    rows = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]
    return invoked("\n".join(rows))


def test_every_command_is_in_the_readme_table() -> None:
    listed = readme_table()
    missing = [path for path, runs in commands().items() if runs and path not in listed]
    problems = [f"README.md's command table lacks `tikrelay {path}`" for path in missing]
    assert not problems, "\n".join(problems)


def test_the_docs_show_only_real_commands() -> None:
    known = commands()
    problems = [
        f"{page.relative_to(ROOT)} shows `tikrelay {path}`, which is not a command"
        for page in PAGES
        for path in sorted(invoked(page.read_text(encoding="utf-8")))
        if path not in known
    ]
    assert not problems, "\n".join(problems)


def test_the_walk_finds_sub_commands() -> None:
    # Guards the walk itself: were it to stop at the top level, the tests above would pass empty.
    assert [path for path in commands() if " " in path] != []
