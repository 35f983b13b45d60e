"""The refusals the API routes share, each in the shape its OpenAPI document declares: a 422
as FastAPI's own (``detail`` a list whose entries name the field in ``loc``), the others as
``Problem`` (``detail`` one sentence)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import HTTPException

from tikrelay.web.models import Problem

Responses = dict[int | str, dict[str, Any]]


def invalid(where: str, name: str, message: str) -> HTTPException:
    """422 naming the field: ``where`` is body, query or path."""
    return HTTPException(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        detail=[{"loc": [where, name], "msg": message, "type": "value_error"}],
    )


def not_found(message: str) -> HTTPException:
    return HTTPException(HTTPStatus.NOT_FOUND, detail=message)


def conflict(message: str) -> HTTPException:
    return HTTPException(HTTPStatus.CONFLICT, detail=message)


def problem(status: int, description: str) -> Responses:
    return {status: {"model": Problem, "description": description}}


UNAUTHORIZED = problem(401, "No token, or a wrong one (or no session).")
FORBIDDEN = problem(403, "The session cookie came without its CSRF token in X-CSRF-Token.")
BAD_BODY = problem(400, "The body is not text that can be read (FastAPI's own refusal).")
