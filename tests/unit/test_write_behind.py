"""The write-behind buffer (``jobhub.db.write_behind``) on the in-memory twin."""

from __future__ import annotations

from collections.abc import Sequence

from jobhub.config import Settings
from jobhub.db.memory import MemoryStore
from jobhub.db.write_behind import WriteBehind
from jobhub.jobs import JobStatus
from jobhub.lifecycle import Applied, NewMessage, Progress, Transition
from jobhub.testing import MemoryRuntime
from tests.support.memory import T0, Clock, RecordingBroker, start


class CountingStore(MemoryStore):
    """A twin that counts its write calls (each is one transaction)."""

    def __init__(self) -> None:
        super().__init__(Clock())
        self.calls: list[tuple[int, int, int]] = []

    def write(
        self,
        transitions: Sequence[Transition] = (),
        progress: Sequence[Progress] = (),
        messages: Sequence[NewMessage] = (),
    ) -> list[Applied | None]:
        self.calls.append((len(transitions), len(progress), len(messages)))
        return super().write(transitions, progress, messages)


def _processing_job(store: MemoryStore) -> Transition:
    """A job claimed at attempt 1; returns its claim."""
    runtime = MemoryRuntime(Settings(), Clock(), store)
    job = start(RecordingBroker().dispatcher(runtime))
    runtime.settle()
    claim = Transition(job_id=job.id, attempt=1, status=JobStatus.PROCESSING, at=T0, worker_id="w")
    assert store.write(transitions=[claim])[0] is not None
    return claim


def test_grouped_writes_land_together_in_one_transaction() -> None:
    store = CountingStore()
    claim = _processing_job(store)
    buffer = WriteBehind(deferred=store, now=store, delay=0.05)
    store.calls.clear()

    for n in range(10):
        buffer.message(NewMessage(job_id=claim.job_id, attempt=1, at=T0, level="info", text=f"{n}"))
        buffer.progress(Progress(job_id=claim.job_id, attempt=1, at=T0, percent=n * 10))
    assert buffer.flush()

    assert store.calls == [(0, 1, 10)]  # progress superseded to the latest, messages in order
    assert [m.text for m in store.messages(claim.job_id)] == [str(n) for n in range(10)]
    assert store.get(claim.job_id).percent == 90
    buffer.close()


def test_a_terminal_write_takes_what_is_pending_along() -> None:
    store = CountingStore()
    claim = _processing_job(store)
    buffer = WriteBehind(deferred=store, now=store, delay=10.0)  # the thread would wait long
    store.calls.clear()
    buffer.message(NewMessage(job_id=claim.job_id, attempt=1, at=T0, level="info", text="last"))

    [done] = buffer.write_now(
        [Transition(job_id=claim.job_id, attempt=1, status=JobStatus.COMPLETED, at=T0)]
    )

    assert done is not None
    assert store.calls == [(1, 0, 1)]
    assert [m.text for m in store.messages(claim.job_id)] == ["last"]
    buffer.close()


def test_during_an_outage_claims_and_endings_are_kept_and_written_when_it_ends() -> None:
    store = CountingStore()
    claim = _processing_job(store)
    buffer = WriteBehind(deferred=store, now=store, delay=0.01)
    store.unavailable = True
    ending = Transition(job_id=claim.job_id, attempt=1, status=JobStatus.COMPLETED, at=T0)

    assert buffer.write_or_keep([ending]) is None  # not known yet: kept
    assert not buffer.flush(timeout=0.3)  # nothing can be written meanwhile

    store.unavailable = False
    assert buffer.flush(timeout=10)
    assert store.get(claim.job_id).status is JobStatus.COMPLETED
    buffer.close()


def test_a_full_buffer_drops_its_oldest_writes() -> None:
    store = CountingStore()
    claim = _processing_job(store)
    store.unavailable = True
    buffer = WriteBehind(deferred=store, now=store, delay=0.01, max_pending=3)

    for n in range(5):
        buffer.message(NewMessage(job_id=claim.job_id, attempt=1, at=T0, level="info", text=f"{n}"))
    store.unavailable = False
    assert buffer.flush(timeout=10)

    assert [m.text for m in store.messages(claim.job_id)] == ["2", "3", "4"]
    buffer.close()
