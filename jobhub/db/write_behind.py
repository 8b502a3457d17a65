"""Writes nobody waits for, grouped: one transaction at most every few milliseconds.

What goes here: the producer's Queued transitions, and a running job's progress and user
messages. What does not: Created (a worker must find the row), a worker's claim (it decides
whether the job runs), and terminal transitions (they must be committed before the broker
message is acknowledged); those are written at once, and a terminal write takes whatever
is pending along in the same transaction.

The flush delay (``delay``, 5 ms by default) is the price: a process that dies within
it loses what it had not written yet. For Queued the worker covers it (its claim records
Queued from the message's own publish time if it is missing); progress is superseded by
the terminal transition; a user message posted less than ``delay`` before its worker
process was killed can be lost. While the database is unreachable, pending writes are
kept and retried, up to ``max_pending`` (beyond that the oldest are dropped, with an
error in the log).

While the database is unreachable a worker keeps running jobs: ``write_or_keep`` puts its
claims and terminal transitions in the same buffer instead of failing, and for a second
after a failure does not even try, so no job waits for a connection timeout. This is the
one case where a transition is not committed when its message is acknowledged: a worker
process killed during a database outage loses what it buffered, and the reaper recovers
its jobs.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from jobhub.db.writes import Writes
from jobhub.errors import JobHubError, StorageUnavailable
from jobhub.lifecycle import Applied, NewMessage, Progress, Transition

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    transitions: list[Transition] = field(default_factory=list)
    progress: dict[tuple[UUID, int], Progress] = field(default_factory=dict)
    messages: list[NewMessage] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.transitions) + len(self.progress) + len(self.messages)


UNREACHABLE_PAUSE = 1.0
"""Seconds after a failed connection during which writes go straight to the buffer."""


class WriteBehind:
    """Groups one process's unawaited writes; ``flush`` writes them now."""

    def __init__(
        self,
        *,
        deferred: Writes,
        now: Writes,
        delay: float = 0.005,
        max_pending: int = 100_000,
    ) -> None:
        """``deferred`` writes the groups in the background; ``now`` serves ``write_now``
        (a separate connection, so the two never wait for each other)."""
        self._deferred = deferred
        self._now = now
        self._delay = delay
        self._max_pending = max_pending
        self._lock = threading.Condition()
        self._pending = _Pending()
        self._submitted = 0  # count of items ever submitted
        self._written = 0  # count of items written (or dropped)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._unreachable_until = 0.0  # time.monotonic() before which we do not try
        _live.add(self)

    # -- submitting ----------------------------------------------------------------------

    def transition(self, transition: Transition) -> None:
        with self._lock:
            self._pending.transitions.append(transition)
            self._added()

    def transitions(self, transitions: Sequence[Transition]) -> None:
        """Several at once: one turn of the lock for a batch."""
        if not transitions:
            return
        with self._lock:
            self._pending.transitions.extend(transitions)
            self._added(len(transitions))

    def progress(self, report: Progress) -> None:
        """Progress of a job: only the latest of each (job, attempt) is kept."""
        with self._lock:
            key = (report.job_id, report.attempt)
            previous = self._pending.progress.pop(key, None)
            if previous is not None:
                report = Progress(
                    job_id=report.job_id,
                    attempt=report.attempt,
                    at=report.at,
                    percent=report.percent if report.percent is not None else previous.percent,
                    status_text=report.status_text
                    if report.status_text is not None
                    else previous.status_text,
                )
                self._written += 1  # the older report is superseded, never written
            self._pending.progress[key] = report
            self._added()

    def message(self, message: NewMessage) -> None:
        with self._lock:
            self._pending.messages.append(message)
            self._added()

    def _added(self, count: int = 1) -> None:
        self._submitted += count
        if len(self._pending) > self._max_pending:
            self._drop_oldest()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="jobhub-write-behind", daemon=True
            )
            self._thread.start()
        self._lock.notify_all()

    # -- writing now ---------------------------------------------------------------------

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        with self._lock:
            target = self._submitted
            if self._written >= target:
                return True
            self._lock.notify_all()
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._written < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def write_now(self, transitions: list[Transition]) -> list[Applied | None]:
        """Write ``transitions`` synchronously, with everything pending, in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, _Pending()
            taken = len(pending)
        try:
            applied = self._now.write(
                transitions=[*pending.transitions, *transitions],
                progress=list(pending.progress.values()),
                messages=pending.messages,
            )
        except BaseException:
            with self._lock:
                self._restore(pending)
            raise
        with self._lock:
            self._written += taken
            self._lock.notify_all()
        return applied[len(pending.transitions) :]

    def write_or_keep(self, transitions: list[Transition]) -> list[Applied | None] | None:
        """``write_now``, or, while the database is unreachable, keep ``transitions`` for
        the background writer and return None (the outcome is not known yet)."""
        if time.monotonic() >= self._unreachable_until:
            try:
                return self.write_now(transitions)
            except StorageUnavailable as exc:
                logger.warning("database unreachable; buffering lifecycle writes: %s", exc)
                self._unreachable_until = time.monotonic() + UNREACHABLE_PAUSE
        for transition in transitions:
            self.transition(transition)
        return None

    def close(self, timeout: float = 10.0) -> None:
        """Flush and stop the thread."""
        self.flush(timeout)
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.05
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if self._closed and not self._pending:
                    self._thread = None
                    return
            time.sleep(self._delay)  # let more arrive: this is the grouping
            with self._lock:
                pending, self._pending = self._pending, _Pending()
                taken = len(pending)
            try:
                self._deferred.write(
                    transitions=pending.transitions,
                    progress=list(pending.progress.values()),
                    messages=pending.messages,
                )
            except JobHubError as exc:
                logger.warning("deferred writes failed, retrying in %.2fs: %s", backoff, exc)
                if isinstance(exc, StorageUnavailable):
                    self._unreachable_until = time.monotonic() + UNREACHABLE_PAUSE
                with self._lock:
                    self._restore(pending)
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            except Exception:
                logger.exception("deferred writes failed; %d dropped", taken)
            backoff = 0.05
            self._unreachable_until = 0.0
            with self._lock:
                self._written += taken
                self._lock.notify_all()

    def _restore(self, pending: _Pending) -> None:
        """Put failed writes back in front of newer ones."""
        newer = self._pending
        pending.transitions.extend(newer.transitions)
        for key, report in newer.progress.items():
            if key in pending.progress:
                self._written += 1
            pending.progress[key] = report
        pending.messages.extend(newer.messages)
        self._pending = pending
        if len(self._pending) > self._max_pending:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        excess = len(self._pending) - self._max_pending
        for bucket in (self._pending.messages, self._pending.transitions):
            cut = min(excess, len(bucket))
            del bucket[:cut]
            excess -= cut
            self._written += cut
        logger.error("write-behind buffer full: oldest deferred writes dropped")

    def _reset_after_fork(self) -> None:
        """In a forked child: the parent's pending writes, lock and thread are not ours."""
        self._lock = threading.Condition()
        self._pending = _Pending()
        self._submitted = self._written = 0
        self._thread = None


_live: weakref.WeakSet[WriteBehind] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for writer in list(_live):
        writer.flush(timeout=5.0)


def _reset_all_after_fork() -> None:
    for writer in list(_live):
        writer._reset_after_fork()


os.register_at_fork(after_in_child=_reset_all_after_fork)
