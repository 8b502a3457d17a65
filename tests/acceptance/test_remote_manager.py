"""RemoteJobManager against a real API server and worker: the same jobs, the same errors."""

from __future__ import annotations

import pytest

from jobhub import (
    InvalidParameters,
    JobManager,
    JobNotFound,
    JobRequest,
    JobStatus,
    KeyConflict,
    NotAuthenticated,
    PermissionDenied,
    RemoteJobManager,
    RemoteUnavailable,
    Settings,
    StartState,
    UnknownJobType,
    WaitTimeout,
)
from jobhub.odata import InvalidFilter
from tests.conftest import Processes
from tests.services import free_port


def test_a_remote_producer_starts_follows_and_acts_on_jobs(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    api = processes.api(settings)
    token = manager.access.create_api_key(identity="svc", organization="acme", role="admin").token
    with RemoteJobManager(api.url, token, poll_interval=0.1) as remote:
        job = remote.start_job("diagnostics.sleep", {"steps": 2, "seconds": 0.1})
        assert (job.identity, job.organization) == ("svc", "acme")
        [done] = remote.wait_for_completion([job.id], timeout=30)
        assert done == manager.get_job(job.id)  # the same value the local manager reads
        assert done.status is JobStatus.COMPLETED
        assert remote.job_results(job.id) == {"steps": 2, "seconds": 0.1}
        assert [m.text for m in remote.user_messages(job.id)] == [
            "step 1 of 2 done",
            "step 2 of 2 done",
        ]
        statuses = [event.status for event in remote.job_events(job.id)]
        assert statuses == [
            JobStatus.CREATED,
            JobStatus.QUEUED,
            JobStatus.PROCESSING,
            JobStatus.COMPLETED,
        ]

        again = remote.start_job("diagnostics.echo", client_request_id="once")
        assert remote.start_job("diagnostics.echo", client_request_id="once").id == again.id
        remote.wait_for_completion([again.id], timeout=30)
        rerun = remote.rerun_job(again.id)
        assert rerun.attempt == 2
        assert remote.wait_for_completion([again.id], timeout=30)[0].attempt == 2

        held = remote.start_job("diagnostics.sleep", {"steps": 100, "seconds": 0.1}, key="k")
        with pytest.raises(KeyConflict):
            remote.start_job("diagnostics.sleep", {"steps": 1}, key="k")
        with pytest.raises(WaitTimeout):
            remote.wait_for_completion([held.id], timeout=0.3)
        remote.cancel_job(held.id)
        assert remote.wait_for_completion([held.id], timeout=30)[0].status is JobStatus.CANCELLED

        found, total = remote.query_jobs(filter="jobType eq 'diagnostics.echo'", count=True)
        assert total == 1
        assert [j.id for j in found] == [again.id]
        assert {j.id for j in remote.finished_jobs()} == {job.id, again.id, held.id}
        assert remote.find_job("00000000-0000-0000-0000-000000000000") is None

        schedules = remote.set_job_schedule("diagnostics.echo", interval="1h")
        assert [s.rule for s in schedules] == [
            s.rule for s in remote.get_job_schedules("diagnostics.echo")
        ]
        remote.clear_job_schedule("diagnostics.echo")
        assert remote.get_job_schedules("diagnostics.echo") == []
        assert "properties" in remote.job_schema()

        with pytest.raises(UnknownJobType):
            remote.start_job("no.such.type")
        with pytest.raises(InvalidParameters) as bad:
            remote.start_job("diagnostics.sleep", {"steps": "many"})
        assert "steps" in bad.value.problems
        with pytest.raises(JobNotFound):
            remote.get_job("not-an-id")
        with pytest.raises(InvalidFilter) as invalid:
            remote.query_jobs(filter="status eq")
        assert invalid.value.position == 9

    viewer = manager.access.create_api_key(identity="ro", organization="acme", role="viewer").token
    with RemoteJobManager(api.url, viewer) as remote:
        assert remote.get_job(job.id).id == job.id
        with pytest.raises(PermissionDenied):
            remote.start_job("diagnostics.echo")
    other = manager.access.create_api_key(identity="x", organization="globex", role="admin").token
    with RemoteJobManager(api.url, other) as remote, pytest.raises(JobNotFound):
        remote.get_job(job.id)  # another organization's job does not exist for it
    with RemoteJobManager(api.url, "jh_not_a_key") as remote, pytest.raises(NotAuthenticated):
        remote.get_job(job.id)
    nowhere = f"http://127.0.0.1:{free_port()}"
    with RemoteJobManager(nowhere, token, timeout=2) as remote, pytest.raises(RemoteUnavailable):
        remote.get_job(job.id)


def test_a_remote_producer_starts_a_batch(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    api = processes.api(settings)
    token = manager.access.create_api_key(
        identity="svc", organization="acme", role="operator"
    ).token
    with RemoteJobManager(api.url, token, poll_interval=0.1) as remote:
        holder = remote.start_job("diagnostics.sleep", {"steps": 50, "seconds": 0.1}, key="k")
        outcomes = remote.start_jobs(
            [
                JobRequest(job_type="diagnostics.echo", parameters={"message": str(n)})
                for n in range(5)
            ]
            + [JobRequest(job_type="diagnostics.sleep", key="k")]
        )
        assert [o.state for o in outcomes] == [StartState.STARTED] * 5 + [StartState.REFUSED]
        assert isinstance(outcomes[5].error, KeyConflict)
        ids = [o.job.id for o in outcomes[:5] if o.job is not None]
        done = remote.wait_for_completion(ids, timeout=30)
        assert [job.result for job in done] == [{"message": str(n), "data": None} for n in range(5)]
        assert {(job.identity, job.organization) for job in done} == {("svc", "acme")}
        with pytest.raises(InvalidParameters, match=r"^item 1: invalid parameters for diagnostics"):
            remote.start_jobs(
                [
                    JobRequest(job_type="diagnostics.echo"),
                    JobRequest(job_type="diagnostics.echo", parameters={"nope": 1}),
                ]
            )
        remote.cancel_job(holder.id)
