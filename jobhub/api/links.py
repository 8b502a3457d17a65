"""Absolute URLs the API hands out: a job's address and its documents' publish links."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from fastapi import Request

from jobhub.documents import Document, publish_path
from jobhub.manager import JobManager


def base_url(request: Request, manager: JobManager) -> str:
    """``JOBHUB_PUBLIC_URL`` when set (behind a proxy), else the address called."""
    public = manager.settings.public_url
    return public if public else str(request.base_url).rstrip("/")


def job_url(request: Request, manager: JobManager, job_id: UUID) -> str:
    return f"{base_url(request, manager)}/jobs/{job_id}"


def publish_links(
    request: Request, manager: JobManager, documents: Iterable[Document]
) -> dict[UUID, str]:
    """Each document's signed publish link."""
    base = base_url(request, manager)
    return {d.id: base + publish_path(d, manager.access.publish_token(d)) for d in documents}
