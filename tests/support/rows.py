"""Job rows for tests that write below the manager (crash replay, stranded jobs)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from jobhub.lifecycle import NewJob


def echo_row(created_at: datetime, description: str = "test row") -> NewJob:
    """A ``diagnostics.echo`` job as its producer would insert it."""
    return NewJob(
        id=uuid.uuid4(),
        job_type="diagnostics.echo",
        category="Diagnostics",
        subcategory="Echo",
        description=description,
        parameters={"message": "hello"},
        identity=None,
        organization="",
        client_request_id=None,
        key=None,
        can_cancel=True,
        can_rerun=True,
        created_at=created_at,
        purge_at=created_at + timedelta(days=30),
        created_by=None,
    )
