"""The dashboard's pages, one module per page or group of pages."""

from __future__ import annotations

from jobhub.ui.pages import overview, schedules, sign_in, types

PAGES = (sign_in, overview, types, schedules)
"""Every page module; each has a ``router``."""
