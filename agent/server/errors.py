"""The API's error type and OpenAI's error body, shared by the app and the routes it includes."""

from __future__ import annotations

from typing import Any

from halops.errors import HalopsError


class ApiError(HalopsError):
    """A request the API refuses: its HTTP status, OpenAI error type and a stable code."""

    def __init__(
        self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None
    ):
        super().__init__(message)
        self.status, self.type, self.code = status, type_, code


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
