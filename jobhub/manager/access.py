"""``Access``: the HTTP API's keys, and the documents a job's result can become.

Kept beside the job manager rather than in it: a producer starting jobs never needs
either. ``JobManager.access`` gives one on the same process handles.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from jobhub.api_keys import ApiKey, IssuedKey, Principal, Role, issue, secret_matches, split_token
from jobhub.audit import Actor, AuditAction, acting
from jobhub.documents import Document, LinkSigner
from jobhub.errors import InvalidInput, NotAuthenticated, NotFound
from jobhub.jobs import AccessScope, Job, JSONValue
from jobhub.manager.base import record_action
from jobhub.parameters import unstorable_text
from jobhub.runtime import Runtime

MAX_TEXT = 200
"""Characters an identity or organization may have."""


class Access:
    """API keys (issue, revoke, authenticate) and result documents (content, links)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._link_signer: LinkSigner | None = None

    # -- result documents and publish links ---------------------------------------------

    def job_documents(self, job_ids: Iterable[UUID]) -> dict[UUID, list[Document]]:
        """The documents of each job (a large result is one), oldest first."""
        return self._runtime.documents.for_jobs(list(job_ids))

    def get_document(self, document_id: UUID | str) -> Document:
        """A document by id; raises NotFound."""
        document = self._runtime.documents.get(
            document_id if isinstance(document_id, UUID) else _document_uuid(document_id)
        )
        if document is None:
            raise NotFound(f"no document with id {document_id}")
        return document

    def document_content(self, document: Document) -> bytes:
        """A document's bytes (from the database or the documents folder)."""
        return self._runtime.documents.content(document.id, self._runtime.settings.documents_dir)

    @staticmethod
    def output_refusal(caller: Principal, job: Job) -> str | None:
        """Why ``caller`` may not read ``job``'s result and documents, or None when it may.

        The job's access scope decides, as for the HTTP API: Public, anyone; Organization,
        keys of the job's organization; Private, only its submitter. Seeing a job (an admin
        sees every organization's in the dashboard) is not reading its output.
        """
        if job.access_scope is AccessScope.PUBLIC:
            return None
        if caller.organization != job.organization:
            return f"its output is readable in organization {job.organization!r} only"
        if job.access_scope is AccessScope.PRIVATE and caller.identity != job.identity:
            return "its output is private to the job's submitter"
        return None

    def publish_token(self, document: Document) -> str:
        """The signed token of a document's publish link."""
        return self._signer().token(document)

    def publish_token_valid(self, token: str, document: Document) -> bool:
        """Whether a publish link's token is genuine, for this document, and unexpired."""
        return self._signer().valid(token, document, self._runtime.clock())

    def _signer(self) -> LinkSigner:
        if self._link_signer is None:
            self._link_signer = LinkSigner(self._runtime.documents.signing_secret())
        return self._link_signer

    # -- API keys ---------------------------------------------------------------------

    def create_api_key(
        self,
        *,
        identity: str,
        organization: str,
        role: Role | str,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> IssuedKey:
        """Issue a key for the HTTP API; its token is in the result and nowhere else.

        Recorded in the audit trail (identity, organization and role; never the secret)
        as done by ``actor`` (default: the local user), with ``reason``.
        """
        who, why = acting(actor, reason)
        try:
            parsed = Role(role)
        except ValueError:
            raise InvalidInput(f"role must be viewer, operator or admin, not {role!r}") from None
        for label, text in (("identity", identity), ("organization", organization)):
            if not text.strip() or len(text) > MAX_TEXT or unstorable_text(text, label):
                raise InvalidInput(f"{label} must be 1 to {MAX_TEXT} characters of text")
        issued = issue(identity, organization, parsed, self._runtime.clock())
        self._runtime.api_keys.add(issued)
        self._record(AuditAction.KEY_CREATE, issued.key, who, why)
        return issued

    def revoke_api_key(
        self, key_id: str, *, actor: Actor | str | None = None, reason: str | None = None
    ) -> None:
        """Revoke a key at once; raises NotFound. Recorded in the audit trail as done by
        ``actor`` (default: the local user), with ``reason``."""
        who, why = acting(actor, reason)
        found = self._runtime.api_keys.find(key_id) if _storable(key_id) else None
        if found is None or not self._runtime.api_keys.revoke(key_id, self._runtime.clock()):
            raise NotFound(f"no API key with id {key_id!r}")
        self._record(AuditAction.KEY_REVOKE, found[0], who, why)

    def api_keys(self) -> list[ApiKey]:
        return self._runtime.api_keys.all()

    def _record(self, action: AuditAction, key: ApiKey, actor: Actor, reason: str | None) -> None:
        details: dict[str, JSONValue] = {
            "identity": key.identity,
            "organization": key.organization,
            "role": key.role.value,
        }
        record_action(self._runtime, action, f"key {key.id}", actor, details=details, reason=reason)

    def signed_in(self, key_id: str) -> Principal:
        """The caller a dashboard session names by its key id; NotAuthenticated once the
        key is revoked, so revoking a key ends its sessions at their next request."""
        found = self._runtime.api_keys.find(key_id) if _storable(key_id) else None
        if found is None or found[0].revoked_at is not None:
            raise NotAuthenticated("the session's API key is no longer valid; sign in again")
        return found[0].principal

    def session_secret(self) -> str:
        """A secret every process of this database shares, for signing sessions."""
        return self._runtime.documents.signing_secret()

    def authenticate(self, token: str) -> Principal:
        """The caller a bearer token names; NotAuthenticated when it is not a live key."""
        parts = split_token(token)
        found = None if parts is None else self._runtime.api_keys.find(parts[0])
        if parts is None or found is None:
            raise NotAuthenticated("the API key is not valid")
        key, secret_hash = found
        if key.revoked_at is not None or not secret_matches(parts[1], secret_hash):
            raise NotAuthenticated("the API key is not valid")
        return key.principal


def _storable(key_id: str) -> bool:
    """Whether a key id can be looked up at all (a NUL cannot be sent to the database)."""
    return len(key_id) <= 40 and unstorable_text(key_id, "key id") is None


def _document_uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"no document with id {text}") from None
