"""What a held job's status text says: the pause first, else its type's first limit."""

from __future__ import annotations

from datetime import UTC, datetime

from jobhub.gates import GateSnapshot, Pause, PauseKind, resumed_text
from jobhub.limits import Limit

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_nothing_gates_a_type_without_pauses_or_limits() -> None:
    assert GateSnapshot().why_held("reports.build", "jobhub", "acme", {}) is None


def test_a_paused_queue_or_type_holds_its_jobs_and_says_who_paused_it() -> None:
    pauses = [
        Pause(kind=PauseKind.QUEUE, target="reports", paused_at=AT, paused_by="local:ann"),
        Pause(kind=PauseKind.TYPE, target="mail.send", paused_at=AT, reason="smtp down"),
    ]
    snapshot = GateSnapshot(pauses)

    assert (
        snapshot.why_held("reports.build", "reports", "", {})
        == "Paused: queue reports, by local:ann"
    )
    assert snapshot.why_held("mail.send", "jobhub", "", {}) == "Paused: type mail.send (smtp down)"
    assert snapshot.why_held("reports.build", "jobhub", "", {}) is None


def test_a_pause_says_more_than_a_limit() -> None:
    snapshot = GateSnapshot(
        [Pause(kind=PauseKind.TYPE, target="reports.build", paused_at=AT)],
        {"reports.build": [Limit.concurrency(2)]},
    )
    assert snapshot.why_held("reports.build", "jobhub", "", {}) == "Paused: type reports.build"


def test_a_limit_names_itself_and_the_key_value_it_counts() -> None:
    snapshot = GateSnapshot(
        limits={
            "reports.build": [Limit.parse("1 per customer_id"), Limit.parse("2")],
            "mail.send": [Limit.parse("3 per organization")],
        }
    )
    assert snapshot.why_held("reports.build", "jobhub", "acme", {"customer_id": 42}) == (
        "Waiting for a slot: at most 1 reports.build at once per customer_id (customer_id 42)"
    )
    assert snapshot.why_held("mail.send", "jobhub", "acme", {}) == (
        "Waiting for a slot: at most 3 mail.send at once per organization (organization acme)"
    )


def test_a_resumed_job_says_it_waits_to_be_released() -> None:
    assert (
        resumed_text(PauseKind.QUEUE, "reports", "local:ann")
        == "Waiting to be released: queue reports resumed by local:ann"
    )
