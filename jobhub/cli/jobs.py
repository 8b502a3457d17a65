"""Commands that start, inspect and act on jobs. Thin: the logic is the JobManager's."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, TextIO

import click
from pydantic import ValidationError

from jobhub.audit import Actor
from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import (
    DURATION,
    MOMENT,
    job_id_argument,
    json_option,
    reason_option,
    timeout_option,
)
from jobhub.errors import Conflict, InvalidInput
from jobhub.formats.schema import JobRecord, event_record, job_record, message_record
from jobhub.jobs import Job, JobStatus, StartState
from jobhub.manager import JobManager
from jobhub.parameters import parse_assignments

if TYPE_CHECKING:
    from jobhub.api.bodies import StartJob


@click.command()
@click.argument("name")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter of the job type; repeat for each.",
)
@click.option("--key", help="At most one active job of this type per key.")
@click.option(
    "--client-request-id", help="Your id for this request; a repeat returns the same job."
)
@click.option("--identity", help="Who submits the job.")
@click.option("--organization", default="", help="The organization (tenant) the job belongs to.")
@click.option(
    "--at",
    "start_at",
    type=MOMENT,
    metavar="ISO-TIME",
    help="Start no earlier than this, with its zone (e.g. 2026-12-01T09:00:00Z); "
    "at most 366 days ahead.",
)
@click.option(
    "--in",
    "delay",
    type=DURATION,
    metavar="DURATION",
    help="Start after this long: 90s, 15m, 1h30m, 2d or seconds.",
)
@click.option("--queue", metavar="NAME", help="The broker queue (default: its type's).")
@click.option(
    "--priority", type=int, metavar="N", help="0 to 9, higher runs first (default: its type's)."
)
@click.option(
    "--attempts",
    "max_attempts",
    type=int,
    metavar="N",
    help="Attempts it may take, at most what its type's retry policy allows.",
)
@click.option("--wait", is_flag=True, help="Wait until it ends; exit 1 unless it Completed.")
@timeout_option
@reason_option
@json_option
@pass_state
def start(
    state: CliState,
    name: str,
    params: Sequence[str],
    key: str | None,
    client_request_id: str | None,
    identity: str | None,
    organization: str,
    start_at: datetime | None,
    delay: timedelta | None,
    queue: str | None,
    priority: int | None,
    max_attempts: int | None,
    wait: bool,
    timeout: timedelta | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Start a job of type NAME and print its id.

    With --at or --in it waits, Created, until then (`jobhub status` shows when);
    `jobhub retry-now ID` starts it at once.

    \b
    Examples:
      jobhub start diagnostics.sleep -p steps=5 -p seconds=0.2
      jobhub start diagnostics.echo -p message=hi --key nightly --wait --json
      jobhub start reports.job_statistics --in 1h30m --queue reports --priority 7
      jobhub start diagnostics.flaky -p fail_times=1 --at 2026-12-01T09:00:00Z --attempts 3
    """
    manager = state.manager
    definition = manager.job_type(name)
    values = parse_assignments(definition.name, definition.params, params)
    job = manager.start_job(
        definition,
        values,
        identity=identity,
        organization=organization,
        client_request_id=client_request_id,
        key=key,
        start_at=start_at,
        delay=delay,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        actor=Actor.local(),
        reason=reason,
    )
    if not wait:
        if as_json:
            render.echo_json(_records(state.manager, [job])[0])
        else:
            click.echo(job.id)
        return
    if not as_json:
        click.echo(job.id, err=True)
    (job,) = _wait(manager, [job], timeout, as_json)
    _print_jobs(state.manager, [job], as_json, single=True)
    _exit_unless_completed([job])


