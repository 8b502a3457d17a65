"""jobhub's HTTP API (FastAPI): one module per resource under ``routes``."""

from jobhub.api.app import create_app

__all__ = ["create_app"]
