"""Who is looking at the dashboard, what they may do, and the checks every action passes.

``Signed`` (any role) and ``Acting`` (a POST: also the CSRF token and the origin) are the
dependencies the pages use; ``Caller`` answers what the templates and pages ask of the
signed-in key. Roles mean what they mean in the HTTP API. Tenancy too, with one
addition: an admin may look across organizations (ops' view); viewers and operators see
their own organization only, and another organization's job or workflow is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from jobhub.api_keys import Principal, Role
from jobhub.audit import Actor
from jobhub.errors import JobNotFound, NotAuthenticated, PermissionDenied, WorkflowNotFound
from jobhub.jobs import Job
from jobhub.manager import JobManager
from jobhub.ui.session import COOKIE, Session, SessionSigner
from jobhub.workflows.records import Workflow


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in key, its session and the CSRF token its forms carry."""

    principal: Principal
    session: Session
    csrf: str

    @property
    def role(self) -> Role:
        return self.principal.role

    def can(self, role: Role | str) -> bool:
        return self.principal.role.allows(Role(role))

    def require(self, role: Role) -> None:
        if not self.can(role):
            raise PermissionDenied(f"this needs the {role.value} role; the key is {self.role}")

    @property
    def admin(self) -> bool:
        return self.can(Role.ADMIN)

    @property
    def actor(self) -> Actor:
        """Who the audit trail names for this caller's actions."""
        caller = self.principal
        return Actor(
            identity=caller.identity, key_id=caller.key_id, organization=caller.organization
        )

    def organization(self, wanted: str | None = None) -> str | None:
        """The organization a read is limited to: the caller's own, or for an admin the
        one asked for (None: all)."""
        if self.admin:
            return wanted or None
        return self.principal.organization

    def visible(self, job: Job) -> Job:
        """The job if this caller may see it; JobNotFound otherwise (nothing leaks)."""
        if not self.admin and job.organization != self.principal.organization:
            raise JobNotFound(job.id)
        return job

    def visible_workflow(self, workflow: Workflow) -> Workflow:
        """The workflow if this caller may see it; WorkflowNotFound otherwise (nothing leaks)."""
        if not self.admin and workflow.organization != self.principal.organization:
            raise WorkflowNotFound(workflow.id)
        return workflow


def manager_of(request: Request) -> JobManager:
    manager: JobManager = request.app.state.manager
    return manager


def signer_of(request: Request) -> SessionSigner:
    """The app's session signer, made once from the database's shared secret."""
    signer: SessionSigner | None = getattr(request.app.state, "ui_signer", None)
    if signer is None:
        signer = SessionSigner(manager_of(request).access.session_secret())
        request.app.state.ui_signer = signer
    return signer


def signed_in(request: Request) -> Caller:
    """The caller of a page; SignInRequired when there is no live session."""
    signer = signer_of(request)
    value = request.cookies.get(COOKIE)
    session = None if value is None else signer.load(value)
    if session is None:
        raise SignInRequired
    try:
        principal = manager_of(request).access.signed_in(session.key_id)
    except NotAuthenticated:
        raise SignInRequired from None
    return Caller(principal=principal, session=session, csrf=signer.csrf_token(session))


async def acting(request: Request, caller: Annotated[Caller, Depends(signed_in)]) -> Caller:
    """The caller of an action: also checks the CSRF token (form field ``csrf`` or header
    ``X-CSRF-Token``) and, when the browser sends one, that the Origin is this site."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDenied("this action came from another site and was refused")
    token = request.headers.get("x-csrf-token")
    if token is None:
        form = await request.form()
        field = form.get("csrf")
        token = field if isinstance(field, str) else None
    if not signer_of(request).csrf_valid(caller.session, token):
        raise PermissionDenied("this action's form has expired or is forged; reload the page")
    return caller


Signed = Annotated[Caller, Depends(signed_in)]
Acting = Annotated[Caller, Depends(acting)]
Manager = Annotated[JobManager, Depends(manager_of)]
