"""The baseline of ``POST /jobs``: a bare FastAPI endpoint that calls ``apply_async``.

What a team would write without jobhub: no key check, no validation beyond the body's
shape, nothing recorded; one plain Celery task published to Redis. Served like ``jobhub
api`` (uvicorn, one process): ``python -m tests.bench.bare_api PORT`` with
``JOBHUB_BENCH_BROKER_URL`` and ``JOBHUB_BENCH_QUEUE`` set.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from tests.bench.apps import ENV_BROKER, ENV_QUEUE, PLAIN_TASK, plain_app


class Start(BaseModel):
    type: str
    parameters: dict[str, Any] = {}


def create_app(broker_url: str, queue: str) -> FastAPI:
    celery = plain_app("bare", broker_url, queue, None)
    task = celery.tasks[PLAIN_TASK]
    app = FastAPI()

    @app.post("/jobs", status_code=201)
    def start(body: Start) -> dict[str, str]:
        return {"id": str(task.apply_async(kwargs=body.parameters).id)}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    uvicorn.run(
        create_app(os.environ[ENV_BROKER], os.environ[ENV_QUEUE]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
    )
