"""The one SQL condition that lets a worker claim an attempt past pauses and limits.

Shared by every claim statement (``pg_statements``, ``sql_writes``) so the rule cannot
drift between them. A claim (a Processing transition) applies only when its attempt was
released (``jobhub.db.held_jobs`` gave it a slot, in order, under the type's limits), or
when nothing gates the job: its type has no limit, and neither its type nor its queue is
paused. Any other transition passes. A claim refused here is turned into a held job by
the worker (``HeldJobs.hold``); it never runs early and never loops through the broker.
"""

from __future__ import annotations


def ungated(row: str) -> str:
    """True when no limit or pause applies to the job in ``row`` (a table alias)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM job_limits l WHERE l.job_type = {row}.job_type"
        " AND l.maximum IS NOT NULL)"
        f" AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.kind = 'type'"
        f" AND p.target = {row}.job_type)"
        f" AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.kind = 'queue'"
        f" AND p.target = {row}.queue)"
    )


def claim_passes_gates(row: str, transition: str) -> str:
    """The condition for ``transition`` (an alias with ``status`` and ``attempt``) on the
    job in ``row``."""
    return (
        f"({transition}.status <> 2"
        f" OR ({row}.released AND {row}.attempt = {transition}.attempt)"
        f" OR ({ungated(row)}))"
    )
