"""The dashboard: ops' view of the persisted job history, served by ``jobhub api`` at /ui.

Pages are rendered on the server (Jinja2 templates, our own small CSS and JS, charts as
inline SVG), so nothing is built with Node.js and nothing is loaded from the internet.
Live parts poll small endpoints: any API process can answer, since the database holds
every figure.

Signing in takes an API key; its role and organization apply as in the HTTP API (``auth``),
except that admins may look across organizations. Every action is a POST with a CSRF token
and goes through the job manager, which audits it.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from jobhub.ui.pages import PAGES
from jobhub.ui.templates import STATIC

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Serve the dashboard's pages and static files from ``app``."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for page in PAGES:
        app.include_router(page.router)
