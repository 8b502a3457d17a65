"""The dashboard's pages, one module per page or group of pages."""

from __future__ import annotations

from jobhub.ui.pages import job, jobs, overview, sign_in

PAGES = (sign_in, overview, jobs, job)
"""Every page module; each has a ``router``. ``jobs`` before ``job``: /ui/jobs/bulk is not a
job's id."""
