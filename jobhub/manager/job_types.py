"""The master list of job types, as SanteDB's ``IJobManagerService`` keeps it: which
types exist, which are registered, how each starts, and each one's latest run."""

from __future__ import annotations

from jobhub.definitions import (
    JobDefinition,
    JobTypeState,
    all_definitions,
    find_definition,
    resolve,
)
from jobhub.jobs import StartType
from jobhub.manager.base import JobTypeRef, ManagerBase


class JobTypes(ManagerBase):
    """The job manager's job-type operations."""

    def available_job_types(self) -> list[JobDefinition]:
        """Every job type this process can start (``GetAvailableJobs``)."""
        return all_definitions()

    def job_type(self, job_type: JobTypeRef) -> JobDefinition:
        """The definition of a job type by name (or definition, or task); UnknownJobType."""
        return resolve(job_type)

    def register_job(self, job_type: JobTypeRef) -> JobTypeState:
        """Put a job type on the master list with its declared start type (``RegisterJob``)."""
        definition = resolve(job_type)
        self._runtime.types.register(
            definition.name, definition.start_type, self._runtime.clock(), overwrite=False
        )
        return self.get_job_instance(definition)

    def add_job(self, job_type: JobTypeRef, start_type: StartType) -> JobTypeState:
        """Register a job type with the given start type (``AddJob(job, startType)``)."""
        definition = resolve(job_type)
        self._runtime.types.register(
            definition.name, StartType(start_type), self._runtime.clock(), overwrite=True
        )
        return self.get_job_instance(definition)

    def is_job_registered(self, job_type: JobTypeRef) -> bool:
        """Whether the job type is on the master list (``IsJobRegistered``)."""
        name = job_type if isinstance(job_type, str) else resolve(job_type).name
        return self._runtime.types.get(name) is not None

    def registered_jobs(self) -> list[JobTypeState]:
        """The master list with each type's latest run (the ``Jobs`` property)."""
        records = {record.name: record for record in self._runtime.types.all()}
        definitions = [d for d in (find_definition(name) for name in records) if d is not None]
        latest = self._jobs.latest_by_type([d.name for d in definitions])
        return [
            JobTypeState(
                definition=d,
                start_type=records[d.name].start_type,
                registered=True,
                last_job=latest.get(d.name),
            )
            for d in definitions
        ]

    def get_job_instance(self, job_type: JobTypeRef) -> JobTypeState:
        """A job type with its start type and latest run (``GetJobInstance(Type)``)."""
        definition = resolve(job_type)
        record = self._runtime.types.get(definition.name)
        latest = self._jobs.latest_by_type([definition.name])
        return JobTypeState(
            definition=definition,
            start_type=record.start_type if record else definition.start_type,
            registered=record is not None,
            last_job=latest.get(definition.name),
        )
