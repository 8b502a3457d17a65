"""Job types for edge-case tests (loaded with ``JOBHUB_JOB_MODULES``)."""

from __future__ import annotations

from jobhub import JobContext, JSONValue, job


@job("tests.not_json", description="Returns a value JSON cannot encode", category="Tests")
def not_json(ctx: JobContext) -> JSONValue:
    return {"a set": {1, 2, 3}}  # type: ignore[dict-item]
