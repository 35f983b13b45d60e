"""What the dashboard's forms share: a refusal that names the form's input, an action of the
runtime turned into one, and an optional number read from a field."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import TypeVar

from tikrelay.runtime import actions

T = TypeVar("T")


class FormRefusalError(Exception):
    """A form refused: the page shows it again with ``message`` at ``field``."""

    def __init__(self, field: str, message: str, status: int) -> None:
        super().__init__(message)
        self.field = field
        #: The form's input the message is about (``telegram.chat_id`` is ``chat_id``).
        self.input = field.rsplit(".", 1)[-1]
        self.status = status


def invalid(field: str, message: str) -> FormRefusalError:
    return FormRefusalError(field, message, HTTPStatus.UNPROCESSABLE_ENTITY)


def attempt(subject: str, action: Callable[[], T]) -> T:
    """``action()``, its refusals as the form's: a field's (422), ``subject`` not found (404) or
    refused as it stands (409)."""
    try:
        return action()
    except actions.FieldError as exc:
        raise invalid(exc.field, str(exc)) from None
    except actions.NotFoundError as exc:
        raise FormRefusalError(subject, str(exc), HTTPStatus.NOT_FOUND) from None
    except actions.RefusedError as exc:
        raise FormRefusalError(subject, str(exc), HTTPStatus.CONFLICT) from None


def optional_number(field: str, text: str, *, fraction: bool = False) -> int | float | None:
    """An optional number of a form; empty is None."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text) if fraction else int(text)
    except ValueError:
        kind = "a number" if fraction else "a whole number"
        raise invalid(field, f"{field}: {text!r} is not {kind}") from None
