"""The audit trail's values: who acted, and what they did.

Every operator action (start, cancel, rerun, delete, start now, pause, resume, limit and
schedule changes, API key issue and revoke) is appended as an ``AuditEntry`` by the job
manager, in the process that performs it. The trail is only ever appended to; retention
removes entries by age (``Settings.audit_retention``).

What jobhub starts by itself (a schedule firing, a retry, the reaper and the outbox) is
no operator action and is not recorded.

Also here, pure and shared by every face: the checks of what callers pass (an actor, a
reason, a limit, the start of a period). The JSON form of an entry is
``jobhub.formats.audit_records``.
"""

from __future__ import annotations

import enum
import functools
import getpass
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobhub.durations import format_duration, parse_duration
from jobhub.errors import InvalidDuration, InvalidInput
from jobhub.jobs import JSONValue
from jobhub.parameters import unstorable_text

MAX_IDENTITY = 200
"""Characters an actor's identity may have (as an API key's identity)."""
MAX_REASON = 1000
"""Characters a reason may have."""
MAX_ENTRIES = 1000
"""Entries one read returns at most."""


class AuditAction(enum.StrEnum):
    """What an operator did."""

    START = "start"
    """Started a new job (an idempotent repeat of a start is not recorded)."""
    CANCEL = "cancel"
    """Cancelled a job, or asked a running one to stop."""
    RERUN = "rerun"
    """Queued an ended job again."""
    DELETE = "delete"
    """Deleted an ended job with its history."""
    START_NOW = "start-now"
    """Started at once a job that waited for its start time or its retry."""
    PAUSE = "pause"
    """Paused a queue, a job type or a schedule."""
    RESUME = "resume"
    """Resumed what was paused."""
    LIMIT_SET = "limit-set"
    """Set a concurrency or rate limit."""
    LIMIT_CLEAR = "limit-clear"
    """Removed a limit."""
    SCHEDULE_SET = "schedule-set"
    """Replaced a job type's runtime schedules."""
    SCHEDULE_CLEAR = "schedule-clear"
    """Removed a job type's runtime schedules."""
    KEY_CREATE = "key-create"
    """Issued an API key."""
    KEY_REVOKE = "key-revoke"
    """Revoked an API key."""
    WORKFLOW_START = "workflow-start"
    """Started a workflow (its steps' jobs are not recorded one by one)."""
    WORKFLOW_CANCEL = "workflow-cancel"
    """Cancelled a workflow's unended steps."""
    WORKFLOW_RERUN = "workflow-rerun"
    """Ran a workflow's failed steps again, re-arming the steps after them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who performs an action: an API key's identity (with the key's id and organization),
    or a local user of the CLI or the Python API (no key)."""

    identity: str
    key_id: str | None = None
    organization: str = ""

    @classmethod
    def local(cls) -> Actor:
        """The operating-system user running this process (the CLI, a Python script)."""
        return cls(identity=f"local:{_user()}")

    @classmethod
    def of(cls, actor: Actor | str | None) -> Actor:
        """An actor from what callers pass: an Actor, an identity, or None (local)."""
        if isinstance(actor, Actor):
            return actor
        return cls.local() if actor is None else cls(identity=actor)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One recorded action. ``target`` names what it acted on ("job <id>", "queue
    reports", "type reports.build", "key <id>"); ``details`` holds the parameters that
    matter (a limit's value, a schedule's rule)."""

    at: datetime
    actor: Actor
    action: AuditAction
    target: str
    details: dict[str, JSONValue] = field(default_factory=dict)
    reason: str | None = None
    id: int | None = None


@functools.cache
def _user() -> str:
    """This process's user, looked up once: every start without an actor asks."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a bare container)
        return "unknown"


# -- checking what callers pass, before anything is done ---------------------------------


def acting(actor: Actor | str | None, reason: str | None) -> tuple[Actor, str | None]:
    """The actor and reason an action is recorded with, checked before it is done:
    InvalidInput for an identity that is empty, longer than ``MAX_IDENTITY`` or not
    storable text, or a reason longer than ``MAX_REASON`` or not storable text. A blank
    reason is no reason."""
    who = Actor.of(actor)
    identity = who.identity
    if not identity.strip() or len(identity) > MAX_IDENTITY or unstorable_text(identity, "actor"):
        raise InvalidInput(f"actor must be 1 to {MAX_IDENTITY} characters of text")
    return who, check_reason(reason)


def check_reason(reason: str | None) -> str | None:
    """``reason`` as recorded: None when absent or blank; InvalidInput when it is too
    long or not storable text."""
    if reason is None or not reason.strip():
        return None
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is longer than {MAX_REASON} characters")
    if unstorable_text(reason, "reason") is not None:
        raise InvalidInput("reason is not storable text (a NUL character or invalid UTF-8)")
    return reason.strip()


def check_limit(limit: int) -> int:
    """How many entries a read may return: 1 to ``MAX_ENTRIES``, else InvalidInput."""
    if not 1 <= limit <= MAX_ENTRIES:
        raise InvalidInput(f"limit must be 1 to {MAX_ENTRIES}, not {limit}")
    return limit


def check_filter(label: str, text: str | None) -> str | None:
    """An identity or organization to filter by: InvalidInput when it is longer than
    ``MAX_IDENTITY`` or not storable text (it could match nothing)."""
    if text is not None and (len(text) > MAX_IDENTITY or unstorable_text(text, label)):
        raise InvalidInput(f"{label} must be at most {MAX_IDENTITY} characters of text")
    return text


def back_from(now: datetime, duration: timedelta) -> datetime:
    """The instant ``duration`` before ``now``; InvalidInput when that is before year 1."""
    try:
        return now - duration
    except OverflowError:
        raise InvalidInput(
            f"since: {format_duration(duration)} back reaches before year 1"
        ) from None


def since_moment(text: str, now: datetime) -> datetime:
    """The start of a period from text: a duration back from ``now`` (``90m``, ``1h``,
    ``7d``: the one duration grammar, ``jobhub.durations``) or an ISO 8601 instant with
    its zone (``2026-12-01T09:00:00Z``). InvalidInput says what is wrong otherwise."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("since: give a duration back from now (1h, 7d) or an ISO 8601 time")
    try:
        back = parse_duration(stripped)
    except InvalidDuration:
        back = None
    if back is not None:
        return back_from(now, back)
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        shown = stripped if len(stripped) <= 40 else stripped[:40] + "..."
        raise InvalidInput(
            f"since: not a duration (1h, 7d) nor an ISO 8601 time (2026-12-01T09:00:00Z): {shown!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"since: give the time's zone, e.g. {stripped}Z")
    return moment


def since_text(since: datetime | timedelta) -> str:
    """How a period's start travels as text (what ``since_moment`` reads back)."""
    if isinstance(since, timedelta):
        return format_duration(since)
    return since.isoformat()
