"""The Python face of jobhub: ``JobManager``, and beside it ``Access`` and ``Admin``."""

from jobhub.manager.access import Access
from jobhub.manager.admin import Admin
from jobhub.manager.job_manager import JobManager

__all__ = ["Access", "Admin", "JobManager"]
