"""Reading the job history: one job, lists by filters and by state, OData queries, pages,
events, user messages and results (SanteDB, ``api.job`` and 1C queries).

Lists leave housekeeping jobs (``Job.housekeeping``: purging, reaping, the outbox) out
unless asked, so jobhub's own upkeep does not bury the users' jobs. Reading one job by
id, a type's latest run and the statistics see every job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from jobhub import odata
from jobhub.errors import Conflict, InvalidInput, JobNotFound
from jobhub.formats.schema import job_json_schema
from jobhub.formats.vocab import QUERY_GROUPS, ApiJobState
from jobhub.jobs import Job, JobEvent, JobMessage, JobStatus, JSONValue
from jobhub.manager.base import ManagerBase, job_uuid
from jobhub.placement import resolve_queue
from jobhub.queries import (
    MAX_LIMIT,
    MAX_SKIP,
    Cursor,
    FilteredPage,
    JobOrder,
    JobQuery,
    Page,
    wants_housekeeping,
)


class JobReads(ManagerBase):
    """The job manager's queries."""

    def get_job(self, job_id: UUID | str) -> Job:
        """One job by id (``GetJobInstance(Guid)``); raises JobNotFound."""
        return self._jobs.get(job_uuid(job_id))

    def _queue(self, name: str | None) -> str | None:
        """A queue to list by; ``default`` is the configured one."""
        return None if name is None else resolve_queue(name, self.settings.queue)

    def find_job(self, job_id: UUID | str) -> Job | None:
        """One job by id, or None (``api.job`` findJob)."""
        try:
            return self.get_job(job_id)
        except JobNotFound:
            return None

    def find_jobs(
        self,
        *,
        status: JobStatus | Iterable[JobStatus] | None = None,
        job_type: str | None = None,
        organization: str | None = None,
        limit: int = 100,
        offset: int = 0,
        housekeeping: bool | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        """Jobs matching the filters, newest first.

        ``housekeeping``: True lists housekeeping jobs too, False leaves them out; None,
        the default, leaves them out unless ``job_type`` is given, since a type asked for
        by name is wanted whatever it is (``job_type="maintenance.reap_lost_jobs"`` lists
        the reaper's runs). ``queue``: only jobs placed on that broker queue.
        """
        query = _job_query(
            status,
            job_type,
            organization,
            housekeeping,
            limit,
            offset=offset,
            queue=self._queue(queue),
        )
        return self._jobs.find(query)

    def find_page(
        self,
        *,
        status: JobStatus | Iterable[JobStatus] | None = None,
        job_type: str | None = None,
        organization: str | None = None,
        limit: int = 100,
        housekeeping: bool | None = None,
        after: Cursor | str | None = None,
        queue: str | None = None,
        text: str | None = None,
        created_from: datetime | None = None,
        created_until: datetime | None = None,
        order: JobOrder | str = JobOrder.NEWEST,
    ) -> Page:
        """One page of ``find_jobs`` and the cursor of the next (None on the last page).

        Pass the cursor back as ``after`` (or its ``encode()``d text, as ``jobhub jobs
        --after`` does): the next page starts after the last job of this one, found by
        the (created_at, id) index, so page 1,000 costs what page 1 costs. ``text``: only
        jobs whose description, concurrency key or client request id contains it (any
        case); ``created_from`` (inclusive) and ``created_until`` (exclusive) bound when
        they were created; ``order``: newest (default) or oldest first.
        """
        cursor = Cursor.decode(after) if isinstance(after, str) else after
        query = _job_query(
            status,
            job_type,
            organization,
            housekeeping,
            limit,
            after=cursor,
            queue=self._queue(queue),
            text=text,
            created_from=created_from,
            created_until=created_until,
            order=_order(order),
        )
        return self.jobs_page(query)

    def jobs_page(self, query: JobQuery) -> Page:
        """One page of the jobs ``query`` selects, in its order, and the cursor of the
        next (None on the last page); ``find_page`` builds the query from arguments."""
        if query.queue is not None:
            query = replace(query, queue=self._queue(query.queue))
        found = self._jobs.find(query)
        more = len(found) == query.limit
        return Page(found, Cursor.after_job(found[-1]) if more and found else None)

    def count_jobs(self, query: JobQuery, *, up_to: int) -> int:
        """How many jobs ``query``'s filters select in all (its page ignored), counted no
        further than ``up_to``, so a count over millions of rows stays cheap."""
        if up_to < 1:
            raise InvalidInput("up_to must be at least 1")
        if query.queue is not None:
            query = replace(query, queue=self._queue(query.queue))
        return self._jobs.count(query, up_to=up_to)

    def query_jobs(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int = 100,
        skip: int = 0,
        organization: str | None = None,
        count: bool = False,
        fields: Mapping[str, odata.Field] = odata.FIELDS,
    ) -> tuple[list[Job], int | None]:
        """Jobs by an OData-style ``$filter`` and ``$orderby`` (``jobhub.odata``).

        Returns up to ``top`` jobs and, when ``count``, how many match in all. See
        ``query_page`` for the arguments.
        """
        page = self.query_page(
            filter=filter,
            orderby=orderby,
            top=top,
            skip=skip,
            organization=organization,
            count=count,
            fields=fields,
        )
        return page.jobs, page.total

    def query_page(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int = 100,
        skip: int = 0,
        organization: str | None = None,
        count: bool = False,
        fields: Mapping[str, odata.Field] = odata.FIELDS,
    ) -> FilteredPage:
        """One page of a ``$filter`` / ``$orderby`` query, saying whether more follow.

        ``organization`` confines the query to one tenant whatever the filter says;
        ``fields`` is the vocabulary (``odata.AIMS360_FIELDS`` for that view). A filter
        that does not mention ``housekeeping`` leaves housekeeping jobs out
        (``odata.implied_filter``). Raises InvalidFilter (with the position) or
        InvalidInput before touching the database.
        """
        node = odata.parse_filter(filter, fields) if filter and filter.strip() else None
        node = odata.implied_filter(node)
        keys = odata.parse_orderby(orderby, fields) if orderby and orderby.strip() else []
        if not 1 <= top <= MAX_LIMIT:
            raise InvalidInput(f"$top must be between 1 and {MAX_LIMIT}")
        if not 0 <= skip <= MAX_SKIP:
            raise InvalidInput(f"$skip must be between 0 and {MAX_SKIP}")
        return self._jobs.query(
            node, keys, top=top, skip=skip, organization=organization, count=count
        )

    def jobs_in_state(
        self, state: ApiJobState | str, *, limit: int = 100, housekeeping: bool | None = None
    ) -> list[Job]:
        """Jobs by ``api.job`` state: pending (not started), running, finished (ended).

        Housekeeping jobs only with ``housekeeping=True`` (see ``find_jobs``).
        """
        group = QUERY_GROUPS.get(ApiJobState(state))
        if group is None:
            raise InvalidInput(f"state must be pending, running or finished, not {state!r}")
        return self.find_jobs(status=group, limit=limit, housekeeping=housekeeping)

    def pending_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]:
        return self.jobs_in_state(ApiJobState.PENDING, limit=limit, housekeeping=housekeeping)

    def running_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]:
        return self.jobs_in_state(ApiJobState.RUNNING, limit=limit, housekeeping=housekeeping)

    def finished_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]:
        return self.jobs_in_state(ApiJobState.FINISHED, limit=limit, housekeeping=housekeeping)

    def job_results(self, job_id: UUID | str) -> JSONValue:
        """The result of a Completed job (``api.job`` getJobResults)."""
        job = self.get_job(job_id)
        if job.status is not JobStatus.COMPLETED:
            raise Conflict(f"job {job.id} has no result: it is {job.status.label}")
        return job.result

    def job_events(self, job_id: UUID | str) -> list[JobEvent]:
        """A job's history of transitions, oldest first."""
        self.get_job(job_id)
        return self._jobs.events(job_uuid(job_id))

    def user_messages(self, job_id: UUID | str, *, after: int = 0) -> list[JobMessage]:
        """Messages the job posted for its user, in order (1C ``GetUserMessages``)."""
        if not 0 <= after < 2**63:
            raise InvalidInput(f"after must be a message number, not {after}")
        self.get_job(job_id)
        return self._jobs.messages(job_uuid(job_id), after=after)

    def recent_events(self, after: int, *, limit: int = 500) -> list[tuple[int, str, JobEvent]]:
        """Every job's transitions recorded after event id ``after``: a live feed.

        Returns (event id, job type, event) in the order they were recorded.
        """
        return self._jobs.events_since(after, limit=limit)

    def last_event_id(self) -> int:
        """The id of the newest event, to start a live feed from now."""
        return self._jobs.last_event_id()

    @staticmethod
    def job_schema() -> dict[str, Any]:
        """The JSON Schema of a job record (``api.job`` getJobSchema)."""
        return job_json_schema()


def _job_query(
    status: JobStatus | Iterable[JobStatus] | None,
    job_type: str | None,
    organization: str | None,
    housekeeping: bool | None,
    limit: int,
    *,
    offset: int = 0,
    after: Cursor | None = None,
    queue: str | None = None,
    text: str | None = None,
    created_from: datetime | None = None,
    created_until: datetime | None = None,
    order: JobOrder = JobOrder.NEWEST,
) -> JobQuery:
    statuses = [status] if isinstance(status, JobStatus) else status
    for moment in (created_from, created_until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("a time to list jobs by needs a time zone")
    return JobQuery(
        statuses=None if statuses is None else frozenset(statuses),
        job_type=job_type,
        organization=organization,
        queue=queue,
        text=text,
        created_from=created_from,
        created_until=created_until,
        housekeeping=wants_housekeeping(housekeeping, job_type),
        order=order,
        after=after,
        limit=limit,
        offset=offset,
    )


def _order(order: JobOrder | str) -> JobOrder:
    try:
        return JobOrder(order)
    except ValueError:
        raise InvalidInput(f"order must be newest or oldest, not {order!r}") from None
