"""The body of ``POST /jobs`` (``jobhub.api.bodies.StartJob``): its start options, checked
before the manager sees them, in ``jobhub.placement``'s words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from jobhub.api.bodies import StartJob


def start(**fields: Any) -> StartJob:
    return StartJob.model_validate({"type": "diagnostics.echo", **fields})


def refusal(**fields: Any) -> tuple[str, str]:
    """The one (field, reason) a body with ``fields`` is refused for."""
    with pytest.raises(ValidationError) as caught:
        start(**fields)
    [error] = caught.value.errors()
    return ".".join(str(part) for part in error["loc"]), error["msg"]


def test_without_start_options_the_manager_decides() -> None:
    body = start()
    assert (body.start_at, body.delay, body.queue, body.priority, body.max_attempts) == (
        None,
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        (90, timedelta(seconds=90)),
        (0.25, timedelta(milliseconds=250)),
        (0, timedelta(0)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2", timedelta(seconds=2)),
        ("366d", timedelta(days=366)),
    ],
)
def test_a_delay_is_seconds_or_a_duration(delay: object, expected: timedelta) -> None:
    assert start(delay=delay).delay == expected


def test_start_options_are_read_by_their_camel_case_names() -> None:
    body = start(startAt="2030-01-01T09:00:00+01:00", queue="reports", priority=7, maxAttempts=3)
    assert body.start_at == datetime(2030, 1, 1, 8, tzinfo=UTC)
    assert (body.queue, body.priority, body.max_attempts) == ("reports", 7, 3)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"delay": -5}, "delay", "a delay cannot be negative"),
        ({"delay": "-5s"}, "delay", "a duration cannot be negative"),
        ({"delay": "367d"}, "delay", "a delay cannot be longer than 366 days"),
        ({"delay": 1e300}, "delay", "a delay cannot be longer than 366 days"),
        ({"delay": float("inf")}, "delay", "not a delay"),
        ({"delay": "soon"}, "delay", "not a duration"),
        ({"delay": True}, "delay", "expected seconds or a duration"),
        ({"queue": "my queue"}, "queue", "invalid queue name"),
        ({"queue": "reports*"}, "queue", "invalid queue name"),
        ({"queue": ""}, "queue", "invalid queue name"),
        ({"priority": 10}, "priority", "priority must be between 0 and 9"),
        ({"priority": -1}, "priority", "priority must be between 0 and 9"),
        ({"priority": True}, "priority", "valid integer"),
        ({"priority": "5"}, "priority", "valid integer"),
        ({"maxAttempts": 0}, "maxAttempts", "greater than or equal to 1"),
        ({"maxAttempts": 101}, "maxAttempts", "less than or equal to 100"),
        ({"startAt": "tomorrow"}, "startAt", "valid datetime"),
    ],
)
def test_a_bad_start_option_is_refused_naming_its_field(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    found_field, found_reason = refusal(**fields)
    assert found_field == field
    assert reason in found_reason


def test_a_start_time_and_a_delay_together_are_refused() -> None:
    assert refusal(startAt="2030-01-01T09:00:00Z", delay=60) == (
        "",
        "give a start time or a delay, not both",
    )
