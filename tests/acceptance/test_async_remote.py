"""``AsyncRemoteJobManager`` against a real API server and worker, from an event loop that
keeps running while it waits: the same jobs and errors as the blocking manager."""

from __future__ import annotations

import asyncio

import pytest

from jobhub import (
    JobManager,
    JobNotFound,
    JobRequest,
    JobStatus,
    KeyConflict,
    Settings,
    StartState,
    WaitTimeout,
)
from jobhub.remote import AsyncRemoteJobManager
from tests.conftest import Processes


def test_an_asyncio_producer_starts_follows_and_acts_on_jobs(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    api = processes.api(settings)
    token = manager.access.create_api_key(
        identity="svc", organization="acme", role="operator"
    ).token

    async def produce() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        async with AsyncRemoteJobManager(api.url, token, poll_interval=0.1) as jobs:
            job = await jobs.start_job("diagnostics.sleep", {"steps": 5, "seconds": 0.1})
            assert (job.identity, job.organization) == ("svc", "acme")
            [done] = await jobs.wait_for_completion([job.id], timeout=30)
            assert done == manager.get_job(job.id)
            assert done.status is JobStatus.COMPLETED
            assert [e.status for e in await jobs.job_events(job.id)][-1] is JobStatus.COMPLETED
            assert len(await jobs.user_messages(job.id)) == 5

            outcomes = await jobs.start_jobs(
                [JobRequest(job_type="diagnostics.echo", parameters={"message": "a"})] * 3
            )
            assert [o.state for o in outcomes] == [StartState.STARTED] * 3
            ended = await jobs.wait_for_completion(
                [o.job.id for o in outcomes if o.job], timeout=30
            )
            assert [await jobs.job_results(j.id) for j in ended] == [
                {"message": "a", "data": None}
            ] * 3

            held = await jobs.start_job("diagnostics.sleep", {"steps": 100}, key="k")
            with pytest.raises(KeyConflict):
                await jobs.start_job("diagnostics.sleep", key="k")
            with pytest.raises(WaitTimeout):
                await jobs.wait_for_completion([held.id], timeout=0.3)
            cancelled = await jobs.cancel_job(held.id)
            assert cancelled.id == held.id
            with pytest.raises(JobNotFound):
                await jobs.get_job("4b0b0a3e-0000-4000-8000-000000000000")
            assert await jobs.find_job("not-a-job") is None
        ticker.cancel()
        return ticks

    ticks = asyncio.run(produce())
    assert ticks > 50  # the loop ran on while the manager waited for the API and the jobs
