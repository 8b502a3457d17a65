"""Rendering: the Jinja2 environment, its helpers, and one-time notices after actions.

Autoescaping is on for every template, so a job's description or a parameter value can
never become markup. After an action the page redirects (303) and shows a notice or an
error once; it travels in a short-lived cookie, not in the URL, so a link cannot carry
text the dashboard would appear to say.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from jobhub.durations import format_duration
from jobhub.jobs import JobStatus
from jobhub.ui.auth import Caller

HERE = Path(__file__).parent
STATIC = HERE / "static"
FLASH = "jobhub_flash"

templates = Jinja2Templates(directory=HERE / "templates")


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return ""
    seconds = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    return format_duration(timedelta(seconds=int(seconds))) if seconds >= 1 else "now"


def _status_class(status: JobStatus | str) -> str:
    name = status.name if isinstance(status, JobStatus) else str(status)
    return "status-" + name.lower().replace("_", "")


templates.env.filters.update(when=_when, ago=_ago, status_class=_status_class)
templates.env.globals.update(JobStatus=JobStatus)


def page(
    request: Request, name: str, caller: Caller | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page from template ``name``, with the caller, its CSRF token and any notice."""
    flash = _read_flash(request)
    response = templates.TemplateResponse(
        request,
        name,
        {"caller": caller, "csrf": caller.csrf if caller else "", "flash": flash, **context},
        status_code=status_code,
    )
    if flash is not None:
        response.delete_cookie(FLASH, path="/ui")
    return response


def redirect(url: str, *, notice: str | None = None, error: str | None = None) -> Response:
    """A 303 to ``url`` that shows ``notice`` (or ``error``) there once."""
    response = RedirectResponse(url, status_code=303)
    if notice is not None or error is not None:
        kind, text = ("error", error) if error is not None else ("notice", notice)
        response.set_cookie(
            FLASH,
            quote(json.dumps([kind, text])),
            max_age=60,
            path="/ui",
            httponly=True,
            samesite="strict",
        )
    return response


def _read_flash(request: Request) -> tuple[str, str] | None:
    value = request.cookies.get(FLASH)
    if value is None:
        return None
    try:
        kind, text = json.loads(unquote(value))
    except (ValueError, TypeError):
        return None
    if kind not in ("notice", "error") or not isinstance(text, str):
        return None
    return kind, text
