"""The dashboard's routes: errors become pages, a missing session a sign-in redirect.

The HTTP API answers errors as problem documents; a browser needs a page that says what
went wrong, with the navigation still there. ``ui_router`` gives pages a route class
that does that for every jobhub error and every malformed query.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from jobhub.errors import (
    AccessDenied,
    Conflict,
    InvalidInput,
    JobHubError,
    NotAuthenticated,
    NotFound,
    StorageError,
)
from jobhub.ui.auth import Caller, SignInRequired, signed_in
from jobhub.ui.templates import page, redirect

_STATUS: tuple[tuple[type[JobHubError], int], ...] = (
    (InvalidInput, 400),
    (NotAuthenticated, 401),
    (AccessDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (StorageError, 503),
)


def status_of(error: JobHubError) -> int:
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 500)


def error_page(request: Request, message: str, status: int) -> Response:
    """A page saying what went wrong, with the navigation of whoever is signed in."""
    caller: Caller | None
    try:
        caller = signed_in(request)
    except (SignInRequired, JobHubError):
        caller = None
    return page(request, "error.html", caller, status_code=status, message=message, status=status)


class UiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                target = wanted if request.method == "GET" else "/ui"
                return redirect(f"/ui/sign-in?next={quote(target, safe='')}")
            except JobHubError as error:
                return error_page(request, error.message, status_of(error))
            except RequestValidationError as error:
                return error_page(request, _validation_message(error), 400)

        return guarded


def _validation_message(error: RequestValidationError) -> str:
    def where(item: dict[str, Any]) -> str:
        return ".".join(str(part) for part in item["loc"][1:]) or "request"

    return "; ".join(f"{where(item)}: {item['msg']}" for item in error.errors())


def ui_router() -> APIRouter:
    """A router for dashboard pages (left out of the API's OpenAPI document)."""
    return APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)
