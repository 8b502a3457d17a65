"""Dead letters: messages workers received and could not run as jobs, newest first.

A dead letter belongs to no organization (it never became a job), and its headers and
body may carry any organization's parameters: every role sees that it happened and why,
only admins see what the message held.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from jobhub.ui.auth import Manager, Signed
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page

router = ui_router()

LIMITS = (50, 100, 500, 1000)
"""How many of the newest a page may show."""


@router.get("/dead-letters")
def dead_letters(
    request: Request,
    caller: Signed,
    manager: Manager,
    limit: Annotated[int, Query(ge=1, le=LIMITS[-1])] = 100,
) -> Response:
    letters = manager.admin.dead_letters(limit=limit)
    return page(request, "dead_letters.html", caller, letters=letters, limit=limit, limits=LIMITS)
