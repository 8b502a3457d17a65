"""The dashboard's pages, one module per page or group of pages."""

from __future__ import annotations

from jobhub.ui.pages import (
    audit,
    dead_letters,
    job,
    jobs,
    overview,
    schedules,
    sign_in,
    types,
    workers,
    workflows,
)

PAGES = (
    sign_in,
    overview,
    jobs,
    job,
    workflows,
    types,
    schedules,
    workers,
    dead_letters,
    audit,
)
"""Every page module; each has a ``router``. ``jobs`` before ``job``: /ui/jobs/bulk is not a
job's id."""
