"""docs/architecture.md against the code: its diagram is the real package import graph, and every
file its "where to look" table names exists."""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
EVERYONE_MAY_IMPORT = {"domain", "config"}


def package_edges() -> set[tuple[str, str]]:
    imports = grimp.build_graph("tikrelay", exclude_type_checking_imports=False)
    edges = set()
    for module in imports.modules:
        parts = module.split(".")
        if len(parts) < 2 or parts[1] == "__main__":
            continue
        for imported in imports.find_modules_directly_imported_by(module):
            target = imported.split(".")
            if len(target) >= 2 and target[1] != parts[1]:
                edges.add((parts[1], target[1]))
    return {(a, b) for a, b in edges if b not in EVERYONE_MAY_IMPORT}


def drawn_edges() -> set[tuple[str, str]]:
    diagram = DOC.read_text(encoding="utf-8").split("```mermaid", 1)[1].split("```", 1)[0]
    return {(a, b) for a, b in re.findall(r"^\s*(\w+) --> (\w+)\s*$", diagram, re.MULTILINE)}


def test_the_diagram_is_the_import_graph() -> None:
    real, drawn = package_edges(), drawn_edges()
    assert not real - drawn, f"imports missing from the diagram: {sorted(real - drawn)}"
    assert not drawn - real, f"edges drawn that no import makes: {sorted(drawn - real)}"


def test_every_file_the_doc_points_to_exists() -> None:
    named = re.findall(r"`((?:src|tests|bench)/[^`]+)`", DOC.read_text(encoding="utf-8"))
    assert named
    missing = [path for path in named if not (ROOT / path).exists()]
    assert not missing, f"docs/architecture.md points to files that do not exist: {missing}"
