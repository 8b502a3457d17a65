"""The overview: what the system is doing now and did over a chosen period."""

from __future__ import annotations

from fastapi import Request, Response

from jobhub.ui.auth import Signed
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page

router = ui_router()


@router.get("")
def overview(request: Request, caller: Signed) -> Response:
    return page(request, "overview.html", caller)
