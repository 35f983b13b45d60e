"""The configuration reference and the settings agree, both ways: docs/configuration.md lists every
key a user can write, and no page of the docs names a key that does not exist.

Keys are dotted; a placeholder stands for a name the user chooses (``destinations.NAME.link``,
``jobs.kinds.KIND.max_attempts``, ``jobs.kinds.<kind>.max_attempts``) or a list item
(``sources[].to``, ``network.proxies.0``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tikrelay.config import Settings, load_settings
from tikrelay.config.example import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

#: The first cell of a row in the reference's tables.
ROW_KEY = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)
PLACEHOLDER = re.compile(r"^(?:[A-Z]+|<[a-z_]+>|\d+|\*)$")


def _section(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """A nested model: ``("", model)``; a dict of them: ``(".NAME", model)``; a list: ``("[]", …)``.
    The suffix is how the docs write the user's name or the item."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "", annotation
    args = get_args(annotation)
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if models and set(args) - set(models) == {type(None)}:  # an optional section
        return "", models[0]
    inner = args[-1] if args else None
    is_model = isinstance(inner, type) and issubclass(inner, BaseModel)
    if get_origin(annotation) is dict and is_model:
        return ".NAME", inner
    if get_origin(annotation) is list and is_model:
        return "[]", inner
    return None


def walk(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo | None]]:
    """Every key: leaves with their field, sections (that hold keys) with None."""
    for attribute, field in model.model_fields.items():
        name = field.alias or attribute  # the key as users write it (``from``, not ``from_``)
        found = _section(field.annotation)
        if found is None:
            yield f"{prefix}{name}", field
            continue
        suffix, inner = found
        yield f"{prefix}{name}", None
        yield from walk(inner, f"{prefix}{name}{suffix}.")


def normal(key: str) -> str:
    """``sources[].to`` -> ``sources.*.to``, ``jobs.kinds.<kind>.x`` -> ``jobs.kinds.*.x``;
    a trailing placeholder goes (``network.proxies.0`` is ``network.proxies``)."""
    parts = ["*" if PLACEHOLDER.match(p) else p for p in key.replace("[]", ".*").split(".")]
    while len(parts) > 1 and parts[-1] == "*":
        parts.pop()
    return ".".join(parts)


LEAVES = {key: field for key, field in walk(Settings) if field is not None}
KEYS = {normal(key) for key, _ in walk(Settings)}


def documented() -> set[str]:
    return {normal(key) for key in ROW_KEY.findall(REFERENCE.read_text(encoding="utf-8"))}


def test_every_key_is_in_the_configuration_reference() -> None:
    listed = documented()
    problems = [
        f"docs/configuration.md does not list `{k}`" for k in LEAVES if normal(k) not in listed
    ]
    assert not problems, "\n".join(problems)


def test_the_configuration_reference_lists_only_real_keys() -> None:
    problems = [
        f"docs/configuration.md lists `{key}`, which is not a settings key"
        for key in sorted(documented())
        if key not in KEYS
    ]
    assert not problems, "\n".join(problems)


def test_the_docs_name_only_real_keys() -> None:
    sections = [name for name, _ in walk(Settings) if "." not in name and name not in LEAVES]
    dotted = re.compile(rf"`((?:{'|'.join(sections)})(?:\.|\[\])[^`\s]*)`")
    problems = [
        f"{page.relative_to(ROOT)} names `{key}`, which is not a settings key"
        for page in PAGES
        for key in dotted.findall(page.read_text(encoding="utf-8"))
        if normal(key) not in KEYS
    ]
    assert not problems, "\n".join(problems)


def test_every_key_has_a_description() -> None:
    assert [key for key, field in LEAVES.items() if not field.description] == []


def test_the_init_example_loads_and_names_every_key(tmp_path: Path) -> None:
    path = tmp_path / "tikrelay.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    settings = load_settings(path)
    assert settings.sources[0].to == ["channel"]
    missing = [key for key in LEAVES if f"{key.rsplit('.', 1)[-1]}:" not in EXAMPLE]
    assert missing == []
