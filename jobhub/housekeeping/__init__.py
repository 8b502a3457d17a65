"""Keeping the job history sound: lost workers' jobs recovered (reaper), stranded and
vanished messages published (outbox), expired jobs deleted (retention)."""

from jobhub.housekeeping.chores import Housekeeping
from jobhub.housekeeping.outbox import OutboxReport
from jobhub.housekeeping.reaper import ReapReport, Recovered

__all__ = ["Housekeeping", "OutboxReport", "ReapReport", "Recovered"]
