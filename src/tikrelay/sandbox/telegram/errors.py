"""Bot API refusals with the status codes and descriptions Telegram itself answers."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refused call; becomes ``{"ok": false, "error_code", "description", "parameters"}``."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters or {}

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str, parameters: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}", parameters)


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


NOT_FOUND = ApiError(404, "Not Found")
UNAUTHORIZED = ApiError(401, "Unauthorized")
TOO_LARGE = ApiError(413, "Request Entity Too Large")
CHAT_NOT_FOUND = "chat not found"
THREAD_NOT_FOUND = "message thread not found"
WRONG_FILE_ID = "wrong file identifier/HTTP URL specified"
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
