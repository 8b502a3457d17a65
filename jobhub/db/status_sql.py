"""Conditions on a job's status, written so that the indexes of ``jobs`` serve them.

No index names ``status`` (so Queued and Processing are heap-only updates, migration
0010): active rows are found through ``final_status IS NULL`` (the active rows' partial
index), ended ones through ``final_status``. Each condition here still tests ``status``
itself, so it means exactly what it says whichever index the plan takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_
from sqlalchemy.sql.elements import ColumnClause

from jobhub.jobs import JobStatus


def status_in(table: Table, statuses: Iterable[JobStatus | int]) -> ColumnElement[bool]:
    """``status IN statuses``, by way of the index that holds those rows."""
    codes = sorted({int(status) for status in statuses})
    active = [code for code in codes if code < JobStatus.COMPLETED]
    ended = [code for code in codes if code >= JobStatus.COMPLETED]
    final: ColumnClause[Any] = table.c.final_status
    status = table.c.status
    if not ended:
        return and_(final.is_(None), status.in_(active))
    if not active:
        return final.in_(ended)
    return or_(and_(final.is_(None), status.in_(active)), final.in_(ended))


def is_active(table: Table) -> ColumnElement[bool]:
    """Created, Queued or Processing."""
    return status_in(table, (JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING))
