"""RFC 9457 problem details: every error the API returns is ``application/problem+json`` with
``type``, ``title``, ``status`` and a ``detail`` that says what to do."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:agentworker:problem:"


class Problem(Exception):
    """An error answered as a problem details body."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }


def response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers
    )


def unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        "unauthenticated",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Missing scope", detail)


def not_found(detail: str) -> Problem:
    return Problem(404, "not_found", "Not found", detail)


def conflict(code: str, title: str, detail: str) -> Problem:
    return Problem(409, code, title, detail)


def invalid(detail: str) -> Problem:
    return Problem(422, "invalid_request", "Invalid request", detail)


def _request_problem(error: RequestValidationError) -> Problem:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item.get("loc", ()))
        problems.append(f"{location}: {item.get('msg', 'invalid')}")
    return invalid("; ".join(problems) + "; fix the request and send it again")


def install(app: FastAPI) -> None:
    """Answer our problems, FastAPI's validation errors and Starlette's HTTP errors (an unknown
    route, a wrong method) as problem details."""

    async def on_problem(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Problem)
        return response(error)

    async def on_validation(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return response(_request_problem(error))

    async def on_http(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        detail = str(error.detail)
        if error.status_code == 404:
            detail = "no such route: see /openapi.json for the API's routes"
        elif error.status_code == 405:
            detail = "this route does not take that method: see /openapi.json"
        return response(
            Problem(
                error.status_code,
                f"http_{error.status_code}",
                HTTPStatus(error.status_code).phrase,
                detail,
            )
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


__all__ = [
    "MEDIA_TYPE",
    "Problem",
    "conflict",
    "forbidden",
    "install",
    "invalid",
    "not_found",
    "response",
    "unauthenticated",
]