@click.command(name="start-many")
@click.argument("source", type=click.File("r"), metavar="FILE")
@click.option("--identity", help="Who submits the jobs.")
@click.option("--organization", default="", help="The organization (tenant) of the jobs.")
@reason_option
@json_option
@pass_state
def start_many(
    state: CliState,
    source: TextIO,
    identity: str | None,
    organization: str,
    reason: str | None,
    as_json: bool,
) -> None:
    """Start the jobs in FILE together (one insert, pipelined publishes).

    FILE (- for standard input) holds a JSON array of jobs, or one job per line, each as
    `POST /jobs` takes it: type, parameters, key, clientRequestId, description,
    accessScope, startAt, delay, queue, priority, maxAttempts. One bad item starts none.
    Prints each item's state (started, repeated, pending: recorded, published by the
    outbox if its message is missing; refused: not recorded, and why) and job id; exits
    1 if any was refused.

    \b
    Examples:
      jobhub start-many jobs.json
      printf '{"type": "diagnostics.echo", "parameters": {"message": "hi"}}\n' | jobhub start-many -
    """
    requests = [item.job_request(identity, organization) for item in _batch_items(source.read())]
    outcomes = state.manager.start_jobs(requests, actor=Actor.local(), reason=reason)
    if as_json:
        records = iter(_records(state.manager, [o.job for o in outcomes if o.job]))
        render.echo_json(
            [
                {
                    "index": index,
                    "state": outcome.state.value,
                    "job": next(records) if outcome.job is not None else None,
                    "error": None if outcome.error is None else outcome.error.message,
                }
                for index, outcome in enumerate(outcomes)
            ]
        )
    else:
        for index, outcome in enumerate(outcomes):
            shown = outcome.job.id if outcome.job is not None else "-"
            why = f"  {outcome.error.message}" if outcome.error is not None else ""
            click.echo(f"{index}\t{outcome.state.value}\t{shown}{why}")
        counts = Counter(outcome.state.value for outcome in outcomes)
        click.echo(", ".join(f"{n} {state}" for state, n in sorted(counts.items())), err=True)
    if any(outcome.state is StartState.REFUSED for outcome in outcomes):
        sys.exit(1)


def _batch_items(text: str) -> list[StartJob]:
    """The jobs of a ``start-many`` file: a JSON array, or one JSON object per line,
    judged as ``POST /jobs/batch`` judges its body (imported here: the API's modules are
    more than the other commands need)."""
    from jobhub.api.bodies import StartJobs

    stripped = text.strip()
    try:
        if stripped.startswith("["):
            found = json.loads(stripped)
        else:
            found = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON: {exc}") from None
    if not found:
        raise InvalidInput("no jobs in the file")
    try:
        return StartJobs.model_validate({"jobs": found}).jobs
    except ValidationError as exc:
        first = exc.errors()[0]
        index, *field = first["loc"][1:]
        where = ".".join(str(part) for part in field)
        raise InvalidInput(f"item {index}: {where + ': ' if where else ''}{first['msg']}") from None


@click.command()
@job_id_argument
@json_option
@pass_state
def status(state: CliState, job_id: str, as_json: bool) -> None:
    """Show one job: status, progress, times, worker, result or error.

    \b
    Example:
      jobhub status 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55 --json
    """
    _print_jobs(state.manager, [state.manager.get_job(job_id)], as_json, single=True)


