"""The timer heap keeps its live entries, in order, and loses the cancelled ones."""

from __future__ import annotations

from pathlib import Path

from kombu.asynchronous.timer import Timer

from jobhub.config import Settings
from jobhub.worker.app import create_celery_app
from jobhub.worker.timer_pruning import PruneCancelledTimers, prune_cancelled


def test_cancelled_entries_are_dropped_and_the_rest_still_fire_in_order() -> None:
    fired: list[int] = []
    timer = Timer()
    entries = [timer.call_at(1000.0 + n, fired.append, (n,)) for n in range(10)]
    for entry in entries[::2]:
        entry.cancel()

    assert prune_cancelled(timer) == 5
    assert prune_cancelled(timer) == 0
    assert len(timer.queue) == 5
    for item in timer.queue:  # earliest first
        item.entry()
    assert fired == [1, 3, 5, 7, 9]


def test_the_worker_runs_the_step(tmp_path: Path) -> None:
    app = create_celery_app(Settings(data_dir=tmp_path))
    assert PruneCancelledTimers in app.steps["worker"]
