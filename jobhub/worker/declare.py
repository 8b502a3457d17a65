"""``@job``: declare a job type, as a Celery task whose definition jobhub registers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from celery import shared_task

from jobhub.definitions import JobDefinition, register_definition
from jobhub.errors import ConfigurationError, InvalidInput
from jobhub.jobs import JSONValue, StartType
from jobhub.limits import Limit, declared_limits
from jobhub.parameters import Param
from jobhub.placement import DEFAULT_PRIORITY
from jobhub.retries import NO_RETRY, RetryPolicy
from jobhub.worker.context import JobContext
from jobhub.worker.task import JobTask

P = ParamSpec("P")
R = TypeVar("R", bound=JSONValue)

TIME_LIMIT_GRACE = 30.0
"""Seconds between the soft limit (the job gets an exception it can clean up after) and
the hard one (its worker process is killed)."""


def job(
    name: str,
    *,
    description: str,
    category: str = "General",
    subcategory: str = "",
    params: Sequence[Param] = (),
    start_type: StartType = StartType.TIMER_ONLY,
    can_cancel: bool = True,
    can_rerun: bool = True,
    time_limit: float | None = None,
    retry: RetryPolicy = NO_RETRY,
    queue: str | None = None,
    priority: int = DEFAULT_PRIORITY,
    retention: timedelta | None = None,
    type_code: int = 0,
    housekeeping: bool = False,
    concurrency: int | None = None,
    limits: Sequence[str | Limit] = (),
) -> Callable[[Callable[Concatenate[JobContext, P], R]], JobTask]:
    """Declare a job type. The function receives a ``JobContext`` and the parameters.

    ``retry`` says how many attempts a run may take and the backoff between them
    (``jobhub.retries``); ``queue`` and ``priority`` where its jobs go by default
    (``jobhub.placement``). ``concurrency`` caps its jobs Processing at once on every
    host together, and ``limits`` adds others (``"10 per customer_id"``, ``"100/min"``;
    ``jobhub.limits``); operators may change them at run time. ``housekeeping=True``
    marks jobhub's own upkeep: listings leave such jobs out unless asked
    (``JobDefinition.housekeeping``).

    Example::

        @job("reports.daily", description="The daily report", params=[Param("day", str)])
        def daily(ctx: JobContext, *, day: str) -> dict[str, JSONValue]:
            ctx.progress(50, "half way")
            return {"day": day}
    """
    if not 0 <= type_code < 99:
        raise ConfigurationError(f"job type {name!r}: type_code must be between 0 and 98")

    def decorate(func: Callable[Concatenate[JobContext, P], R]) -> JobTask:
        definition = JobDefinition(
            name=name,
            description=description,
            category=category,
            subcategory=subcategory,
            params=tuple(params),
            start_type=start_type,
            can_cancel=can_cancel,
            can_rerun=can_rerun,
            time_limit=time_limit,
            retry=retry,
            queue=queue,
            priority=priority,
            retention=retention,
            type_code=type_code,
            housekeeping=housekeeping,
            limits=_declared_limits(name, concurrency, limits),
            func=func,
        )
        register_definition(definition)
        options: dict[str, Any] = {"name": name, "base": JobTask, "definition": definition}
        if time_limit is not None:
            options["soft_time_limit"] = time_limit
            options["time_limit"] = time_limit + TIME_LIMIT_GRACE
        return cast("JobTask", shared_task(**options)(func))

    return decorate


def _declared_limits(
    name: str, concurrency: int | None, limits: Sequence[str | Limit]
) -> tuple[Limit, ...]:
    try:
        return declared_limits(concurrency, limits)
    except InvalidInput as exc:
        raise ConfigurationError(f"job type {name!r}: {exc.message}") from None
