"""The lifecycle write interface: every change of a job's status goes through it.

Implementations: ``SqlWrites`` (SQLAlchemy Core, any database; the embedded SQLite),
``PostgresWrites`` (the hot path on PostgreSQL) and ``MemoryWrites`` (the in-memory twin,
for unit tests of the machinery). ``tests/integration/test_transition_sql.py`` checks each
against the pure rule of ``jobhub.lifecycle``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from jobhub.lifecycle import Applied, NewJob, NewMessage, Progress, Transition


class Writes(Protocol):
    """The lifecycle write path of one process."""

    def create(self, job: NewJob) -> bool:
        """Insert the job as Created with its event; False if its (organization, client
        request id) exists already. Raises KeyConflict when an active job of the type
        holds its key."""
        ...

    def write(
        self,
        transitions: Sequence[Transition] = (),
        progress: Sequence[Progress] = (),
        messages: Sequence[NewMessage] = (),
    ) -> list[Applied | None]:
        """Write all of it in one transaction, in order: messages, progress, transitions.

        Returns, for each transition, what it moved, or None where the forward-only rule
        refused it.
        """
        ...

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        """Whether someone asked this job to stop."""
        ...

    def close(self) -> None: ...
