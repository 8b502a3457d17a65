"""The Jobs list's filter: read from a query string (or a form), written back into links.

One value serves the list, its "Next" link and the bulk actions, so a bulk action acts on
exactly the jobs the list showed. Tenancy is applied here too: a viewer's or operator's
filter is always their own organization's; an admin's is the one asked for, or all.
Times without a zone (what a ``datetime-local`` field sends) are UTC, as the pages show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

from jobhub.errors import InvalidInput
from jobhub.jobs import STORED_STATUSES, JobStatus
from jobhub.queries import Cursor, JobOrder, JobQuery, wants_housekeeping

PAGE_SIZE = 50
STATUSES = tuple(sorted(STORED_STATUSES))
"""The statuses a job can be found in, in lifecycle order (the filter's checkboxes)."""


class Params(Protocol):
    """A query string or a form: repeated names allowed (starlette's multi-dicts)."""

    def getlist(self, key: str) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFilter:
    """What the Jobs list is filtered by, as the caller asked."""

    statuses: tuple[JobStatus, ...] = ()
    job_type: str | None = None
    queue: str | None = None
    organization: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    housekeeping: bool = False
    sort: JobOrder = JobOrder.NEWEST

    @classmethod
    def read(cls, params: Params) -> JobFilter:
        """The filter a query string or form holds; InvalidInput saying what is wrong."""

        def texts(name: str) -> list[str]:
            found = params.getlist(name)
            return [value.strip() for value in found if isinstance(value, str) and value.strip()]

        def one(name: str) -> str | None:
            values = texts(name)
            return values[-1] if values else None

        statuses: list[JobStatus] = []
        for value in texts("status"):
            if value:
                try:
                    status = JobStatus.parse(value)
                except ValueError:
                    raise InvalidInput(f"status: unknown status {value!r}") from None
                if status not in STORED_STATUSES:
                    raise InvalidInput(f"status: no job is ever {status.label}")
                if status not in statuses:
                    statuses.append(status)
        sort = one("sort") or JobOrder.NEWEST.value
        try:
            order = JobOrder(sort)
        except ValueError:
            raise InvalidInput(f"sort: newest or oldest, not {sort!r}") from None
        found = cls(
            statuses=tuple(sorted(statuses)),
            job_type=one("type"),
            queue=one("queue"),
            organization=one("organization"),
            since=_moment("since", one("since")),
            until=_moment("until", one("until")),
            text=one("q"),
            housekeeping=one("housekeeping") in ("1", "true", "on"),
            sort=order,
        )
        found.query(organization=None)  # every check JobQuery makes, now
        return found

    def query(
        self,
        *,
        organization: str | None,
        statuses: Iterable[JobStatus] | None = None,
        limit: int = PAGE_SIZE,
        after: Cursor | None = None,
        can_cancel: bool | None = None,
        can_rerun: bool | None = None,
    ) -> JobQuery:
        """The query for this filter in ``organization`` (None: every organization);
        ``statuses`` narrows the filter's own statuses (a bulk action's)."""
        wanted: frozenset[JobStatus] | None = frozenset(self.statuses) or None
        if statuses is not None:
            wanted = frozenset(statuses) if wanted is None else wanted & frozenset(statuses)
        return JobQuery(
            statuses=wanted,
            job_type=self.job_type,
            organization=organization,
            queue=self.queue,
            created_from=self.since,
            created_until=self.until,
            text=self.text,
            housekeeping=wants_housekeeping(self.housekeeping or None, self.job_type),
            can_cancel=can_cancel,
            can_rerun=can_rerun,
            order=self.sort,
            after=after,
            limit=limit,
        )

    def params(self) -> list[tuple[str, str]]:
        """The query string's fields for this filter (for links and hidden form fields)."""
        fields: list[tuple[str, str]] = [("status", status.label) for status in self.statuses]
        for name, value in (
            ("type", self.job_type),
            ("queue", self.queue),
            ("organization", self.organization),
            ("since", _text(self.since)),
            ("until", _text(self.until)),
            ("q", self.text),
        ):
            if value:
                fields.append((name, value))
        if self.housekeeping:
            fields.append(("housekeeping", "1"))
        if self.sort is not JobOrder.NEWEST:
            fields.append(("sort", self.sort.value))
        return fields

    def link(self, path: str = "/ui/jobs", **extra: str) -> str:
        """``path`` with this filter (and ``extra`` fields) as its query string."""
        query = urlencode([*self.params(), *extra.items()])
        return f"{path}?{query}" if query else path

    def describe(self) -> str:
        """The filter in words, for confirmations ("Completed or Cancelled jobs of type x")."""
        parts = []
        if self.statuses:
            parts.append(" or ".join(status.label for status in self.statuses))
        parts.append("jobs")
        if self.job_type:
            parts.append(f"of type {self.job_type}")
        if self.queue:
            parts.append(f"on queue {self.queue}")
        if self.text:
            parts.append(f"mentioning “{self.text}”")
        if self.since:
            parts.append(f"created since {_text(self.since)} UTC")
        if self.until:
            parts.append(f"created before {_text(self.until)} UTC")
        if self.housekeeping:
            parts.append("(housekeeping included)")
        return " ".join(parts)


def _moment(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise InvalidInput(f"{name}: not a date and time: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(moment: datetime | None) -> str | None:
    """How a time stands in a ``datetime-local`` field (UTC, to the second)."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
