"""Every settings key a user can write is documented in docs/configuration.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tikrelay.config import Settings, load_settings
from tikrelay.config.example import EXAMPLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def leaves(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Dotted names of the keys that hold values (sections are walked, not listed)."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaves(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def test_every_key_is_in_the_configuration_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [key for key, _ in leaves(Settings) if f"`{key}`" not in text] == []


def test_every_key_has_a_description() -> None:
    assert [key for key, field in leaves(Settings) if not field.description] == []


def test_the_init_example_loads_and_names_every_key(tmp_path: Path) -> None:
    path = tmp_path / "tikrelay.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    settings = load_settings(path)
    assert settings.sources[0].to == ["channel"]
    missing = []
    for key, _ in leaves(Settings):
        last = key.rsplit(".", 1)[-1]
        if f"{last}:" not in EXAMPLE:
            missing.append(key)
    assert missing == []
