"""``JobService``: what a producer can ask of jobhub, wherever jobhub is.

``JobManager`` serves it from the database and broker; ``RemoteJobManager`` over the HTTP
API (as SanteDB's UpstreamJobManager does over its REST API), for producers that must
not reach the database. Code written against this protocol runs with either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from jobhub.gates import Pause, PauseKind, StoredLimit
from jobhub.jobs import (
    AccessScope,
    Job,
    JobError,
    JobEvent,
    JobMessage,
    JobRequest,
    JobStatus,
    JSONValue,
    StartOutcome,
)
from jobhub.limits import Limit, LimitKind
from jobhub.scheduling.schedules import JobSchedule


class JobService(Protocol):
    def start_job(
        self,
        job_type: Any,
        parameters: Mapping[str, object] | None = None,
        *,
        client_request_id: str | None = None,
        key: str | None = None,
        description: str | None = None,
        access_scope: AccessScope | str = AccessScope.ORGANIZATION,
        start_at: datetime | None = None,
        delay: timedelta | None = None,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        reason: str | None = None,
    ) -> Job: ...

    def start_jobs(
        self, requests: Sequence[JobRequest], *, reason: str | None = None
    ) -> list[StartOutcome]: ...

    def get_job(self, job_id: UUID | str) -> Job: ...

    def find_job(self, job_id: UUID | str) -> Job | None: ...

    def find_jobs(
        self,
        *,
        status: JobStatus | Iterable[JobStatus] | None = None,
        job_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
        housekeeping: bool | None = None,
    ) -> list[Job]: ...

    def query_jobs(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int = 100,
        skip: int = 0,
        count: bool = False,
    ) -> tuple[list[Job], int | None]: ...

    def pending_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]: ...

    def running_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]: ...

    def finished_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]: ...

    def job_results(self, job_id: UUID | str) -> JSONValue: ...

    def job_events(self, job_id: UUID | str) -> list[JobEvent]: ...

    def user_messages(self, job_id: UUID | str, *, after: int = 0) -> list[JobMessage]: ...

    def cancel_job(self, job_id: UUID | str, *, reason: str | None = None) -> Job: ...

    def rerun_job(self, job_id: UUID | str, *, reason: str | None = None) -> Job: ...

    def retry_now(self, job_id: UUID | str, *, reason: str | None = None) -> Job: ...

    def wait_for_completion(
        self, job_ids: Sequence[UUID | str], timeout: float | None = None
    ) -> list[Job]: ...

    def get_job_schedules(self, job_type: Any) -> list[JobSchedule]: ...

    def set_job_schedule(
        self,
        job_type: Any,
        *,
        interval: Any = None,
        days: Any = None,
        at: Any = None,
        tz: str = "UTC",
        parameters: Mapping[str, object] | None = None,
        catch_up: bool = True,
        reason: str | None = None,
    ) -> list[JobSchedule]: ...

    def clear_job_schedule(self, job_type: Any, *, reason: str | None = None) -> None: ...

    def job_schema(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class RunnerService(Protocol):
    """A runner's side of jobs that run elsewhere: ``JobManager.runners`` (on the
    database) and ``RemoteJobManager.runners`` (over the HTTP API) both serve it."""

    def claim(self, job_id: UUID | str, runner: str) -> Job: ...

    def report(
        self,
        job_id: UUID | str,
        runner: str,
        *,
        percent: float | None = None,
        status_text: str | None = None,
        message: str | None = None,
        level: str = "info",
        attempt: int | None = None,
    ) -> Job: ...

    def finish(
        self,
        job_id: UUID | str,
        runner: str,
        *,
        result: JSONValue = None,
        error: JobError | str | None = None,
        retry: bool = True,
        cancelled: bool = False,
        attempt: int | None = None,
    ) -> Job: ...


class GateService(Protocol):
    """Limits and pauses: ``JobManager`` (on the database, as the local user or a given
    actor) and ``RemoteJobManager`` (over the HTTP API, as its key) both serve them."""

    def limits(self, job_type: Any = None) -> list[StoredLimit]: ...

    def set_limit(
        self, job_type: Any, limit: Limit | str, *, reason: str | None = None
    ) -> list[StoredLimit]: ...

    def clear_limit(
        self,
        job_type: Any,
        kind: LimitKind | str = LimitKind.CONCURRENCY,
        per: str = "",
        *,
        reason: str | None = None,
    ) -> list[StoredLimit]: ...

    def pauses(self) -> list[Pause]: ...

    def pause(self, kind: PauseKind | str, target: str, *, reason: str | None = None) -> Pause: ...

    def resume(self, kind: PauseKind | str, target: str, *, reason: str | None = None) -> None: ...
