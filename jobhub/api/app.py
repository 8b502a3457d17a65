"""The HTTP API's application factory: routes, errors as problems, one JobManager.

``create_app`` builds a FastAPI app around a ``JobManager`` (made from ``JOBHUB_*``
settings unless given), so the API reads and writes exactly what the CLI and the Python
API do. Run it with ``jobhub api`` (uvicorn). OpenAPI is at ``/openapi.json``, the
interactive documentation at ``/docs``; the dashboard is at ``/ui`` (``jobhub.ui``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI

from jobhub import ui
from jobhub.api import metrics, problems, responses
from jobhub.api.limits import BodyLimit
from jobhub.api.routes import (
    aims360,
    audit,
    documents,
    job_types,
    jobs,
    limits,
    pauses,
    runners,
    system,
    workflows,
)
from jobhub.config import Settings
from jobhub.manager import JobManager


def create_app(manager: JobManager | None = None, settings: Settings | None = None) -> FastAPI:
    """The API on ``manager`` (or a new one on ``settings``, closed on shutdown)."""
    owned = manager is None
    used = manager if manager is not None else JobManager.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            used.close()

    app = FastAPI(
        title="jobhub",
        version=version("jobhub"),
        summary="Start, follow and query background jobs; read their results.",
        lifespan=lifespan,
    )
    app.state.manager = used
    app.add_middleware(BodyLimit)
    problems.install(app)
    for module in (
        jobs,
        workflows,
        runners,
        job_types,
        limits,
        pauses,
        documents,
        aims360,
        audit,
        system,
    ):
        app.include_router(module.router)
    ui.install(app)
    metrics.install(app)  # GET /metrics, and the request counts (outermost middleware)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document, plus the Problem schema the error responses refer to."""
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Problem", responses.problem_schema())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
