"""The JSON form of limits and pauses: CLI ``--json``, HTTP (``/limits``, ``/pauses``),
and back (the remote manager)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from jobhub.gates import Pause, PauseKind, StoredLimit
from jobhub.limits import Limit, LimitKind


class LimitRecord(TypedDict):
    """One limit of a job type as JSON. ``limit`` is its text (``2``, ``10 per
    customer_id``, ``100/min``), or None when an operator lifted a limit the type
    declares; ``period_seconds`` is a rate limit's period."""

    job_type: str
    kind: Literal["concurrency", "rate"]
    per: str
    limit: str | None
    maximum: int | None
    period_seconds: float | None
    source: Literal["declared", "operator"]
    updated_at: str
    updated_by: str | None


class PauseRecord(TypedDict):
    """A paused queue, job type or schedule as JSON, with who paused it and why."""

    kind: Literal["queue", "type", "schedule"]
    target: str
    paused_at: str
    paused_by: str | None
    reason: str | None


def limit_record(stored: StoredLimit) -> LimitRecord:
    limit = stored.limit
    return {
        "job_type": stored.job_type,
        "kind": "rate" if stored.kind is LimitKind.RATE else "concurrency",
        "per": stored.per,
        "limit": None if limit is None else limit.text(),
        "maximum": None if limit is None else limit.maximum,
        "period_seconds": None
        if limit is None or limit.period is None
        else limit.period.total_seconds(),
        "source": "declared" if stored.source == "declared" else "operator",
        "updated_at": stored.updated_at.isoformat(),
        "updated_by": stored.updated_by,
    }


def limit_from_record(record: Mapping[str, Any]) -> StoredLimit:
    """The stored limit a ``limit_record`` describes."""
    kind = LimitKind(record["kind"])
    limit: Limit | None = None
    if record["maximum"] is not None:
        period = record["period_seconds"]
        limit = Limit(
            kind,
            record["maximum"],
            record["per"],
            None if period is None else timedelta(seconds=period),
        )
    return StoredLimit(
        job_type=record["job_type"],
        kind=kind,
        per=record["per"],
        limit=limit,
        source=record["source"],
        updated_at=datetime.fromisoformat(record["updated_at"]),
        updated_by=record["updated_by"],
    )


def pause_record(pause: Pause) -> PauseRecord:
    kinds: dict[PauseKind, Literal["queue", "type", "schedule"]] = {
        PauseKind.QUEUE: "queue",
        PauseKind.TYPE: "type",
        PauseKind.SCHEDULE: "schedule",
    }
    return {
        "kind": kinds[pause.kind],
        "target": pause.target,
        "paused_at": pause.paused_at.isoformat(),
        "paused_by": pause.paused_by,
        "reason": pause.reason,
    }


def pause_from_record(record: Mapping[str, Any]) -> Pause:
    """The pause a ``pause_record`` describes."""
    return Pause(
        kind=PauseKind(record["kind"]),
        target=record["target"],
        paused_at=datetime.fromisoformat(record["paused_at"]),
        paused_by=record["paused_by"],
        reason=record["reason"],
    )
