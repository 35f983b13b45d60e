"""Building the registry a worker runs: built-in kinds, installed plugins, ``--kinds`` options."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry

ENTRY_POINT_GROUP = "tikrelay.job_kinds"

builtin = Registry()


@builtin.handler("noop")
async def noop(ctx: JobContext, payload: dict[str, object]) -> None:
    """Does nothing: health checks and the benchmark measure the engine itself with it."""


def load_registry(spec: str) -> Registry:
    """``module:attribute`` naming a Registry."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--kinds {spec!r}: write it as module:attribute")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--kinds {spec!r}: {exc}") from None
    if not isinstance(found, Registry):
        raise ValueError(f"--kinds {spec!r}: {type(found).__name__} is not a Registry")
    return found


def worker_registry(extra: list[str] | None = None) -> Registry:
    """Built-in kinds, then every ``tikrelay.job_kinds`` entry point, then ``extra`` specs."""
    registry = Registry()
    registry.include(builtin)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        registry.include(load_registry(point.value))
    for spec in extra or []:
        registry.include(load_registry(spec))
    return registry
