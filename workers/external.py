"""Jobs run elsewhere: jobhub records and tracks them; an outside runner does the work.

A runner (here, whatever talks to the devices) claims a job, reports on it and finishes
it through ``JobManager.runners``, the HTTP API (``POST /jobs/{id}/claim``, ``/report``,
``/finish``) or the CLI (``jobhub runner ...``); see README.md, "Jobs run elsewhere".
"""

from __future__ import annotations

from jobhub import Param, RetryPolicy, declare_elsewhere

device_sync = declare_elsewhere(
    "external.device_sync",
    description="Synchronises one device with its site; run by the device's own agent",
    category="External",
    subcategory="Devices",
    params=[
        Param("device", str, description="the device's id"),
        Param("full", bool, default=False, description="a full sync instead of the changes"),
    ],
    # after an error, or a runner silent for a minute, a second attempt waits for a
    # runner at once (a job run elsewhere has no backoff: its runner decides when)
    retry=RetryPolicy(attempts=2),
    runner_timeout=60,
)
