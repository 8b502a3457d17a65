"""Errors as ``application/problem+json`` (RFC 9457), in one table.

Every jobhub error maps to a status by its family; the problem's ``type`` names the
error class (``urn:jobhub:problem:JobNotFound``), so the remote manager raises the same
exception the local one would. Request validation, unknown routes and server faults get
the same shape; a server fault says nothing of its cause (it is logged).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jobhub.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    DispatchError,
    InvalidInput,
    InvalidParameters,
    JobHubError,
    NotAuthenticated,
    NotFound,
    StorageError,
    WaitTimeout,
)
from jobhub.odata import InvalidFilter

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:jobhub:problem:"


class NotAcceptable(InvalidInput):
    """None of the media types the caller accepts is one this resource has."""


STATUS: dict[type[JobHubError], int] = {
    NotAcceptable: 406,
    InvalidParameters: 422,
    InvalidInput: 400,
    NotAuthenticated: 401,
    AccessDenied: 403,
    NotFound: 404,
    Conflict: 409,
    WaitTimeout: 408,
    StorageError: 503,
    DispatchError: 503,
    ConfigurationError: 500,
}
"""HTTP status per error family; the most specific class found in the MRO wins."""

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    408: "Timed out",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Server error",
    503: "Service unavailable",
}


def problem(
    status: int, detail: str, *, kind: str = "about:blank", **extensions: Any
) -> JSONResponse:
    """A problem response; ``kind`` is the problem type URI."""
    body = {
        "type": kind,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extensions,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(error: JobHubError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def problem_body(error: JobHubError) -> dict[str, Any]:
    """The problem ``error`` is, as a JSON object (a response's body, or one item's)."""
    status = status_for(error)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + type(error).__name__,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": error.message,
    }
    if isinstance(error, InvalidParameters):
        body["errors"] = [
            {"name": name, "reason": reason} for name, reason in error.problems.items()
        ]
    if isinstance(error, InvalidFilter):
        body["position"] = error.position
    return body


def error_problem(error: JobHubError) -> JSONResponse:
    body = problem_body(error)
    status = body["status"]
    if status >= 500:
        logger.error("request failed: %s", error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Make every error of ``app`` a problem response."""

    @app.exception_handler(JobHubError)
    async def jobhub_error(request: Request, exc: JobHubError) -> JSONResponse:
        return error_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"name": ".".join(str(part) for part in error["loc"]), "reason": error["msg"]}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{e['name']}: {e['reason']}" for e in errors)
        # a bad body is unprocessable content; a bad query, path or header a bad request
        status = 422 if any(error["loc"][:1] == ("body",) for error in exc.errors()) else 400
        return problem(status, detail, kind=TYPE_PREFIX + "InvalidInput", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        response = problem(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def server_fault(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "the server failed; the error is in its log")
