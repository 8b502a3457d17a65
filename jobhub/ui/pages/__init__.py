"""The dashboard's pages, one module per page or group of pages."""

from __future__ import annotations

from jobhub.ui.pages import overview, sign_in

PAGES = (sign_in, overview)
"""Every page module; each has a ``router``."""
