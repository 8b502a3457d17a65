"""A job module for tests: shifts this worker's clock by ``JOBHUB_TEST_CLOCK_SKEW`` seconds.

Loaded through ``JOBHUB_JOB_MODULES`` next to ``workers``, it plays a host whose clock is
wrong, in the worker's main process and in every pool process.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from celery import current_app, signals

from jobhub.clock import utcnow

SKEW = timedelta(seconds=float(os.environ.get("JOBHUB_TEST_CLOCK_SKEW", "0")))


def skewed_now() -> datetime:
    return utcnow() + SKEW


def _skew(**_: Any) -> None:
    current_app.runtime.clock = skewed_now


signals.worker_init.connect(_skew, weak=False)
signals.worker_process_init.connect(_skew, weak=False)