@click.command(name="jobs")
@click.option(
    "--status",
    "status_",
    metavar="STATUS",
    help="Only this status: Created, Queued, Processing, Completed, "
    "CompletedWithErrors, Cancelled (or its code).",
)
@click.option(
    "--type",
    "job_type",
    metavar="NAME",
    help="Only this job type (a housekeeping type's jobs are listed without --housekeeping).",
)
@click.option("--organization", help="Only this organization.")
@click.option("--queue", metavar="NAME", help="Only jobs placed on this broker queue.")
@click.option(
    "--housekeeping",
    is_flag=True,
    help="Include housekeeping jobs, which are left out by default.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option(
    "--after",
    metavar="CURSOR",
    help="Start after the page that printed this cursor (on stderr, as 'more: --after ...').",
)
@json_option
@pass_state
def list_jobs(
    state: CliState,
    status_: str | None,
    job_type: str | None,
    organization: str | None,
    queue: str | None,
    housekeeping: bool,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """List jobs, newest first.

    Housekeeping jobs (jobhub's own upkeep that beat starts on its schedules: purging,
    reaping lost jobs, the outbox) are left out unless --housekeeping is given or --type
    names a housekeeping type.

    \b
    Examples:
      jobhub jobs --status Processing --type diagnostics.sleep --limit 5
      jobhub jobs --status Created --queue reports
      jobhub jobs --housekeeping --limit 50
      jobhub jobs --type maintenance.reap_lost_jobs
      jobhub jobs --limit 100 --after CURSOR   # the next page
    """
    statuses = None
    if status_ is not None:
        try:
            statuses = [JobStatus.parse(status_)]
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    page = state.manager.find_page(
        status=statuses,
        job_type=job_type,
        organization=organization,
        limit=limit,
        housekeeping=True if housekeeping else None,
        after=after,
        queue=queue,
    )
    _print_jobs(state.manager, page.jobs, as_json)
    if page.next is not None:
        click.echo(f"more: --after {page.next.encode()}", err=True)


@click.command()
@job_id_argument
@click.option(
    "-o",
    "--output",
    type=click.File("wb"),
    default="-",
    show_default=True,
    help="Where to write it.",
)
@pass_state
def result(state: CliState, job_id: str, output: BinaryIO) -> None:
    """Write a completed job's result: its inline JSON, or the document it was stored in.

    \b
    Example:
      jobhub result 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55 -o result.json
    """
    manager = state.manager
    job = manager.get_job(job_id)
    if job.status is not JobStatus.COMPLETED:
        raise Conflict(f"job {job.id} has no result: it is {job.status.label}")
    documents = manager.access.job_documents([job.id])[job.id]
    if documents:
        output.write(manager.access.document_content(documents[0]))
    else:
        output.write(json.dumps(job.result, ensure_ascii=False).encode() + b"\n")


@click.command()
@job_id_argument
@json_option
@pass_state
def messages(state: CliState, job_id: str, as_json: bool) -> None:
    """Show the messages a job posted for its user, in order.

    \b
    Example:
      jobhub messages 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55
    """
    posted = state.manager.user_messages(job_id)
    if as_json:
        render.echo_json([message_record(message) for message in posted])
    else:
        for message in posted:
            click.echo(render.message_line(message))


@click.command()
@job_id_argument
@json_option
@pass_state
def events(state: CliState, job_id: str, as_json: bool) -> None:
    """Show a job's history: every transition with its time, attempt and worker, and
    the error of each attempt that failed.

    \b
    Example:
      jobhub events 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55
    """
    history = state.manager.job_events(job_id)
    if as_json:
        render.echo_json([event_record(event) for event in history])
    else:
        for event in history:
            click.echo(render.event_line(event))


@click.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True)
@timeout_option
@json_option
@pass_state
def wait(state: CliState, job_ids: Sequence[str], timeout: timedelta | None, as_json: bool) -> None:
    """Wait until the jobs end; exit 1 unless all Completed, 5 on timeout.

    \b
    Example:
      jobhub wait 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55 --timeout 5m
    """
    manager = state.manager
    jobs = [manager.get_job(job_id) for job_id in job_ids]
    finished = _wait(manager, jobs, timeout, as_json)
    _print_jobs(state.manager, finished, as_json, single=len(finished) == 1)
    _exit_unless_completed(finished)


@click.command()
@job_id_argument
@reason_option
@json_option
@pass_state
def cancel(state: CliState, job_id: str, reason: str | None, as_json: bool) -> None:
    """Cancel a job: a queued one never runs, a running one stops at its next check.

    \b
    Example:
      jobhub cancel 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55 --reason "wrong month"
    """
    job = state.manager.cancel_job(job_id, actor=Actor.local(), reason=reason)
    if as_json:
        render.echo_json(_records(state.manager, [job])[0])
    elif job.status is JobStatus.CANCELLED:
        click.echo(f"{job.id} Cancelled")
    else:
        click.echo(f"{job.id} cancel requested; it stops at its next check")


@click.command()
@job_id_argument
@reason_option
@json_option
@pass_state
def rerun(state: CliState, job_id: str, reason: str | None, as_json: bool) -> None:
    """Queue an ended job again as a new attempt, keeping its history.

    \b
    Example:
      jobhub rerun 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55
    """
    job = state.manager.rerun_job(job_id, actor=Actor.local(), reason=reason)
    if as_json:
        render.echo_json(_records(state.manager, [job])[0])
    else:
        click.echo(f"{job.id} {job.status.label} (attempt {job.attempt})")


