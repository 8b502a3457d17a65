"""What a caller may ask of the job history: filters, order, and pages (pure values).

Lists are ordered by (created_at, id), newest first unless asked oldest first: the order
every filter's index serves. Deep pages use a keyset cursor, the last row's (created_at,
id), so page 1,000 costs what page 1 costs; ``offset`` remains for small skips.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from jobhub.errors import InvalidInput
from jobhub.jobs import Job, JobStatus
from jobhub.parameters import unstorable_text
from jobhub.placement import check_queue

MAX_LIMIT = 1000
MAX_SKIP = 1_000_000
"""Beyond this, page with a cursor: an offset is read and thrown away row by row."""
MAX_TEXT = 200
"""Characters a text search may have."""


_TRIGRAM = re.compile(r"[^\W_]{3}")
"""Three letters or digits in a row: what a trigram index can look up (it reads words'
insides). A shorter text would read the whole index, or every job."""


class JobOrder(enum.StrEnum):
    """The orders a list comes in: those an index serves whatever the filter."""

    NEWEST = "newest"
    """Newest first (the default)."""
    OLDEST = "oldest"
    """Oldest first."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the (created_at, id) of its last job."""

    created_at: datetime
    id: UUID

    @classmethod
    def after_job(cls, job: Job) -> Cursor:
        return cls(job.created_at, job.id)

    def encode(self) -> str:
        """An opaque token for ``--after`` and ``nextLink``."""
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            moment, _, job_id = raw.partition("|")
            created_at = datetime.fromisoformat(moment)
            if created_at.tzinfo is None:
                raise ValueError("no time zone")
            return cls(created_at, UUID(job_id))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise InvalidInput(f"not a page cursor: {token!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQuery:
    """Filters (all must hold) and the page wanted."""

    statuses: frozenset[JobStatus] | None = None
    job_type: str | None = None
    organization: str | None = None
    queue: str | None = None
    """Only jobs placed on this broker queue."""
    created_from: datetime | None = None
    """Inclusive."""
    created_until: datetime | None = None
    """Exclusive."""
    text: str | None = None
    """Only jobs whose description, concurrency key or client request id contains this,
    ignoring case; it must hold three letters or digits in a row (PostgreSQL finds it by
    a trigram index)."""
    housekeeping: bool = False
    """Whether housekeeping jobs (``Job.housekeeping``) are listed too; left out by default."""
    can_cancel: bool | None = None
    """Only jobs whose type lets them be cancelled while running (True) or not (False)."""
    can_rerun: bool | None = None
    """Only jobs whose type lets them be rerun (True) or not (False)."""
    order: JobOrder = JobOrder.NEWEST
    after: Cursor | None = None
    """Continue after this job (keyset paging, in ``order``)."""
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        if self.offset < 0:
            raise InvalidInput("offset must not be negative")
        if self.queue is not None:
            check_queue(self.queue)
        if self.created_from and self.created_until and self.created_from >= self.created_until:
            raise InvalidInput("the period must end after it starts")
        if self.text is not None:
            if len(self.text) > MAX_TEXT:
                raise InvalidInput(f"a text search has at most {MAX_TEXT} characters")
            if unstorable_text(self.text, "text") is not None:
                raise InvalidInput("a text search cannot hold a NUL or an unpaired surrogate")
            if _TRIGRAM.search(self.text) is None:
                raise InvalidInput("a text search needs three letters or digits in a row")


def wants_housekeeping(housekeeping: bool | None, job_type: str | None) -> bool:
    """Whether a list includes housekeeping jobs: as asked, or when not asked (None),
    only when it names a job type (whose jobs are then wanted, housekeeping or not)."""
    return housekeeping if housekeeping is not None else job_type is not None


@dataclass(frozen=True, slots=True)
class FilteredPage:
    """One page of an OData-style query: its jobs, the total when counted, and whether
    more follow."""

    jobs: list[Job]
    total: int | None
    more: bool


@dataclass(frozen=True, slots=True)
class Page:
    """One page of jobs, and the cursor of the next page when there may be one."""

    jobs: list[Job]
    next: Cursor | None
