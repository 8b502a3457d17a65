"""The dashboard's pages, one module per page or group of pages."""

from __future__ import annotations

from jobhub.ui.pages import audit, dead_letters, overview, schedules, sign_in, types, workers

PAGES = (sign_in, overview, types, schedules, workers, dead_letters, audit)
"""Every page module; each has a ``router``."""
