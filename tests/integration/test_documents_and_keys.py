"""Result documents (database or folder), publish-link tokens, API keys and tenant queries,
on real PostgreSQL below the HTTP API."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from jobhub import (
    AccessScope,
    InvalidInput,
    JobManager,
    KeyConflict,
    NotAuthenticated,
    NotFound,
    Settings,
)
from jobhub.documents import Document
from tests import services as svc


def _sql(database_url: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(svc.libpq_url(database_url), autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def folder_manager(settings: Settings, tmp_path: Path) -> Iterator[JobManager]:
    jobs = JobManager.from_settings(dataclasses.replace(settings, documents_dir=tmp_path / "docs"))
    yield jobs
    jobs.close()


def _document(manager: JobManager, job_id: uuid.UUID, attempt: int = 1) -> Document:
    now = manager.app.runtime.clock()
    return Document(
        id=uuid.uuid4(),
        job_id=job_id,
        attempt=attempt,
        name="result.json",
        content_type="application/json",
        size=7,
        created_at=now,
        expires_at=now + timedelta(days=1),
    )


@pytest.mark.parametrize("in_folder", [False, True], ids=["database", "folder"])
def test_a_document_is_stored_read_replaced_by_a_rerun_and_purged_with_its_job(
    manager: JobManager,
    folder_manager: JobManager,
    database_url: str,
    tmp_path: Path,
    in_folder: bool,
) -> None:
    jobs = folder_manager if in_folder else manager
    folder = jobs.settings.documents_dir
    job = jobs.start_job("diagnostics.echo")
    first = _document(jobs, job.id)
    jobs.app.runtime.documents.put(first, b'{"a":1}', folder)
    assert jobs.access.document_content(jobs.access.get_document(first.id)) == b'{"a":1}'
    files = sorted(p for p in (tmp_path / "docs").rglob("*") if p.is_file()) if in_folder else []
    assert len(files) == (1 if in_folder else 0)

    second = _document(jobs, job.id, attempt=2)
    jobs.app.runtime.documents.put(second, b'{"a":2}', folder)
    assert [d.id for d in jobs.access.job_documents([job.id])[job.id]] == [second.id]
    with pytest.raises(NotFound):
        jobs.access.get_document(first.id)
    if in_folder:
        assert not files[0].exists()

    jobs.cancel_job(job.id)
    _sql(database_url, "UPDATE jobs SET purge_at = now() - interval '1 day' WHERE id = %s", job.id)
    assert jobs.housekeeping.purge_expired_jobs() == 1
    assert _sql(database_url, "SELECT count(*) FROM documents") == [(0,)]
    assert not [p for p in (tmp_path / "docs").rglob("*") if p.is_file()]


def test_publish_tokens_name_one_document_and_expire(manager: JobManager) -> None:
    job = manager.start_job("diagnostics.echo")
    document = _document(manager, job.id)
    other = _document(manager, job.id)
    token = manager.access.publish_token(document)
    assert manager.access.publish_token_valid(token, document)
    assert not manager.access.publish_token_valid(token, other)
    assert not manager.access.publish_token_valid(
        token[:-1] + ("A" if token[-1] != "A" else "B"), document
    )
    expired = dataclasses.replace(document, expires_at=document.created_at - timedelta(seconds=1))
    assert not manager.access.publish_token_valid(manager.access.publish_token(expired), expired)


def test_the_signing_secret_is_made_by_the_migration(
    manager: JobManager, database_url: str
) -> None:
    secret = manager.app.runtime.documents.signing_secret()
    assert len(secret) >= 48
    assert _sql(database_url, "SELECT value FROM secrets WHERE name = 'publish_links'") == [
        (secret,)
    ]


def test_api_keys_are_stored_hashed_authenticate_and_revoke(
    manager: JobManager, database_url: str
) -> None:
    issued = manager.access.create_api_key(identity="alice", organization="acme", role="operator")
    stored = _sql(database_url, "SELECT id, secret_hash FROM api_keys")
    assert stored == [(issued.key.id, issued.secret_hash)]
    assert issued.token.split("_")[-1] not in str(stored)
    caller = manager.access.authenticate(issued.token)
    assert (caller.identity, caller.organization, caller.role.value) == (
        "alice",
        "acme",
        "operator",
    )

    for forged in (issued.token[:-1] + "x", "jh_" + "0" * 16 + "_" + "a" * 43, "", "Bearer x"):
        with pytest.raises(NotAuthenticated):
            manager.access.authenticate(forged)
    manager.access.revoke_api_key(issued.key.id)
    manager.access.revoke_api_key(issued.key.id)  # twice is fine
    with pytest.raises(NotAuthenticated):
        manager.access.authenticate(issued.token)
    assert manager.access.api_keys()[0].revoked_at is not None
    with pytest.raises(NotFound):
        manager.access.revoke_api_key("0123456789abcdef")


@pytest.mark.parametrize(
    ("identity", "organization", "role"),
    [
        ("", "acme", "viewer"),
        ("a", " ", "viewer"),
        ("a", "acme", "root"),
        ("a\x00", "acme", "admin"),
    ],
)
def test_bad_key_requests_write_nothing(
    manager: JobManager, database_url: str, identity: str, organization: str, role: str
) -> None:
    with pytest.raises(InvalidInput):
        manager.access.create_api_key(identity=identity, organization=organization, role=role)
    assert _sql(database_url, "SELECT count(*) FROM api_keys") == [(0,)]


def test_queries_stay_in_their_organization_and_scopes_are_kept(manager: JobManager) -> None:
    mine = manager.start_job("diagnostics.echo", organization="acme", access_scope="Private")
    manager.start_job(
        "diagnostics.echo", organization="globex", access_scope="PeopleInOrganization"
    )
    found, total = manager.query_jobs(
        filter="jobType eq 'diagnostics.echo'", organization="acme", count=True
    )
    assert ([job.id for job in found], total) == ([mine.id], 1)
    assert found[0].access_scope is AccessScope.PRIVATE
    scopes = {job.organization: job.access_scope for job in manager.find_jobs()}
    assert scopes == {"acme": AccessScope.PRIVATE, "globex": AccessScope.ORGANIZATION}
    with pytest.raises(InvalidInput):
        manager.start_job("diagnostics.echo", access_scope="Everyone")
    with pytest.raises(InvalidInput):
        manager.query_jobs(top=1001)


def test_a_key_belongs_to_its_organization(manager: JobManager) -> None:
    params = {"steps": 100, "seconds": 1}
    manager.start_job("diagnostics.sleep", params, organization="acme", key="nightly")
    other = manager.start_job("diagnostics.sleep", params, organization="globex", key="nightly")
    assert other.key == "nightly"  # another tenant's key neither blocks nor reveals
    with pytest.raises(KeyConflict):
        manager.start_job("diagnostics.sleep", params, organization="acme", key="nightly")
