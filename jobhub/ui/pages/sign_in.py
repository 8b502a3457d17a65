"""Signing in with an API key, and out.

The key is checked as the HTTP API checks it; the session cookie then names the key (by
id) and is HttpOnly, SameSite=Strict, and Secure when served over HTTPS.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from jobhub.errors import JobHubError, NotAuthenticated, PermissionDenied
from jobhub.ui.auth import Acting, Manager, SignInRequired, signed_in, signer_of
from jobhub.ui.routing import ui_router
from jobhub.ui.session import COOKIE, LIFETIME_SECONDS, Session
from jobhub.ui.templates import page, redirect

router = ui_router()


def _next(wanted: str | None) -> str:
    """Where to go after signing in: a dashboard page only (never another site)."""
    if wanted and wanted.startswith("/ui") and not wanted.startswith("//"):
        return wanted
    return "/ui"


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    try:
        signed_in(request)
        return redirect(_next(next))
    except (SignInRequired, JobHubError):
        return page(request, "sign_in.html", None, next=_next(next))


@router.post("/sign-in")
def sign_in(
    request: Request,
    manager: Manager,
    key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/ui",
) -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise PermissionDenied("a sign-in from another site was refused")
    try:
        principal = manager.access.authenticate(key.strip())
    except NotAuthenticated:
        return page(
            request,
            "sign_in.html",
            None,
            status_code=401,
            next=_next(next),
            error="That API key is not valid (or it was revoked).",
        )
    response = redirect(_next(next))
    response.set_cookie(
        COOKIE,
        signer_of(request).dump(Session.new(principal.key_id)),
        max_age=LIFETIME_SECONDS,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out")
def sign_out(caller: Acting) -> Response:
    response = redirect("/ui/sign-in", notice="Signed out.")
    response.delete_cookie(COOKIE, path="/ui")
    return response
