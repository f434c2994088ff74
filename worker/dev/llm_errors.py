"""The local LLM server's one error: what the client gets back as an OpenAI-style error body.

Every part of the server (the replies, the fault injection, the HTTP layer) raises ``ApiError``,
and only the HTTP layer turns it into a response, so the real ``openai`` client sees the same
status codes, ``error`` bodies and ``Retry-After`` headers it would get from the provider.
"""

from __future__ import annotations

from typing import Any

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An error answered to the client as an OpenAI-style error body."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        error_type = _ERROR_TYPES.get(self.status, "server_error" if self.status >= 500 else "")
        return {
            "error": {
                "message": self.message,
                "type": error_type or "invalid_request_error",
                "param": self.param,
                "code": None,
            }
        }
