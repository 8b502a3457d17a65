"""``/health``, ``/ready`` and ``/schema/job``: for load balancers and client generators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from jobhub.api import responses as doc
from jobhub.api.security import Manager, Viewer

router = APIRouter(tags=["system"])


@router.get("/health", summary="The API process is up")
def health() -> dict[str, str]:
    """Always 200 while the process serves; it checks nothing else (see ``/ready``)."""
    return {"status": "ok"}


@router.get("/ready", summary="The database and the broker answer")
def ready(manager: Manager) -> JSONResponse:
    """200 when both answer (and the schema is current), else 503 saying which failed."""
    report = manager.admin.readiness()
    ok = all(value == "ok" for value in report.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", **report}, status_code=200 if ok else 503
    )


@router.get("/schema/job", summary="The JSON Schema of a job record", responses=doc.problems(401))
def job_schema(manager: Manager, caller: Viewer) -> dict[str, Any]:
    return manager.job_schema()
