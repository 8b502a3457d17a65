"""Job types run elsewhere, with a runner timeout short enough for acceptance tests
(loaded with ``JOBHUB_JOB_MODULES``)."""

from __future__ import annotations

from jobhub import Param, RetryPolicy, declare_elsewhere

RUNNER_TIMEOUT = 1.0

declare_elsewhere(
    "tests.elsewhere",
    description="Run by a runner outside jobhub; lost after a second of silence",
    category="Tests",
    params=[Param("device", str, default="d-1", description="which device")],
    retry=RetryPolicy(attempts=2),
    runner_timeout=RUNNER_TIMEOUT,
)
