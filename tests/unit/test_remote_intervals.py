"""What RemoteJobManager sends as a schedule's interval: duration text the API reads back to
the same value (no server: the HTTP transport is a stub)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from jobhub.durations import parse_duration
from jobhub.errors import InvalidDuration
from jobhub.remote import RemoteJobManager


def _sent_interval(interval: timedelta | str) -> object:
    bodies: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"value": []})

    transport = httpx.MockTransport(answer)
    with RemoteJobManager("http://jobhub.test", "jh_key", transport=transport) as remote:
        assert remote.set_job_schedule("diagnostics.echo", interval=interval) == []
    [body] = bodies
    return body["interval"]


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(days=14, seconds=25_567), "14d7h6m7s"),
        (timedelta(seconds=1.5), "1.5s"),
        ("15m", "15m"),
    ],
)
def test_an_interval_is_sent_as_duration_text(interval: timedelta | str, text: str) -> None:
    sent = _sent_interval(interval)
    assert sent == text
    assert isinstance(sent, str)
    if isinstance(interval, timedelta):
        assert parse_duration(sent) == interval


def test_a_negative_interval_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(InvalidDuration, match="cannot be negative"):
        _sent_interval(timedelta(seconds=-1))
