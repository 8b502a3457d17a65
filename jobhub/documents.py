"""Result documents and their publish links (the AIMS360 seed's "Publishlink").

A result larger than ``Settings.inline_result_limit`` is not kept inline: the worker stores
it as a document (in the database, or in ``Settings.documents_dir`` when one is set, which
every host must share) and the job's response type becomes Publishlink. A publish link
names the document and carries a token signed with the database's shared secret, so it
cannot be guessed or altered, and it stops working when the document expires. Who may
follow it is the job's access scope (``jobhub.jobs.AccessScope``), checked by the API.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from itsdangerous import URLSafeSerializer

from jobhub.jobs import Job

RESULT_CONTENT_TYPE = "application/json"


class ResponseType(enum.StrEnum):
    """How a job's output is delivered (AIMS360 ``responseType``)."""

    INLINE = "In-line JSON"
    PUBLISH_LINK = "Publishlink"


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A stored output of one attempt of a job (the bytes are read separately)."""

    id: UUID
    job_id: UUID
    attempt: int
    name: str
    content_type: str
    size: int
    created_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def result_document_name(job_type: str, completed_at: datetime) -> str:
    """``reports.job_statistics_20260101T120000Z.json``: the type and when it finished."""
    return f"{job_type}_{completed_at.strftime('%Y%m%dT%H%M%SZ')}.json"


def result_document(
    *,
    job_type: str,
    job_id: UUID,
    attempt: int,
    size: int,
    now: datetime,
    link_ttl: timedelta,
    purge_at: datetime,
) -> Document:
    """The document a result too large to keep inline becomes (its bytes are stored
    beside it): it expires with its publish link, and never after its job is purged."""
    return Document(
        id=uuid4(),
        job_id=job_id,
        attempt=attempt,
        name=result_document_name(job_type, now),
        content_type=RESULT_CONTENT_TYPE,
        size=size,
        created_at=now,
        expires_at=min(now + link_ttl, purge_at),
    )


def response_type(job: Job, documents: list[Document]) -> ResponseType | None:
    """Publishlink when the job's output is in documents, inline once it completed."""
    if documents:
        return ResponseType.PUBLISH_LINK
    if job.completed_at is not None:
        return ResponseType.INLINE
    return None


class LinkSigner:
    """Signs and checks publish-link tokens (itsdangerous, HMAC-SHA256)."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(
            secret,
            salt="jobhub.publish-link",
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def token(self, document: Document) -> str:
        """The token for one document; it names the document and its expiry."""
        return self._serializer.dumps(
            {"d": document.id.hex, "e": int(document.expires_at.timestamp())}
        )

    def valid(self, token: str, document: Document, now: datetime) -> bool:
        """Whether ``token`` is exactly the one made for ``document``, unexpired.

        Comparing with the canonical token, rather than decoding the given one, also
        refuses the variants that base64's ignored padding bits would let through.
        """
        expected = self.token(document).encode()
        return hmac.compare_digest(
            token.encode(errors="replace"), expected
        ) and not document.expired(now)


def publish_path(document: Document, token: str) -> str:
    """The path of a document's publish link, below the API's base URL."""
    return f"/documents/{document.id}/{token}"
