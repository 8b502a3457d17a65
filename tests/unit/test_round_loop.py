"""``RoundLoop``: rounds every interval, at once when a round says there is more, and a
database that is away logged once per outage, not once per round."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from jobhub.errors import StorageUnavailable
from jobhub.housekeeping.rounds import RoundLoop


class _Script(RoundLoop):
    name = "test-rounds"
    failure = "nothing done"

    def __init__(self, outcomes: list[str], interval: float) -> None:
        super().__init__(interval)
        self.outcomes = outcomes
        self.rounds: list[float] = []
        self.done = threading.Event()

    def run_round(self) -> bool:
        self.rounds.append(time.monotonic())
        outcome = self.outcomes.pop(0) if self.outcomes else "idle"
        if not self.outcomes:
            self.done.set()
        if outcome == "fail":
            raise StorageUnavailable("the database is away")
        return outcome == "more"


def _run(loop: _Script) -> None:
    loop.start()
    try:
        assert loop.done.wait(10)
    finally:
        loop.stop()


def test_a_round_with_more_to_do_is_followed_at_once() -> None:
    loop = _Script(["more", "more", "more", "idle"], interval=5.0)
    _run(loop)
    assert len(loop.rounds) == 4
    assert loop.rounds[-1] - loop.rounds[0] < 1.0  # no 5-second wait between them


def test_an_outage_is_logged_once_and_again_after_a_round_worked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="jobhub.housekeeping.rounds")
    loop = _Script(["fail", "fail", "fail", "idle", "fail", "idle"], interval=0.01)
    _run(loop)
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "nothing done this round: the database is away",
        "nothing done this round: the database is away",
    ]


def test_stop_ends_the_wait_between_rounds() -> None:
    loop = _Script(["idle", "idle"], interval=60.0)
    loop.start()
    time.sleep(0.2)
    began = time.monotonic()
    loop.stop()
    assert time.monotonic() - began < 2
    assert len(loop.rounds) == 1
