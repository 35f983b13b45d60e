"""Every settings key a user can write is documented in docs/configuration.md."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from tikrelay.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    found: list[str] = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        found.append(dotted)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(keys(annotation, f"{dotted}."))
    return found


def test_every_key_is_in_the_configuration_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [key for key in keys(Settings) if f"`{key}`" not in text]
    assert missing == []


def test_every_key_has_a_description() -> None:
    def undocumented(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            if not field.description:
                out.append(f"{prefix}{name}")
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                out.extend(undocumented(field.annotation, f"{prefix}{name}."))
        return out

    assert undocumented(Settings) == []
