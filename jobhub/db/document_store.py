"""The ``documents`` table, the documents folder, and the publish-link secret.

A document's bytes are in its row, or in a file under the documents folder when one is
configured (``Settings.documents_dir``, shared by every host). Rows go with their job
(ON DELETE CASCADE); whoever deletes jobs removes the files they name (``remove_files``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import cast

from sqlalchemy import Engine, RowMapping, Table, delete, insert, select

from jobhub.db.engine import translated_errors
from jobhub.db.models import DocumentRow, SecretRow
from jobhub.documents import Document
from jobhub.errors import NotFound, StorageError

documents = cast(Table, DocumentRow.__table__)
secrets = cast(Table, SecretRow.__table__)
_LISTED = [c for c in documents.c if c.name not in ("content", "path")]


class DocumentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, document: Document, content: bytes, folder: Path | None) -> None:
        """Store an attempt's document, replacing the documents of earlier attempts.

        With a folder the file is written (and synced) before its row commits, so a row
        never names a missing file.
        """
        path: str | None = None
        if folder is not None:
            path = f"{document.job_id}/{document.id}"
            _write_file(folder / path, content)
        with translated_errors(), self.engine.begin() as connection:
            stale = connection.execute(
                delete(documents)
                .where(documents.c.job_id == document.job_id)
                .where(documents.c.attempt < document.attempt)
                .returning(documents.c.path)
            ).all()
            connection.execute(
                insert(documents).values(
                    id=document.id,
                    job_id=document.job_id,
                    attempt=document.attempt,
                    name=document.name,
                    content_type=document.content_type,
                    size=document.size,
                    content=None if path else content,
                    path=path,
                    created_at=document.created_at,
                    expires_at=document.expires_at,
                )
            )
        remove_files(folder, [row.path for row in stale if row.path])

    def get(self, document_id: uuid.UUID) -> Document | None:
        with translated_errors(), self.engine.connect() as connection:
            row = connection.execute(select(*_LISTED).where(documents.c.id == document_id)).first()
        return None if row is None else _document(row._mapping)

    def for_jobs(self, job_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Document]]:
        """The documents of each job, in the order they were stored."""
        found: dict[uuid.UUID, list[Document]] = {job_id: [] for job_id in job_ids}
        if not found:
            return found
        statement = (
            select(*_LISTED)
            .where(documents.c.job_id.in_(list(found)))
            .order_by(documents.c.created_at, documents.c.name)
        )
        with translated_errors(), self.engine.connect() as connection:
            for row in connection.execute(statement):
                found[row.job_id].append(_document(row._mapping))
        return found

    def content(self, document_id: uuid.UUID, folder: Path | None) -> bytes:
        """A document's bytes; NotFound when it is gone."""
        with translated_errors(), self.engine.connect() as connection:
            row = connection.execute(
                select(documents.c.content, documents.c.path).where(documents.c.id == document_id)
            ).first()
        if row is None:
            raise NotFound(f"no document with id {document_id}")
        if row.path is None:
            return bytes(row.content or b"")
        if folder is None:
            raise StorageError(f"document {document_id} is a file but no documents folder is set")
        try:
            data: bytes = (folder / row.path).read_bytes()
            return data
        except FileNotFoundError:
            raise NotFound(f"no document with id {document_id}") from None

    def signing_secret(self) -> str:
        """The publish-link secret every process of this database shares (migration 0004)."""
        with translated_errors(), self.engine.connect() as connection:
            value = connection.execute(
                select(secrets.c.value).where(secrets.c.name == "publish_links")
            ).scalar_one_or_none()
        if value is None:
            raise StorageError("the publish-link secret is missing; run `jobhub db upgrade`")
        return str(value)


def remove_files(folder: Path | None, paths: Collection[str]) -> None:
    """Delete documents' files and their emptied job folders; missing ones are fine."""
    if folder is None:
        return
    for path in paths:
        target = folder / path
        target.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # other documents of the job are still there
            target.parent.rmdir()


def _write_file(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    with partial.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(target)


def _document(row: RowMapping) -> Document:
    return Document(
        id=row["id"],
        job_id=row["job_id"],
        attempt=row["attempt"],
        name=row["name"],
        content_type=row["content_type"],
        size=row["size"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
