"""Job kinds: a handler per kind, its payload model and its defaults."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from tikrelay.domain.errors import InvalidJobError

if TYPE_CHECKING:
    from tikrelay.engine.context import JobContext

Handler = Callable[["JobContext", Any], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    """One kind of job. ``payload`` (a pydantic model) validates at enqueue and at run time;
    without it the payload reaches the handler as a plain dict."""

    name: str
    handler: Handler
    payload: type[BaseModel] | None = None
    max_attempts: int | None = None
    timeout_seconds: float | None = None
    stage_timeouts: Mapping[str, float] = field(default_factory=dict)
    max_running: int | None = None
    #: A draining run waits for this kind's retries that come due soon (jobs.drain_wait_seconds).
    drain_wait: bool = True
    #: Days a completed job of this kind is kept (jobs.kinds.<kind>.keep_days overrides it);
    #: None: jobs.keep_days.
    keep_days: float | None = None
    #: Runs in slots of its own in each worker, as many as its ``max_running``, beside the
    #: worker's jobs.worker_concurrency: short jobs that mostly wait on the network (polls),
    #: which should neither wait behind the others nor hold their slots.
    own_slots: bool = False
    #: Its timeline events are held in memory and written with its outcome (in the completing
    #: transaction when it completes): short, frequent jobs (polls) pay one transaction, not
    #: one per event. An attempt cut short by a crash or a shutdown keeps only its status moves.
    hold_events: bool = False

    def parse(self, payload: Mapping[str, Any]) -> Any:
        if self.payload is None:
            return dict(payload)
        try:
            return self.payload.model_validate(dict(payload))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                for e in exc.errors()
            )
            raise InvalidJobError(
                f"invalid payload for job kind {self.name!r}: {problems}"
            ) from None

    def dump(self, payload: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        """The stored form of a payload: validated, then as plain JSON types."""
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(mode="json")
        parsed = self.parse(payload)
        return parsed.model_dump(mode="json") if isinstance(parsed, BaseModel) else parsed


class Registry:
    """Handlers by kind: ``@registry.handler("deliver", payload=Deliver)``."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def handler(
        self,
        name: str,
        *,
        payload: type[BaseModel] | None = None,
        max_attempts: int | None = None,
        timeout_seconds: float | None = None,
        stage_timeouts: Mapping[str, float] | None = None,
        max_running: int | None = None,
        drain_wait: bool = True,
        keep_days: float | None = None,
        own_slots: bool = False,
        hold_events: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            self.add(
                JobKind(
                    name,
                    func,
                    payload,
                    max_attempts,
                    timeout_seconds,
                    dict(stage_timeouts or {}),
                    max_running,
                    drain_wait,
                    keep_days,
                    own_slots,
                    hold_events,
                )
            )
            return func

        return register

    def add(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} is registered twice")
        self._kinds[kind.name] = kind

    def include(self, other: Registry) -> None:
        for kind in other:
            self.add(kind)

    def get(self, name: str) -> JobKind:
        try:
            return self._kinds[name]
        except KeyError:
            known = ", ".join(sorted(self._kinds)) or "none"
            raise InvalidJobError(f"unknown job kind {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __iter__(self) -> Iterator[JobKind]:
        return iter(list(self._kinds.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._kinds
