"""Who is calling: bearer API keys, roles, tenants and access scopes.

Every route but health, readiness and publish links depends on ``Viewer``, ``Operator``
or ``Admin``. A caller acts in its own organization only: another organization's job is
"not found", never "forbidden", so its existence leaks nothing.

Each acting route records its caller in the audit trail (``actor_of``: the key's id,
identity and organization) with the reason given as the ``reason`` query parameter
(``Reason``), the same way on every route whatever its method and body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobhub.api_keys import Principal, Role
from jobhub.audit import MAX_REASON, Actor
from jobhub.errors import JobNotFound, NotAuthenticated, PermissionDenied
from jobhub.jobs import AccessScope, Job
from jobhub.manager import JobManager

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `jobhub apikey create`, as `Authorization: Bearer jh_...`",
)


async def manager_of(request: Request) -> JobManager:  # async: no thread hop for a lookup
    manager: JobManager = request.app.state.manager
    return manager


Manager = Annotated[JobManager, Depends(manager_of)]


def optional_caller(
    manager: Manager,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller when a key was sent (and is valid), else None."""
    if credentials is None:
        return None
    return manager.access.authenticate(credentials.credentials)


def _require(role: Role) -> Callable[[Principal | None], Awaitable[Principal]]:
    async def check(caller: Annotated[Principal | None, Depends(optional_caller)]) -> Principal:
        if caller is None:
            raise NotAuthenticated("an API key is required: Authorization: Bearer jh_...")
        if not caller.role.allows(role):
            raise PermissionDenied(f"this needs the {role.value} role; the key is {caller.role}")
        return caller

    return check


Caller = Annotated[Principal | None, Depends(optional_caller)]
Viewer = Annotated[Principal, Depends(_require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(_require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(_require(Role.ADMIN))]


Reason = Annotated[
    str | None,
    Query(description=f"Why you do this, for the audit trail (at most {MAX_REASON} characters)."),
]
"""The optional ``reason`` query parameter of every acting route."""


def actor_of(caller: Principal) -> Actor:
    """The audit trail's actor for an authenticated caller: its key and organization."""
    return Actor(identity=caller.identity, key_id=caller.key_id, organization=caller.organization)


def visible_job(manager: JobManager, caller: Principal, job_id: str) -> Job:
    """The job if it belongs to the caller's organization; JobNotFound otherwise."""
    job = manager.get_job(job_id)
    if job.organization != caller.organization:
        raise JobNotFound(job_id)
    return job


def check_output_access(caller: Principal | None, job: Job) -> None:
    """Whether ``caller`` may read the job's result and documents under its access scope.

    A Public job's output is anyone's who holds its publish link, with or without a key;
    the authenticated routes show it to the job's organization only (``visible_job``).
    """
    if job.access_scope is AccessScope.PUBLIC:
        return
    if caller is None:
        raise NotAuthenticated("this output is not public: an API key is required")
    if caller.organization != job.organization:
        raise JobNotFound(job.id)
    if job.access_scope is AccessScope.PRIVATE and caller.identity != job.identity:
        raise PermissionDenied("this output is private to the job's submitter")
