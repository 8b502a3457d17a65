"""``/documents/{id}/{token}``: publish links, the one route a Public job's reader needs
no key for.

A link that is forged, altered, expired or points at a purged document is 404, as is a
caller of another organization; a Private job's document is 403 for anyone in the
organization but its submitter. Nothing in the answer tells which case it was.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from jobhub.api import responses as doc
from jobhub.api.security import Caller, Manager, check_output_access
from jobhub.errors import NotFound

router = APIRouter(prefix="/documents", tags=["documents"])


@router.get(
    "/{document_id}/{token}",
    summary="Download a document by its publish link",
    responses={
        200: {"description": "the document's bytes", "content": {"application/octet-stream": {}}},
        **doc.problems(401, 403, 404),
    },
)
def download(document_id: str, token: str, manager: Manager, caller: Caller) -> Response:
    gone = NotFound("no such document, or the link has expired")
    try:
        document = manager.access.get_document(document_id)
    except NotFound:
        raise gone from None
    if not manager.access.publish_token_valid(token, document):
        raise gone
    try:
        job = manager.get_job(document.job_id)
    except NotFound:
        raise gone from None
    check_output_access(caller, job)
    content = manager.access.document_content(document)
    disposition = f'attachment; filename="{document.name}"'
    return Response(
        content,
        media_type=document.content_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )
