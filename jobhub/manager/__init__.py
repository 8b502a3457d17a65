"""The Python face of jobhub: ``JobManager``, and beside it ``Access``, ``Admin`` and
``Runners``."""

from jobhub.manager.access import Access
from jobhub.manager.admin import Admin
from jobhub.manager.job_manager import JobManager
from jobhub.manager.runners import Runners

__all__ = ["Access", "Admin", "JobManager", "Runners"]
