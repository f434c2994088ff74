"""The inbox's JSON answers to its own scripts (a page's status, a run's timeline) in the
API's RFC 9457 vocabulary, so a script reads one shape of error from either."""

from __future__ import annotations

from fastapi.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"urn:agentworker:problem:{code}",
            "title": title,
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type=MEDIA_TYPE,
    )
