"""Workflows: steps (jobs) with dependencies between them, and their builders.

See ``jobhub.manager.workflows`` for starting, reading, cancelling and rerunning them,
and ``jobhub.housekeeping.advance`` for how a waiting step is decided.
"""

from jobhub.workflows.records import Workflow, WorkflowStep
from jobhub.workflows.spec import (
    Step,
    StepPolicy,
    WorkflowSpec,
    chain,
    fan_in,
    fan_out,
    from_document,
)

__all__ = [
    "Step",
    "StepPolicy",
    "Workflow",
    "WorkflowSpec",
    "WorkflowStep",
    "chain",
    "fan_in",
    "fan_out",
    "from_document",
]
