"""JobManager against real PostgreSQL and Redis, with no worker running.

Messages published to the test's own queue just sit there; where a test needs a job to
have run, it moves the job on through the job store as a worker would. Covers starting
(validation, keys, idempotency), reading and filtering, cancelling, rerunning, waiting,
deleting, purging, statistics, the master list of job types, results and the schema.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import psycopg
import pytest

from jobhub import (
    Conflict,
    InvalidInput,
    InvalidParameters,
    Job,
    JobManager,
    JobNotFound,
    JobStatus,
    JSONValue,
    KeyConflict,
    NotCancellable,
    NotRerunnable,
    StartType,
    UnknownJobType,
    WaitTimeout,
)
from jobhub.clock import utcnow
from jobhub.formats.schema import job_record
from jobhub.lifecycle import NewMessage, Transition
from jobhub.odata import AIMS360_FIELDS
from tests import services as svc
from tests.support import redis_queue
from workers import diagnostics

# -- helpers: look at the database and the queue directly ------------------------------------


def sql_rows(database_url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        return connection.execute(query, params).fetchall()


def sql_execute(database_url: str, statement: str, *params: object) -> None:
    with psycopg.connect(svc.libpq_url(database_url), autocommit=True) as connection:
        connection.execute(statement, params)


def job_count(database_url: str) -> int:
    return int(sql_rows(database_url, "SELECT count(*) FROM jobs")[0][0])


def rows_of(database_url: str, table: str, job_ids: Iterable[uuid.UUID]) -> int:
    query = f"SELECT count(*) FROM {table} WHERE job_id = ANY(%s)"
    return int(sql_rows(database_url, query, list(job_ids))[0][0])


def queue_length(services: svc.Services, queue_name: str) -> int:
    return redis_queue.queue_length(services.redis_url, queue_name)


def history(manager: JobManager, job_id: uuid.UUID) -> list[tuple[int, JobStatus]]:
    return [(event.attempt, event.status) for event in manager.job_events(job_id)]


def run_as_worker(
    manager: JobManager, job_id: uuid.UUID, end: JobStatus | None, result: JSONValue = None
) -> Job:
    """Move a job on as a worker would: Processing, then ``end`` if given."""
    job = manager.get_job(job_id)
    writes = manager.app.runtime.writes
    steps = [
        Transition(
            job_id=job_id,
            attempt=job.attempt,
            status=JobStatus.PROCESSING,
            at=utcnow(),
            worker_id="w-test",
        )
    ]
    if end is not None:
        steps.append(
            Transition(job_id=job_id, attempt=job.attempt, status=end, at=utcnow(), result=result)
        )
    assert all(applied is not None for applied in writes.write(transitions=steps))
    return manager.get_job(job_id)


def ids(jobs: Iterable[Job]) -> list[uuid.UUID]:
    return [job.id for job in jobs]


# -- starting ------------------------------------------------------------------------------


def test_start_job_records_a_queued_job_and_leaves_its_message_on_the_queue(
    manager: JobManager, database_url: str, services: svc.Services, queue_name: str
) -> None:
    job = manager.start_job(
        "diagnostics.sleep",
        {"steps": 2},
        identity="alice",
        organization="acme",
        description="nightly canary",
    )

    assert job.status is JobStatus.QUEUED
    assert job.attempt == 1
    assert job.queued_at is not None
    stored = manager.get_job(job.id)
    assert stored.status is JobStatus.QUEUED
    assert stored.parameters == {"steps": 2, "seconds": 1.0, "fail_at_step": None}
    assert (stored.identity, stored.organization, stored.created_by) == ("alice", "acme", "alice")
    assert (stored.category, stored.subcategory) == ("Diagnostics", "Canary")
    assert stored.description == "nightly canary"
    assert stored.started_at is None
    assert stored.worker_id is None
    assert stored.created_at <= stored.queued_at  # type: ignore[operator]
    assert stored.purge_at - stored.created_at == manager.settings.retention
    assert history(manager, job.id) == [(1, JobStatus.CREATED), (1, JobStatus.QUEUED)]
    assert job_count(database_url) == 1
    assert queue_length(services, queue_name) == 1


def test_job_type_may_be_given_as_its_task(manager: JobManager) -> None:
    job = manager.start_job(diagnostics.echo, {"message": "by type"})
    assert job.job_type == "diagnostics.echo"
    assert manager.get_job(job.id).parameters == {"message": "by type", "data": None}


@pytest.mark.parametrize(
    ("job_type", "parameters", "error"),
    [
        ("diagnostics.sleep", {"steps": "five"}, InvalidParameters),
        ("diagnostics.sleep", {"steps": 0}, InvalidParameters),
        ("diagnostics.sleep", {"nap": 1}, InvalidParameters),
        ("diagnostics.no_such_type", {}, UnknownJobType),
    ],
    ids=["wrong-type", "below-minimum", "undeclared", "unknown-type"],
)
def test_invalid_start_writes_nothing(
    manager: JobManager,
    database_url: str,
    services: svc.Services,
    queue_name: str,
    job_type: str,
    parameters: dict[str, object],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        manager.start_job(job_type, parameters)

    assert job_count(database_url) == 0
    assert sql_rows(database_url, "SELECT count(*) FROM job_events") == [(0,)]
    assert queue_length(services, queue_name) == 0


def test_invalid_parameters_name_each_problem(manager: JobManager, database_url: str) -> None:
    with pytest.raises(InvalidParameters) as caught:
        manager.start_job("diagnostics.sleep", {"steps": "five", "nap": 1})
    assert set(caught.value.problems) == {"steps", "nap"}
    assert job_count(database_url) == 0


def test_overlong_key_is_rejected_before_anything_is_written(
    manager: JobManager, database_url: str
) -> None:
    with pytest.raises(InvalidInput, match="key"):
        manager.start_job("diagnostics.echo", key="k" * 201)
    assert job_count(database_url) == 0


def test_key_is_held_by_one_active_job_until_it_ends(
    manager: JobManager, database_url: str, services: svc.Services, queue_name: str
) -> None:
    first = manager.start_job("diagnostics.sleep", key="nightly")

    with pytest.raises(KeyConflict) as caught:
        manager.start_job("diagnostics.sleep", key="nightly")
    assert (caught.value.job_type, caught.value.key) == ("diagnostics.sleep", "nightly")
    assert job_count(database_url) == 1
    assert queue_length(services, queue_name) == 1

    other_key = manager.start_job("diagnostics.sleep", key="hourly")
    other_type = manager.start_job("diagnostics.echo", key="nightly")
    assert other_key.status is JobStatus.QUEUED
    assert other_type.status is JobStatus.QUEUED

    manager.cancel_job(first.id)
    again = manager.start_job("diagnostics.sleep", key="nightly")

    assert again.id != first.id
    assert again.status is JobStatus.QUEUED
    assert manager.get_job(first.id).status is JobStatus.CANCELLED
    assert job_count(database_url) == 4


def test_same_client_request_id_returns_the_same_job_within_an_organization(
    manager: JobManager, database_url: str, services: svc.Services, queue_name: str
) -> None:
    first = manager.start_job(
        "diagnostics.echo", {"message": "one"}, organization="acme", client_request_id="req-1"
    )
    repeat = manager.start_job(
        "diagnostics.echo", {"message": "one"}, organization="acme", client_request_id="req-1"
    )

    assert repeat.id == first.id
    assert job_count(database_url) == 1
    assert queue_length(services, queue_name) == 1
    assert history(manager, first.id) == [(1, JobStatus.CREATED), (1, JobStatus.QUEUED)]

    elsewhere = manager.start_job(
        "diagnostics.echo", {"message": "one"}, organization="globex", client_request_id="req-1"
    )

    assert elsewhere.id != first.id
    assert elsewhere.organization == "globex"
    assert job_count(database_url) == 2
    assert queue_length(services, queue_name) == 2


# -- cancelling ----------------------------------------------------------------------------


def test_cancel_of_a_queued_job_ends_it_at_once(manager: JobManager) -> None:
    job = manager.start_job("diagnostics.sleep")

    cancelled = manager.cancel_job(job.id, actor="ops")

    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.completed_at is not None
    assert cancelled.cancel_requested
    assert cancelled.modified_by == "ops"
    assert cancelled.started_at is None
    assert manager.get_job(job.id).status is JobStatus.CANCELLED
    events = manager.job_events(job.id)
    assert [(e.attempt, e.status) for e in events] == [
        (1, JobStatus.CREATED),
        (1, JobStatus.QUEUED),
        (1, JobStatus.CANCELLED),
    ]
    assert events[-1].message == "cancelled"


@pytest.mark.parametrize("end", [JobStatus.COMPLETED, JobStatus.CANCELLED], ids=lambda s: s.label)
def test_cancel_of_a_finished_job_is_a_conflict(manager: JobManager, end: JobStatus) -> None:
    job = manager.start_job("diagnostics.echo")
    if end is JobStatus.CANCELLED:
        manager.cancel_job(job.id)
    else:
        run_as_worker(manager, job.id, end)
    before = manager.get_job(job.id)
    events_before = manager.job_events(job.id)

    with pytest.raises(Conflict, match=f"already ended {end.label}"):
        manager.cancel_job(job.id)

    assert manager.get_job(job.id) == before
    assert manager.job_events(job.id) == events_before


def test_cancel_of_a_running_job_flags_it_and_leaves_it_running(manager: JobManager) -> None:
    job = manager.start_job("diagnostics.sleep")
    run_as_worker(manager, job.id, None)

    flagged = manager.cancel_job(job.id)

    assert flagged.status is JobStatus.PROCESSING
    assert flagged.cancel_requested
    assert flagged.completed_at is None
    assert history(manager, job.id)[-1] == (1, JobStatus.PROCESSING)
    assert manager.job_events(job.id)[-1].message == "cancel requested"


def test_running_job_of_a_type_that_cannot_be_cancelled_is_not_cancellable(
    manager: JobManager,
) -> None:
    job = manager.start_job("maintenance.purge_jobs")
    run_as_worker(manager, job.id, None)

    with pytest.raises(NotCancellable):
        manager.cancel_job(job.id)

    assert not manager.get_job(job.id).cancel_requested


def test_cancel_of_an_unknown_job_is_not_found(manager: JobManager) -> None:
    with pytest.raises(JobNotFound):
        manager.cancel_job(uuid.uuid4())


# -- rerunning -----------------------------------------------------------------------------


def test_rerun_of_an_active_job_is_refused(manager: JobManager) -> None:
    queued = manager.start_job("diagnostics.echo")
    running = manager.start_job("diagnostics.echo")
    run_as_worker(manager, running.id, None)

    for job in (queued, running):
        with pytest.raises(NotRerunnable):
            manager.rerun_job(job.id)
        assert manager.get_job(job.id).attempt == 1


def test_rerun_of_a_cancelled_job_queues_attempt_two_and_keeps_the_history(
    manager: JobManager, services: svc.Services, queue_name: str
) -> None:
    job = manager.start_job("diagnostics.echo", {"message": "again"})
    manager.cancel_job(job.id)

    rerun = manager.rerun_job(job.id, actor="ops")

    assert rerun.attempt == 2
    assert rerun.status is JobStatus.QUEUED
    assert rerun.queued_at is not None
    assert rerun.completed_at is None
    assert not rerun.cancel_requested
    assert rerun.modified_by == "ops"
    assert rerun.parameters == {"message": "again", "data": None}
    assert history(manager, job.id) == [
        (1, JobStatus.CREATED),
        (1, JobStatus.QUEUED),
        (1, JobStatus.CANCELLED),
        (2, JobStatus.CREATED),
        (2, JobStatus.QUEUED),
    ]
    assert queue_length(services, queue_name) == 2


def test_rerun_of_a_completed_job_clears_the_previous_outcome(manager: JobManager) -> None:
    job = manager.start_job("diagnostics.echo")
    run_as_worker(manager, job.id, JobStatus.COMPLETED, result={"ok": True})

    rerun = manager.rerun_job(job.id)

    assert (rerun.attempt, rerun.status) == (2, JobStatus.QUEUED)
    assert rerun.result is None
    assert rerun.percent == 0
    assert rerun.worker_id is None
    assert rerun.started_at is None


# -- waiting -------------------------------------------------------------------------------


def test_wait_times_out_naming_the_unfinished_jobs(manager: JobManager) -> None:
    done = manager.start_job("diagnostics.echo")
    manager.cancel_job(done.id)
    waiting = manager.start_job("diagnostics.echo")
    started = time.monotonic()

    with pytest.raises(WaitTimeout) as caught:
        manager.wait_for_completion([done.id, waiting.id], timeout=0.3)

    elapsed = time.monotonic() - started
    assert caught.value.unfinished == (waiting.id,)
    assert str(waiting.id) in str(caught.value)
    assert str(done.id) not in str(caught.value)
    assert 0.3 <= elapsed < 3


def test_wait_returns_at_once_when_every_job_has_ended(manager: JobManager) -> None:
    first = manager.start_job("diagnostics.echo")
    second = manager.start_job("diagnostics.echo")
    run_as_worker(manager, second.id, JobStatus.COMPLETED)
    manager.cancel_job(first.id)
    started = time.monotonic()

    jobs = manager.wait_for_completion([str(second.id), first.id], timeout=5)

    assert time.monotonic() - started < 1
    assert [(j.id, j.status) for j in jobs] == [
        (second.id, JobStatus.COMPLETED),
        (first.id, JobStatus.CANCELLED),
    ]


def test_wait_for_an_unknown_job_is_not_found(manager: JobManager) -> None:
    known = manager.start_job("diagnostics.echo")
    unknown = uuid.uuid4()
    with pytest.raises(JobNotFound) as caught:
        manager.wait_for_completion([known.id, unknown], timeout=1)
    assert caught.value.job_id == str(unknown)


# -- reading -------------------------------------------------------------------------------


def test_get_job_of_an_unknown_id_is_not_found_and_find_job_is_none(manager: JobManager) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(JobNotFound):
        manager.get_job(unknown)
    with pytest.raises(JobNotFound):
        manager.get_job("not-a-uuid")
    assert manager.find_job(unknown) is None
    assert manager.find_job("not-a-uuid") is None
    known = manager.start_job("diagnostics.echo")
    found = manager.find_job(str(known.id))
    assert found is not None
    assert found.id == known.id


def test_find_jobs_filters_pages_and_lists_newest_first(manager: JobManager) -> None:
    a1 = manager.start_job("diagnostics.echo", organization="a")
    b1 = manager.start_job("diagnostics.sleep", organization="b")
    a2 = manager.start_job("diagnostics.echo", organization="a")
    b2 = manager.start_job("diagnostics.sleep", organization="b")
    a3 = manager.start_job("diagnostics.echo", organization="a")
    run_as_worker(manager, b1.id, None)
    run_as_worker(manager, a2.id, JobStatus.COMPLETED)
    manager.cancel_job(b2.id)

    assert ids(manager.find_jobs()) == [a3.id, b2.id, a2.id, b1.id, a1.id]
    assert ids(manager.find_jobs(status=JobStatus.QUEUED)) == [a3.id, a1.id]
    assert ids(manager.find_jobs(status=[JobStatus.COMPLETED, JobStatus.CANCELLED])) == [
        b2.id,
        a2.id,
    ]
    assert ids(manager.find_jobs(job_type="diagnostics.sleep")) == [b2.id, b1.id]
    assert ids(manager.find_jobs(organization="a")) == [a3.id, a2.id, a1.id]
    assert ids(manager.find_jobs(organization="a", status=JobStatus.QUEUED)) == [a3.id, a1.id]
    assert manager.find_jobs(organization="nobody") == []
    assert ids(manager.find_jobs(limit=2)) == [a3.id, b2.id]
    assert ids(manager.find_jobs(limit=2, offset=2)) == [a2.id, b1.id]
    assert ids(manager.find_jobs(limit=2, offset=4)) == [a1.id]
    with pytest.raises(InvalidInput):
        manager.find_jobs(limit=0)
    with pytest.raises(InvalidInput):
        manager.find_jobs(offset=-1)

    assert ids(manager.pending_jobs()) == [a3.id, a1.id]
    assert ids(manager.running_jobs()) == [b1.id]
    assert ids(manager.finished_jobs()) == [b2.id, a2.id]
    assert ids(manager.pending_jobs(limit=1)) == [a3.id]


def test_pending_jobs_include_jobs_still_created(manager: JobManager, database_url: str) -> None:
    job = manager.start_job("diagnostics.echo")
    sql_execute(database_url, "UPDATE jobs SET status = 0, queued_at = NULL WHERE id = %s", job.id)

    assert ids(manager.pending_jobs()) == [job.id]
    assert manager.running_jobs() == []
    assert manager.finished_jobs() == []


# -- housekeeping jobs: left out of listings unless asked ------------------------------------


def test_listings_leave_housekeeping_jobs_out_unless_asked_or_named_by_type(
    manager: JobManager,
) -> None:
    user = manager.start_job("diagnostics.echo")
    reaper = manager.start_job("maintenance.reap_lost_jobs")
    outbox = manager.start_job("maintenance.reconcile_outbox")
    ended = manager.start_job("maintenance.purge_jobs")
    run_as_worker(manager, ended.id, JobStatus.COMPLETED)

    assert (user.housekeeping, reaper.housekeeping) == (False, True)
    assert manager.get_job(outbox.id).housekeeping is True
    assert ids(manager.find_jobs()) == [user.id]
    assert ids(manager.find_jobs(housekeeping=False)) == [user.id]
    assert ids(manager.find_jobs(housekeeping=True)) == [ended.id, outbox.id, reaper.id, user.id]
    assert ids(manager.find_jobs(job_type="maintenance.reap_lost_jobs")) == [reaper.id]
    assert manager.find_jobs(job_type="maintenance.reap_lost_jobs", housekeeping=False) == []
    assert ids(manager.find_jobs(job_type="diagnostics.echo")) == [user.id]
    assert ids(manager.find_jobs(status=JobStatus.QUEUED, housekeeping=True)) == [
        outbox.id,
        reaper.id,
        user.id,
    ]

    assert ids(manager.pending_jobs()) == [user.id]
    assert ids(manager.pending_jobs(housekeeping=True)) == [outbox.id, reaper.id, user.id]
    assert manager.finished_jobs() == []
    assert ids(manager.finished_jobs(housekeeping=True)) == [ended.id]
    assert ids(manager.jobs_in_state("finished", housekeeping=True)) == [ended.id]
    assert manager.running_jobs(housekeeping=True) == []


def test_queries_imply_no_housekeeping_jobs_unless_the_filter_mentions_them(
    manager: JobManager,
) -> None:
    user = manager.start_job("diagnostics.echo", organization="acme")
    upkeep = manager.start_job("maintenance.reconcile_outbox", organization="acme")

    def query(text: str | None, **options: Any) -> tuple[list[uuid.UUID], int | None]:
        found, total = manager.query_jobs(filter=text, count=True, **options)
        return ids(found), total

    assert query(None) == ([user.id], 1)
    assert query("organization eq 'acme'") == ([user.id], 1)
    assert query("jobType eq 'maintenance.reconcile_outbox'") == ([], 0)
    assert query("housekeeping eq true") == ([upkeep.id], 1)
    assert query("housekeeping eq false") == ([user.id], 1)
    assert query("housekeeping eq true or housekeeping eq false") == ([upkeep.id, user.id], 2)
    assert query("housekeeping eq true", organization="globex") == ([], 0)
    assert query("housekeeping eq true", fields=AIMS360_FIELDS) == ([upkeep.id], 1)
    assert query("jobStatus eq 'Queued'", fields=AIMS360_FIELDS) == ([user.id], 1)
    page = manager.query_page(filter="housekeeping eq true or housekeeping eq false", top=1)
    assert (ids(page.jobs), page.more) == ([upkeep.id], True)


def test_single_reads_the_master_list_and_statistics_see_housekeeping_jobs(
    manager: JobManager,
) -> None:
    upkeep = manager.start_job("maintenance.reconcile_outbox")
    now = utcnow()

    assert manager.get_job(upkeep.id).housekeeping is True
    assert manager.find_job(upkeep.id) is not None
    assert manager.job_events(upkeep.id)[0].status is JobStatus.CREATED
    last = manager.get_job_instance("maintenance.reconcile_outbox").last_job
    assert last is not None
    assert last.id == upkeep.id
    counted = manager.housekeeping.job_statistics(
        now - timedelta(hours=1), now + timedelta(hours=1)
    )
    assert [(row.job_type, row.count) for row in counted] == [("maintenance.reconcile_outbox", 1)]


# -- deleting and purging --------------------------------------------------------------------


def test_delete_removes_an_ended_job_with_its_events_and_messages(
    manager: JobManager, database_url: str
) -> None:
    job = manager.start_job("diagnostics.echo")
    keep = manager.start_job("diagnostics.echo")
    manager.app.runtime.writes.write(
        messages=[NewMessage(job_id=job.id, attempt=1, at=utcnow(), level="info", text="hello")]
    )
    manager.cancel_job(job.id)
    assert rows_of(database_url, "job_events", [job.id]) == 3
    assert rows_of(database_url, "job_messages", [job.id]) == 1

    manager.delete_job(job.id)

    with pytest.raises(JobNotFound):
        manager.get_job(job.id)
    assert rows_of(database_url, "job_events", [job.id]) == 0
    assert rows_of(database_url, "job_messages", [job.id]) == 0
    assert ids(manager.find_jobs()) == [keep.id]
    assert rows_of(database_url, "job_events", [keep.id]) == 2


def test_delete_refuses_an_active_job(manager: JobManager, database_url: str) -> None:
    job = manager.start_job("diagnostics.echo")

    with pytest.raises(Conflict, match="cancel it before deleting"):
        manager.delete_job(job.id)

    assert manager.get_job(job.id).status is JobStatus.QUEUED
    assert rows_of(database_url, "job_events", [job.id]) == 2
    with pytest.raises(JobNotFound):
        manager.delete_job(uuid.uuid4())


def test_purge_deletes_only_ended_expired_jobs_in_batches(
    manager: JobManager, database_url: str
) -> None:
    expired = [manager.start_job("diagnostics.echo").id for _ in range(5)]
    for job_id in expired:
        manager.cancel_job(job_id)
    active_expired = manager.start_job("diagnostics.echo").id
    ended_unexpired = manager.start_job("diagnostics.echo").id
    manager.cancel_job(ended_unexpired)
    sql_execute(
        database_url,
        "UPDATE jobs SET purge_at = now() - interval '1 day' WHERE id = ANY(%s)",
        [*expired, active_expired],
    )
    batches: list[int] = []

    purged = manager.housekeeping.purge_expired_jobs(batch_size=2, on_batch=batches.append)

    assert purged == 5
    assert batches == [2, 4, 5]
    assert set(ids(manager.find_jobs())) == {active_expired, ended_unexpired}
    assert rows_of(database_url, "job_events", expired) == 0
    assert manager.housekeeping.purge_expired_jobs(batch_size=2) == 0
    with pytest.raises(InvalidInput):
        manager.housekeeping.purge_expired_jobs(batch_size=0)


# -- statistics ------------------------------------------------------------------------------


def test_job_statistics_count_jobs_created_in_the_period_by_type_and_status(
    manager: JobManager, database_url: str
) -> None:
    manager.start_job("diagnostics.echo")
    cancelled = manager.start_job("diagnostics.echo")
    manager.cancel_job(cancelled.id)
    manager.start_job("diagnostics.echo")
    manager.start_job("diagnostics.sleep")
    old = manager.start_job("diagnostics.sleep")
    sql_execute(
        database_url, "UPDATE jobs SET created_at = now() - interval '2 days' WHERE id = %s", old.id
    )
    now = utcnow()

    rows = manager.housekeeping.job_statistics(now - timedelta(hours=1), now + timedelta(hours=1))

    assert {(r.job_type, r.status, r.count) for r in rows} == {
        ("diagnostics.echo", JobStatus.QUEUED, 2),
        ("diagnostics.echo", JobStatus.CANCELLED, 1),
        ("diagnostics.sleep", JobStatus.QUEUED, 1),
    }
    assert len(rows) == 3
    older = manager.housekeeping.job_statistics(now - timedelta(days=3), now - timedelta(days=1))
    assert [(r.job_type, r.status, r.count) for r in older] == [
        ("diagnostics.sleep", JobStatus.QUEUED, 1)
    ]
    assert (
        manager.housekeeping.job_statistics(now + timedelta(hours=1), now + timedelta(hours=2))
        == []
    )


def test_job_statistics_reject_an_empty_period(manager: JobManager) -> None:
    now = utcnow()
    with pytest.raises(InvalidInput):
        manager.housekeeping.job_statistics(now, now)
    with pytest.raises(InvalidInput):
        manager.housekeeping.job_statistics(now, now - timedelta(seconds=1))


# -- the master list of job types --------------------------------------------------------------


def test_register_job_stores_the_declared_start_type_and_add_job_replaces_it(
    manager: JobManager,
) -> None:
    assert not manager.is_job_registered("diagnostics.echo")
    assert manager.registered_jobs() == []

    registered = manager.register_job("diagnostics.echo")

    assert registered.registered
    assert registered.start_type is StartType.TIMER_ONLY
    assert registered.last_job is None
    assert manager.is_job_registered("diagnostics.echo")
    assert manager.is_job_registered(diagnostics.echo)

    replaced = manager.add_job("diagnostics.echo", StartType.NEVER)
    assert replaced.start_type is StartType.NEVER
    again = manager.register_job("diagnostics.echo")
    assert again.start_type is StartType.NEVER  # registering again keeps what add_job set

    manager.add_job(diagnostics.sleep, StartType.IMMEDIATE)
    listed = {state.name: state.start_type for state in manager.registered_jobs()}
    assert listed == {"diagnostics.echo": StartType.NEVER, "diagnostics.sleep": StartType.IMMEDIATE}
    assert not manager.is_job_registered("reports.job_statistics")


def test_job_instance_reports_the_latest_run_of_its_type(manager: JobManager) -> None:
    unregistered = manager.get_job_instance("diagnostics.sleep")
    assert not unregistered.registered
    assert unregistered.start_type is StartType.TIMER_ONLY
    assert unregistered.last_job is None
    assert unregistered.current_state is None

    manager.register_job("diagnostics.echo")
    manager.start_job("diagnostics.echo")
    latest = manager.start_job("diagnostics.echo")
    manager.start_job("diagnostics.sleep")
    manager.cancel_job(latest.id)

    state = manager.get_job_instance("diagnostics.echo")
    assert state.registered
    assert state.last_job is not None
    assert state.last_job.id == latest.id
    assert state.current_state is JobStatus.CANCELLED
    (listed,) = manager.registered_jobs()
    assert listed.name == "diagnostics.echo"
    assert listed.last_job is not None
    assert listed.last_job.id == latest.id


def test_unknown_job_type_cannot_be_registered(manager: JobManager) -> None:
    with pytest.raises(UnknownJobType):
        manager.register_job("diagnostics.no_such_type")
    with pytest.raises(UnknownJobType):
        manager.add_job("diagnostics.no_such_type", StartType.NEVER)
    assert manager.registered_jobs() == []


# -- results and schema ------------------------------------------------------------------------


def test_job_results_exist_only_for_completed_jobs(manager: JobManager) -> None:
    queued = manager.start_job("diagnostics.echo")
    cancelled = manager.start_job("diagnostics.echo")
    manager.cancel_job(cancelled.id)
    done = manager.start_job("diagnostics.echo")
    run_as_worker(manager, done.id, JobStatus.COMPLETED, result={"answer": 42})

    with pytest.raises(Conflict, match="Queued"):
        manager.job_results(queued.id)
    with pytest.raises(Conflict, match="Cancelled"):
        manager.job_results(cancelled.id)
    assert manager.job_results(done.id) == {"answer": 42}
    with pytest.raises(JobNotFound):
        manager.job_results(uuid.uuid4())


def test_job_schema_is_a_json_schema_that_stored_jobs_satisfy(manager: JobManager) -> None:
    schema = manager.job_schema()

    assert isinstance(schema, dict)
    assert schema["type"] == "object"
    assert {"id", "status", "attempt", "parameters", "result"} <= set(schema["properties"])
    jsonschema.Draft202012Validator.check_schema(schema)
    queued = manager.start_job("diagnostics.echo", {"data": {"n": [1, 2]}})
    done = manager.start_job("diagnostics.echo")
    run_as_worker(manager, done.id, JobStatus.COMPLETED, result={"ok": True})
    for job_id in (queued.id, done.id):
        jsonschema.validate(job_record(manager.get_job(job_id)), schema)
    broken = dict(job_record(manager.get_job(done.id)))
    broken["status"] = "Finished"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
