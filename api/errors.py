"""The API's one error type."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API refusal: HTTP `status`, a stable machine `code`, a human `message`.

    Always answered as `{"error": {"code", "message"}}` (DESIGN "HTTP API v1").
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}
