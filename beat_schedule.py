"""Static schedules that Celery beat always carries (data only).

Each entry is Celery's ``beat_schedule`` form; every fire becomes a jobhub job like any
other. ``schedule`` is in seconds.
"""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "purge expired jobs daily": {
        "task": "maintenance.purge_jobs",
        "schedule": 24 * 60 * 60.0,
        "kwargs": {"batch_size": 500},
    },
    "reap lost jobs": {
        "task": "maintenance.reap_lost_jobs",
        "schedule": 30.0,
    },
    "publish stranded jobs": {
        "task": "maintenance.reconcile_outbox",
        "schedule": 30.0,
    },
}

RECOVERY_ENTRIES = ("reap lost jobs", "publish stranded jobs")
"""The entries whose interval ``JOBHUB_MAINTENANCE_INTERVAL`` replaces."""
