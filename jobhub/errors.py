"""jobhub's exceptions: one root, a small tree.

::

    JobHubError
     ├── ConfigurationError        a JOBHUB_* setting cannot be used
     ├── InvalidInput              the caller's input is wrong; nothing was written
     │    ├── InvalidParameters    parameters do not match the job type's declaration
     │    ├── InvalidWorkflow      a cycle, an unknown step, a bad step of a workflow
     │    └── InvalidDuration      text that is not a duration (250ms, 90s, 1h30m, 2d)
     ├── NotFound
     │    ├── UnknownJobType       no job type by that name
     │    ├── JobNotFound          no job with that id
     │    └── WorkflowNotFound     no workflow with that id
     ├── Conflict                  the request clashes with the current state
     │    ├── KeyConflict          an active job of the same type holds the key
     │    ├── NotCancellable       the job is running and its type cannot be cancelled
     │    ├── NotRerunnable        the job is not finished, or its type cannot be rerun
     │    ├── NotWaiting           the job waits for no start time or retry
     │    └── ReportRefused        a runner's claim or report the job's state refuses
     ├── AccessDenied              the caller may not do this
     │    ├── NotAuthenticated     no valid API key
     │    └── PermissionDenied     the key's role or the job's access scope forbids it
     ├── WaitTimeout               jobs were still unfinished when the wait ran out
     ├── StorageError              the database failed
     │    ├── StorageUnavailable   the database cannot be reached
     │    └── SchemaOutOfDate      the database needs ``jobhub db upgrade``
     ├── DispatchError             the broker did not take the message
     ├── RemoteUnavailable         the jobhub HTTP API cannot be reached, or it failed
     ├── JobCancelled              raised inside a running job whose cancel was requested
     └── DoNotRetry                raised by a job: fail now, whatever its retry policy

The CLI and the HTTP API each map this tree to their own form in one table. The class
docstring is the default message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID


class JobHubError(Exception):
    """A jobhub operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip().splitlines()[0])

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigurationError(JobHubError):
    """A JOBHUB_* setting cannot be used."""


class InvalidInput(JobHubError):
    """The input is not valid; nothing was written."""


class InvalidParameters(InvalidInput):
    """The parameters do not match the job type's declaration."""

    def __init__(self, job_type: str, problems: Mapping[str, str]) -> None:
        self.job_type = job_type
        self.problems = dict(problems)
        detail = "; ".join(f"{name}: {problem}" for name, problem in self.problems.items())
        super().__init__(f"invalid parameters for {job_type}: {detail}")


class InvalidWorkflow(InvalidInput):
    """A workflow that cannot run as given: a cycle, an unknown step, a bad step."""


class InvalidDuration(InvalidInput):
    """Not a duration (use e.g. 250ms, 90s, 1h30m or 2d)."""


class InvalidLimit(InvalidInput):
    """Not a limit (use e.g. 2, 10 per customer_id, 100/min or 5/s per organization)."""


class NotFound(JobHubError):
    """Nothing found by that name or id."""


class UnknownJobType(NotFound):
    """No job type by that name."""

    def __init__(self, name: str, known: Iterable[str] = ()) -> None:
        self.name = name
        hint = f" (known: {', '.join(sorted(known))})" if known else ""
        super().__init__(f"unknown job type {name!r}{hint}")


class JobNotFound(NotFound):
    """No job with that id."""

    def __init__(self, job_id: UUID | str) -> None:
        self.job_id = str(job_id)
        super().__init__(f"no job with id {job_id}")


class WorkflowNotFound(NotFound):
    """No workflow with that id."""

    def __init__(self, workflow_id: UUID | str) -> None:
        self.workflow_id = str(workflow_id)
        super().__init__(f"no workflow with id {workflow_id}")


class Conflict(JobHubError):
    """The request clashes with the job's current state."""


class KeyConflict(Conflict):
    """An active job of the same type already holds this key."""

    def __init__(self, job_type: str, key: str) -> None:
        self.job_type = job_type
        self.key = key
        super().__init__(f"an active {job_type} job already holds key {key!r}")


class NotCancellable(Conflict):
    """The job is running and its type cannot be cancelled."""


class NotRerunnable(Conflict):
    """The job cannot be rerun."""


class NotWaiting(Conflict):
    """The job is not waiting for a start time or a retry."""


class ReportRefused(Conflict):
    """The job's state refuses this claim or report (it would move the job backwards, or
    another runner holds it)."""


class AccessDenied(JobHubError):
    """The caller may not do this."""


class NotAuthenticated(AccessDenied):
    """No valid API key was given."""


class PermissionDenied(AccessDenied):
    """The API key's role, or the job's access scope, does not allow this."""


class WaitTimeout(JobHubError):
    """Jobs were still unfinished when the wait ran out."""

    def __init__(self, unfinished: Iterable[UUID], timeout: float) -> None:
        self.unfinished = tuple(unfinished)
        ids = ", ".join(str(job_id) for job_id in self.unfinished)
        super().__init__(f"still unfinished after {timeout:g}s: {ids}")


class StorageError(JobHubError):
    """The database failed."""


class StorageUnavailable(StorageError):
    """The database cannot be reached."""


class SchemaOutOfDate(StorageError):
    """The database schema is missing or old; run `jobhub db upgrade`."""


class DispatchError(JobHubError):
    """The broker did not accept the job's message."""


class RemoteUnavailable(JobHubError):
    """The jobhub HTTP API cannot be reached, or it failed."""


class JobCancelled(JobHubError):
    """The job's cancellation was requested; it stops here."""


class DoNotRetry(JobHubError):
    """The job failed in a way another attempt cannot fix: it ends now, whatever its
    type's retry policy allows."""
