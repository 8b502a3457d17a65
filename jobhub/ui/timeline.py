"""A job's history as the job page shows it: its transitions grouped by attempt.

Each attempt keeps its own error and traceback: the event that ended it holds them (a
failed attempt that was retried, a lost worker, the final failure), so an earlier
attempt's error stays readable after the job was retried or rerun.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jobhub.jobs import JobError, JobEvent, JobMessage

MAX_MESSAGES = 200
"""User messages a page shows (the newest); the API and CLI give them all."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a job: its transitions in order, and the error that ended it."""

    number: int
    events: tuple[JobEvent, ...]

    @property
    def error(self) -> JobError | None:
        return next((event.error for event in reversed(self.events) if event.error), None)

    @property
    def began(self) -> datetime:
        return self.events[0].at

    @property
    def workers(self) -> list[str]:
        return sorted({event.worker_id for event in self.events if event.worker_id})


def attempts(events: Iterable[JobEvent]) -> list[Attempt]:
    """The events grouped by attempt, the latest attempt first."""
    grouped: dict[int, list[JobEvent]] = {}
    for event in events:
        grouped.setdefault(event.attempt, []).append(event)
    return [Attempt(number, tuple(grouped[number])) for number in sorted(grouped, reverse=True)]


def recent_messages(messages: list[JobMessage]) -> tuple[list[JobMessage], int]:
    """The messages a page shows, newest last, and how many earlier ones it leaves out."""
    left_out = max(0, len(messages) - MAX_MESSAGES)
    return messages[left_out:], left_out