@click.command(name="retry-now")
@job_id_argument
@reason_option
@json_option
@pass_state
def retry_now(state: CliState, job_id: str, reason: str | None, as_json: bool) -> None:
    """Start now a job that waits for its start time (--at, --in) or for its next attempt
    after a failure; exit 4 when it waits for neither.

    \b
    Example:
      jobhub retry-now 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55
    """
    job = state.manager.retry_now(job_id, actor=Actor.local(), reason=reason)
    if as_json:
        render.echo_json(_records(state.manager, [job])[0])
    else:
        click.echo(f"{job.id} starts now (attempt {job.attempt_in_run} of {job.max_attempts})")


@click.command()
@json_option
@pass_state
def available(state: CliState, as_json: bool) -> None:
    """List the job types that can be started, with their parameters.

    \b
    Example:
      jobhub available --json
    """
    definitions = state.manager.available_job_types()
    if as_json:
        render.echo_json(
            [
                {
                    "name": d.name,
                    "description": d.description,
                    "category": d.category,
                    "subcategory": d.subcategory,
                    "start_type": d.start_type.value,
                    "can_cancel": d.can_cancel,
                    "can_rerun": d.can_rerun,
                    "time_limit": d.time_limit,
                    "max_attempts": d.retry.attempts,
                    "queue": d.queue_or(state.settings.queue),
                    "priority": d.priority,
                    "runs_elsewhere": d.runs_elsewhere,
                    "housekeeping": d.housekeeping,
                    "parameters": d.parameters_schema(),
                }
                for d in definitions
            ]
        )
        return
    for d in definitions:
        click.echo(f"{click.style(d.name, bold=True)}  {d.description}")
        for param in d.params:
            default = "" if param.has_default is False else f" = {param.default!r}"
            need = "required" if param.is_required else "optional"
            click.echo(
                f"    {param.name}: {param.type_name} ({need}){default}  {param.description}"
            )


def _wait(
    manager: JobManager, jobs: list[Job], timeout: timedelta | None, as_json: bool
) -> list[Job]:
    """Wait for the jobs, with a progress bar when stderr is a terminal."""
    seconds = None if timeout is None else timeout.total_seconds()
    if as_json or not sys.stderr.isatty():
        return manager.wait_for_completion([job.id for job in jobs], seconds)
    total = 100 * len(jobs)
    with click.progressbar(length=total, label="waiting", file=sys.stderr) as bar:
        shown = 0

        def advance(current: list[Job]) -> None:
            nonlocal shown
            done = sum(100 if job.is_terminal else job.percent for job in current)
            bar.update(done - shown)
            shown = done

        return manager.wait_for_completion([job.id for job in jobs], seconds, on_poll=advance)


def _records(manager: JobManager, jobs: Sequence[Job]) -> list[JobRecord]:
    """The jobs' native JSON, with their documents (the CLI has no base URL for links)."""
    documents = manager.access.job_documents(job.id for job in jobs)
    return [job_record(job, documents.get(job.id, [])) for job in jobs]


def _print_jobs(
    manager: JobManager, jobs: Sequence[Job], as_json: bool, *, single: bool = False
) -> None:
    if as_json:
        records = _records(manager, jobs)
        render.echo_json(records[0] if single else records)
    elif single:
        documents = manager.access.job_documents([jobs[0].id])[jobs[0].id]
        click.echo(render.job_details(jobs[0], documents))
    else:
        click.echo(render.jobs_table(jobs))


def _exit_unless_completed(jobs: Sequence[Job]) -> None:
    if any(job.status is not JobStatus.COMPLETED for job in jobs):
        sys.exit(1)


COMMANDS: list[click.Command] = [
    start,
    start_many,
    status,
    list_jobs,
    result,
    messages,
    events,
    wait,
    cancel,
    rerun,
    retry_now,
    available,
]
