"""What a health check returns: one :class:`Check` per thing looked at, gathered in a
:class:`Report`. Plain frozen values, so the command line, the bot and the web can each show
them their own way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    #: Not looked at, because another check must pass first (``detail`` says which).
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One check's outcome: what a passing check found (``detail``), or its problems.

    Each problem is one sentence that ends with its fix; ``notes`` are worth knowing but
    need no change.
    """

    name: str
    detail: str = ""
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def status(self) -> Status:
        if self.problems:
            return Status.FAILED
        return Status.SKIPPED if self.skipped else Status.PASSED

    def rewritten(self, text: Callable[[str], str]) -> Check:
        """This check with ``text`` applied to every string in it (e.g. a redaction)."""
        return Check(
            text(self.name),
            detail=text(self.detail),
            problems=tuple(text(p) for p in self.problems),
            notes=tuple(text(n) for n in self.notes),
            skipped=self.skipped,
        )


def passed(name: str, detail: str, notes: tuple[str, ...] = ()) -> Check:
    return Check(name, detail=detail, notes=notes)


def failed(name: str, *problems: str) -> Check:
    return Check(name, problems=problems)


def skipped(name: str, reason: str) -> Check:
    return Check(name, detail=reason, skipped=True)


@dataclass(frozen=True)
class Report:
    """Every check, in the order they are shown."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Nothing to fix: every check passed or was skipped."""
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)

    @property
    def done(self) -> tuple[Check, ...]:
        """The checks that ran (all but the skipped ones)."""
        return tuple(check for check in self.checks if not check.skipped)

    def named(self, name: str) -> Check:
        """The check called ``name``; KeyError when there is none."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)
