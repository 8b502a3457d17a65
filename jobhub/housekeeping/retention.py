"""Retention: ended jobs whose purge time has passed are deleted, batch by batch; audit
trail entries older than ``Settings.audit_retention`` too."""

from __future__ import annotations

from collections.abc import Callable

from jobhub.db.document_store import remove_files
from jobhub.errors import InvalidInput
from jobhub.runtime import Runtime


def purge_expired(
    runtime: Runtime, *, batch_size: int = 500, on_batch: Callable[[int], None] | None = None
) -> int:
    """Delete ended jobs whose purge time has passed, with their history, messages and
    documents, then the ended workflows none of whose steps is left; returns how many
    jobs.

    Each batch is its own short transaction, so a large purge never holds locks long.
    ``on_batch`` hears the running total after each batch.
    """
    if batch_size < 1:
        raise InvalidInput("batch_size must be at least 1")
    total = 0
    while True:
        deleted, files = runtime.jobs.purge_expired(runtime.clock(), batch_size)
        if not deleted:
            runtime.workflows.purge_emptied()
            return total
        total += deleted
        remove_files(runtime.settings.documents_dir, files)
        if on_batch is not None:
            on_batch(total)


def purge_audit_trail(runtime: Runtime) -> int:
    """Delete the audit trail entries older than ``audit_retention``; returns how many."""
    try:
        before = runtime.clock() - runtime.settings.audit_retention
    except OverflowError:  # kept longer than there was time: nothing is that old
        return 0
    return runtime.audit.purge(before)
