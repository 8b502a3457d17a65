"""The job types jobhub ships, one module per family.

Importing this package declares them all; workers and producers import it through
``JOBHUB_JOB_MODULES`` (default ``workers``). Add a family by adding a module here.
"""

from workers import diagnostics, external, maintenance, reports

__all__ = ["diagnostics", "external", "maintenance", "reports"]
