"""Where and when a job runs: its queue, its priority and its due time, checked.

A job type names its queue and default priority; a start may choose others, and may ask
to start later. Each value is checked here, before anything is written, so every face
(Python, HTTP, CLI) refuses the same input with the same words.

Priorities run from 0 to 9, higher first. The brokers disagree on the direction (Redis
takes 0 as the most urgent, RabbitMQ 9), so ``broker_priority`` turns jobhub's into the
broker's; the embedded file broker keeps plain arrival order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from jobhub.errors import InvalidInput

MIN_PRIORITY = 0
MAX_PRIORITY = 9
DEFAULT_PRIORITY = 0

QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""Letters, digits, ``.``, ``_`` and ``-``; up to 100 characters. Broker-safe on Redis,
RabbitMQ and the file broker alike (no separators, spaces or wildcards)."""

PAST_TOLERANCE = timedelta(minutes=5)
"""A start time this far in the past is still taken (as "now"): clocks and clients lag."""
LONGEST_DELAY = timedelta(days=366)
"""Starting further ahead than this is a mistake, not a plan: use a schedule."""


def check_queue(name: str) -> str:
    """A queue name as given, or InvalidInput."""
    if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid queue name {name!r}: use up to 100 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return name


DEFAULT_QUEUE_ALIAS = "default"
"""The name that always means the configured queue (``JOBHUB_QUEUE``), whatever it is
called: ``jobhub worker --queues reports,default``, ``--queue default``."""


def resolve_queue(name: str, configured: str) -> str:
    """A queue name as given, checked; ``default`` means ``configured``."""
    check_queue(name)
    return configured if name == DEFAULT_QUEUE_ALIAS else name


def check_priority(value: int) -> int:
    """A priority as given, or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"priority must be a whole number, got {value!r}")
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise InvalidInput(
            f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}"
            f" (higher runs first), got {value}"
        )
    return value


def due_time(
    now: datetime, *, start_at: datetime | None = None, delay: timedelta | None = None
) -> datetime | None:
    """When a job started now with ``start_at`` or ``delay`` may start; None: at once."""
    if start_at is not None and delay is not None:
        raise InvalidInput("give a start time or a delay, not both")
    if delay is not None:
        if delay < timedelta(0):
            raise InvalidInput(f"a delay cannot be negative, got {delay.total_seconds():g} s")
        if delay > LONGEST_DELAY:
            raise InvalidInput(f"a delay cannot be longer than {LONGEST_DELAY.days} days")
        return now + delay if delay > timedelta(0) else None
    if start_at is None:
        return None
    if start_at.tzinfo is None:
        raise InvalidInput("a start time needs its time zone (e.g. 2026-12-01T09:00:00Z)")
    if start_at < now - PAST_TOLERANCE:
        raise InvalidInput(f"the start time {start_at.isoformat()} is in the past")
    if start_at > now + LONGEST_DELAY:
        raise InvalidInput(f"the start time is more than {LONGEST_DELAY.days} days ahead")
    return start_at if start_at > now else None


def starts_text(due_at: datetime) -> str:
    """The status text of a job waiting for its start time."""
    return f"starts at {due_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def broker_priority(priority: int, broker_url: str) -> int | None:
    """jobhub's priority as the broker's message priority; None where it has none."""
    if broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return MAX_PRIORITY - priority
    if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return priority
    return None


def unprioritised_queue(queue: str, error: object) -> str | None:
    """What to do when RabbitMQ refused ``error`` because ``queue`` exists without
    priorities; None for any other error.

    RabbitMQ orders a queue by priority only when it was declared with a maximum
    (``x-max-priority``), and refuses to declare an existing queue with other arguments
    (PRECONDITION_FAILED), so a queue an older jobhub or someone else made stays as it is.
    """
    text = str(error)
    if "PRECONDITION_FAILED" not in text or "x-max-priority" not in text:
        return None
    return (
        f"RabbitMQ queue {queue!r} exists without priorities, and jobhub declares its queues"
        f" with x-max-priority {MAX_PRIORITY}: stop its workers, let it drain, delete it"
        f" (rabbitmqctl delete_queue {queue}) and start them again"
    )
