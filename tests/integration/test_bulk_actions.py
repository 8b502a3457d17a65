"""Bulk actions (``jobhub.ui.bulk``) on a real manager, PostgreSQL and Redis: the count
states what the action would touch, one action stops at its cap (made small here), and
an organization's action never reaches another's jobs."""

from __future__ import annotations

import pytest

from jobhub import JobManager, JobStatus
from jobhub.audit import Actor, AuditAction
from jobhub.jobs import Job
from jobhub.ui import bulk
from jobhub.ui.bulk import BulkAction
from jobhub.ui.filters import JobFilter

OPERATOR = Actor(identity="olga", key_id="k1", organization="acme")


def _start(manager: JobManager, organization: str, description: str) -> Job:
    return manager.start_job(
        "diagnostics.echo", {}, organization=organization, description=description
    )


def test_one_bulk_action_stops_at_its_cap_and_the_next_does_the_rest(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "LIMIT", 3)
    batch = [_start(manager, "acme", f"batch job {n}") for n in range(5)]
    chosen = JobFilter(text="batch job")

    assert bulk.count(manager, BulkAction.CANCEL, chosen, "acme") == 4  # more than 3
    first = bulk.run(manager, BulkAction.CANCEL, chosen, "acme", OPERATOR)
    assert (first.acted, first.capped) == (3, True)
    assert first.summary(BulkAction.CANCEL) == (
        "Cancelled 3 jobs; one action stops at 3 jobs: run it again for the rest."
    )
    statuses = [manager.get_job(job.id).status for job in batch]
    assert statuses.count(JobStatus.CANCELLED) == 3
    assert statuses[2:] == [JobStatus.CANCELLED] * 3  # the newest first

    assert bulk.count(manager, BulkAction.CANCEL, chosen, "acme") == 2
    second = bulk.run(manager, BulkAction.CANCEL, chosen, "acme", OPERATOR)
    assert (second.acted, second.capped) == (2, False)
    assert {manager.get_job(job.id).status for job in batch} == {JobStatus.CANCELLED}
    assert bulk.count(manager, BulkAction.CANCEL, chosen, "acme") == 0
    cancels = [
        entry
        for entry in manager.audit_entries(organization="acme", limit=100)
        if entry.action is AuditAction.CANCEL
    ]
    assert sorted(entry.target for entry in cancels) == sorted(f"job {job.id}" for job in batch)
    assert {entry.actor for entry in cancels} == {OPERATOR}


def test_a_bulk_action_keeps_to_its_organization_and_to_the_jobs_it_applies_to(
    manager: JobManager,
) -> None:
    acme = [_start(manager, "acme", f"nightly {n}") for n in range(2)]
    globex = _start(manager, "globex", "nightly of globex")
    ended = manager.cancel_job(_start(manager, "acme", "nightly, ended").id)
    chosen = JobFilter(text="nightly")

    assert bulk.count(manager, BulkAction.CANCEL, chosen, "acme") == 2
    assert bulk.count(manager, BulkAction.RERUN, chosen, "acme") == 1
    assert bulk.count(manager, BulkAction.CANCEL, chosen, None) == 3  # an admin's, every one
    done = bulk.run(manager, BulkAction.CANCEL, chosen, "acme", OPERATOR)
    assert done.summary(BulkAction.CANCEL) == "Cancelled 2 jobs."
    assert manager.get_job(globex.id).status is JobStatus.QUEUED

    rerun = bulk.run(manager, BulkAction.RERUN, chosen, "acme", OPERATOR, "after the fix")
    assert rerun.summary(BulkAction.RERUN) == "Reran 3 jobs."
    assert {manager.get_job(job.id).attempt for job in [*acme, ended]} == {2}
    assert manager.get_job(globex.id).attempt == 1
    reasons = {
        entry.reason
        for entry in manager.audit_entries(organization="acme", limit=100)
        if entry.action is AuditAction.RERUN
    }
    assert reasons == {"after the fix"}
