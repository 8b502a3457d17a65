"""The audit trail's pure parts: who an action is recorded as, the checks of a reason, a
limit and the start of a period, the JSON form of an entry and the CLI's table."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta

import click
import pytest

from jobhub.audit import (
    MAX_ENTRIES,
    MAX_IDENTITY,
    MAX_REASON,
    Actor,
    AuditAction,
    AuditEntry,
    _user,
    acting,
    check_filter,
    check_limit,
    check_reason,
    since_moment,
    since_text,
)
from jobhub.cli import render
from jobhub.config import Settings
from jobhub.dispatch import JobHubCelery
from jobhub.errors import InvalidInput
from jobhub.formats.audit_records import audit_from_record, audit_record
from jobhub.manager import JobManager
from tests.support.memory import T0, Clock, memory_runtime

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# -- who ------------------------------------------------------------------------------


def test_no_actor_is_the_local_user() -> None:
    who, _ = acting(None, None)
    assert who == Actor(identity=f"local:{getpass.getuser()}")
    assert who.key_id is None
    assert who.organization == ""


def test_a_local_user_without_a_passwd_entry_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user() -> str:
        raise KeyError("getpwuid(): uid not found: 4242")

    monkeypatch.setattr(getpass, "getuser", no_user)
    _user.cache_clear()  # looked up once per process
    try:
        assert Actor.local() == Actor(identity="local:unknown")
    finally:
        _user.cache_clear()


def test_an_identity_string_is_an_actor_without_a_key() -> None:
    assert acting("ops", None)[0] == Actor(identity="ops")


def test_an_actor_passes_through_with_its_key_and_organization() -> None:
    actor = Actor(identity="alice", key_id="3f9c2a7d41b0e865", organization="acme")
    assert acting(actor, None)[0] is actor


@pytest.mark.parametrize("identity", ["", "   ", "x" * (MAX_IDENTITY + 1), "nul\x00", "\udcff"])
def test_an_unusable_identity_is_refused(identity: str) -> None:
    with pytest.raises(InvalidInput, match="actor must be"):
        acting(identity, None)


# -- why ------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "kept"), [(None, None), ("", None), ("  \n", None)])
def test_no_reason_or_a_blank_one_is_none(given: str | None, kept: str | None) -> None:
    assert check_reason(given) == kept


def test_a_reason_is_kept_without_surrounding_blanks() -> None:
    assert check_reason("  wrong month \n") == "wrong month"
    assert check_reason("x" * MAX_REASON) == "x" * MAX_REASON


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("x" * (MAX_REASON + 1), f"longer than {MAX_REASON}"),
        ("nul\x00byte", "not storable text"),
        ("bad \udcff utf-8", "not storable text"),
    ],
)
def test_an_unusable_reason_is_refused(reason: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        acting(None, reason)


# -- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 50, MAX_ENTRIES])
def test_limits_within_range_are_kept(limit: int) -> None:
    assert check_limit(limit) == limit


@pytest.mark.parametrize("limit", [0, -1, MAX_ENTRIES + 1])
def test_limits_out_of_range_are_refused(limit: int) -> None:
    with pytest.raises(InvalidInput, match=f"limit must be 1 to {MAX_ENTRIES}"):
        check_limit(limit)


def test_a_filter_that_could_match_nothing_storable_is_refused() -> None:
    assert check_filter("actor", None) is None
    assert check_filter("actor", "local:ops") == "local:ops"
    with pytest.raises(InvalidInput, match="actor"):
        check_filter("actor", "a\x00b")
    with pytest.raises(InvalidInput, match="organization"):
        check_filter("organization", "o" * (MAX_IDENTITY + 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", NOW - timedelta(hours=1)),
        ("7d", NOW - timedelta(days=7)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("90", NOW - timedelta(seconds=90)),
        (" 15M ", NOW - timedelta(minutes=15)),
        ("2026-11-30T09:00:00Z", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("2026-11-30T10:00:00+01:00", datetime(2026, 11, 30, 9, tzinfo=UTC)),
    ],
)
def test_since_reads_a_duration_back_from_now_or_an_instant(text: str, expected: datetime) -> None:
    assert since_moment(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "give a duration back from now"),
        ("1x", "not a duration (1h, 7d) nor an ISO 8601 time"),
        ("-1h", "not a duration"),
        ("yesterday", "not a duration"),
        ("2026-13-01T00:00:00Z", "not a duration"),
        ("2026-11-30T09:00:00", "give the time's zone"),
        ("999999999d", "reaches before year 1"),
    ],
)
def test_a_malformed_since_says_what_is_wrong_on_one_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        since_moment(text, NOW)
    assert raised.value.message.startswith("since: ")
    assert message in raised.value.message
    assert "\n" not in raised.value.message


def test_a_long_malformed_since_is_quoted_short() -> None:
    with pytest.raises(InvalidInput) as raised:
        since_moment("z" * 5000, NOW)
    assert len(raised.value.message) < 200


@pytest.mark.parametrize(
    "since", [timedelta(hours=1), timedelta(days=2, minutes=5), NOW - timedelta(hours=3)]
)
def test_since_travels_as_text_and_reads_back(since: datetime | timedelta) -> None:
    expected = NOW - since if isinstance(since, timedelta) else since
    assert since_moment(since_text(since), NOW) == expected


# -- JSON and the table -----------------------------------------------------------------


def _entry(**changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "id": 7,
        "at": NOW,
        "actor": Actor(identity="alice", key_id="3f9c2a7d41b0e865", organization="acme"),
        "action": AuditAction.CANCEL,
        "target": "job 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55",
        "details": {"job_type": "diagnostics.sleep", "outcome": "cancelled"},
        "reason": "wrong month",
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


def test_an_entry_becomes_json_and_back() -> None:
    entry = _entry()
    record = audit_record(entry)
    assert record == {
        "id": 7,
        "at": "2026-12-01T12:00:00+00:00",
        "actor": "alice",
        "key_id": "3f9c2a7d41b0e865",
        "organization": "acme",
        "action": "cancel",
        "target": "job 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55",
        "details": {"job_type": "diagnostics.sleep", "outcome": "cancelled"},
        "reason": "wrong month",
    }
    assert audit_from_record(json.loads(json.dumps(record))) == entry


def test_every_action_reads_back_from_its_json_name() -> None:
    for action in AuditAction:
        entry = _entry(action=action, reason=None, details={})
        assert audit_from_record(audit_record(entry)).action is action


def test_the_table_shows_who_what_details_and_reason_one_line_each() -> None:
    schedule = {"when": "every 15m", "rule": {"kind": "interval", "every": 900}}
    entries = [
        _entry(),
        _entry(
            actor=Actor(identity="local:ops"),
            action=AuditAction.SCHEDULE_SET,
            target="type diagnostics.echo",
            details={"schedules": [schedule, {**schedule, "when": "mon at 02:00 UTC"}]},
            reason="two\nlines",
        ),
        _entry(action=AuditAction.SCHEDULE_CLEAR, details={"schedules": []}, reason=None),
    ]
    lines = click.unstyle(render.audit_table(entries)).splitlines()
    assert lines[0].split() == [
        "AT",
        "ORGANIZATION",
        "ACTOR",
        "KEY",
        "ACTION",
        "TARGET",
        "DETAILS",
    ]
    assert len(lines) == 4
    first = lines[1]
    for shown in ("acme", "alice", "3f9c2a7d41b0e865", "cancel", "job 0b7f3c1e"):
        assert shown in first
    assert first.endswith("job_type=diagnostics.sleep outcome=cancelled  reason: wrong month")
    assert " - " in lines[2]  # no organization, no key
    assert "schedules=every 15m; mon at 02:00 UTC  reason: two lines" in lines[2]
    assert lines[3].endswith("schedules=none")


def test_nested_details_are_compact_json() -> None:
    assert render.details_text({"limit": {"per": "customer_id", "n": 10}, "n": 3}) == (
        'limit={"per":"customer_id","n":10} n=3'
    )


# -- the in-memory twin ------------------------------------------------------------------


def test_a_manager_on_a_memory_runtime_records_its_actions_in_a_list() -> None:
    clock = Clock()
    runtime = memory_runtime(clock)
    manager = JobManager(JobHubCelery(Settings(), runtime=runtime))

    later = timedelta(hours=1)  # waits: nothing is published
    job = manager.start_job("diagnostics.echo", delay=later, reason="later")
    clock.advance(60)
    alice = Actor(identity="alice", organization="acme")
    manager.start_job("diagnostics.echo", delay=later, actor=alice)

    store = runtime.audit
    assert [(e.id, e.action, e.reason) for e in store.entries] == [
        (1, AuditAction.START, "later"),
        (2, AuditAction.START, None),
    ]
    assert store.entries[0].target == f"job {job.id}"
    assert store.entries[0].at == T0
    newest, oldest = manager.audit_entries()
    assert (newest.id, oldest.id) == (2, 1)
    assert [e.id for e in manager.audit_entries(organization="acme")] == [2]
    assert [e.id for e in manager.audit_entries(actor="alice")] == [2]
    assert [e.id for e in manager.audit_entries(since=timedelta(seconds=30))] == [2]
    assert [e.id for e in manager.audit_entries(limit=1)] == [2]
    assert store.purge(T0 + timedelta(seconds=1)) == 1
    assert [e.id for e in store.entries] == [2]
