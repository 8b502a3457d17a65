"""``jobhub runner claim | report | finish``: be the runner of a job that runs elsewhere.

Thin: the rules are ``JobManager.runners``'. For scripts and devices that work on jobhub's
database directly; over HTTP, the same operations are ``POST /jobs/{id}/claim`` etc.
"""

from __future__ import annotations

import json
from typing import TextIO

import click

from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import job_id_argument, json_option
from jobhub.errors import InvalidInput
from jobhub.formats.schema import job_record
from jobhub.jobs import Job, JobError, JobStatus, JSONValue
from jobhub.manager import JobManager
from jobhub.manager.runners import RUNNER_ERROR
from jobhub.worker.context import MESSAGE_LEVELS

runner_option = click.option(
    "--runner",
    "runner_name",
    required=True,
    metavar="NAME",
    help="Who runs the job (your service, script or device); shown as its worker.",
)


@click.group()
def runner() -> None:
    """Claim, report on and finish jobs of types that run elsewhere.

    A job of such a type (declared with declare_elsewhere) waits Created until a runner
    claims it; every report is also the runner's heartbeat.

    \b
    Examples:
      jobhub runner claim ID --runner agent-7
      jobhub runner report ID --runner agent-7 --percent 40 --status "copying files"
      jobhub runner finish ID --runner agent-7 --result '{"files": 12}'
      jobhub runner finish ID --runner agent-7 --error "device offline" --error-type DeviceOffline
    """


@runner.command(name="claim")
@job_id_argument
@runner_option
@json_option
@pass_state
def claim(state: CliState, job_id: str, runner_name: str, as_json: bool) -> None:
    """Claim job ID: it becomes Processing under the runner.

    Exits 4 when another runner holds it or it ended.

    \b
    Example:
      jobhub runner claim 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55 --runner agent-7
    """
    job = state.manager.runners.claim(job_id, runner_name)
    _print(state.manager, job, as_json)


attempt_option = click.option(
    "--attempt",
    type=click.IntRange(min=1),
    help="The attempt the claim returned: refused once the job is on another one.",
)


@runner.command(name="report")
@job_id_argument
@runner_option
@click.option("--percent", type=click.FloatRange(0, 100), help="Percent complete, 0 to 100.")
@click.option("--status", "status_text", metavar="TEXT", help="What it is doing now.")
@click.option("--message", metavar="TEXT", help="A message for the job's user.")
@click.option(
    "--level",
    type=click.Choice(MESSAGE_LEVELS),
    default="info",
    show_default=True,
    help="The message's level.",
)
@attempt_option
@json_option
@pass_state
def report(
    state: CliState,
    job_id: str,
    runner_name: str,
    percent: float | None,
    status_text: str | None,
    message: str | None,
    level: str,
    attempt: int | None,
    as_json: bool,
) -> None:
    """Report progress, status or a message on job ID.

    With no option, it only says the runner is alive (its heartbeat). Exits 4 when the
    runner does not hold the job.

    \b
    Examples:
      jobhub runner report ID --runner agent-7 --percent 40 --status "copying files"
      jobhub runner report ID --runner agent-7 --message "disk almost full" --level warning
      jobhub runner report ID --runner agent-7
    """
    job = state.manager.runners.report(
        job_id,
        runner_name,
        percent=percent,
        status_text=status_text,
        message=message,
        level=level,
        attempt=attempt,
    )
    _print(state.manager, job, as_json)


@runner.command(name="finish")
@job_id_argument
@runner_option
@click.option("--result", "result_text", metavar="JSON", help="The job's result, as JSON.")
@click.option(
    "--result-file",
    type=click.File("r"),
    help="Read the result (JSON) from this file ('-': standard input).",
)
@click.option("--error", "error_message", metavar="MESSAGE", help="It failed: why.")
@click.option(
    "--error-type",
    default=RUNNER_ERROR,
    show_default=True,
    metavar="TYPE",
    help="The failure's type, with --error.",
)
@click.option(
    "--no-retry",
    is_flag=True,
    help="With --error: another attempt cannot help; it ends now, whatever its retry policy.",
)
@click.option("--cancelled", is_flag=True, help="It stopped because a cancel was asked for.")
@attempt_option
@json_option
@pass_state
def finish(
    state: CliState,
    job_id: str,
    runner_name: str,
    result_text: str | None,
    result_file: TextIO | None,
    error_message: str | None,
    error_type: str,
    no_retry: bool,
    cancelled: bool,
    attempt: int | None,
    as_json: bool,
) -> None:
    """Finish job ID: with a result, an error, or as cancelled.

    Give exactly one. A result ends it Completed; an error gives it another attempt when
    its type's retry policy allows, else ends it CompletedWithErrors. Exits 4 when the
    runner does not hold the job (it already ended, or another runner's).

    \b
    Examples:
      jobhub runner finish ID --runner agent-7 --result '{"files": 12}'
      jobhub runner finish ID --runner agent-7 --result-file result.json
      jobhub runner finish ID --runner agent-7 --error "device offline" --error-type DeviceOffline
      jobhub runner finish ID --runner agent-7 --cancelled
    """
    given = [
        name
        for name, value in (
            ("--result", result_text),
            ("--result-file", result_file),
            ("--error", error_message),
            ("--cancelled", cancelled or None),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --result, --result-file, --error and --cancelled"
            + (f" (got {', '.join(given)})" if given else "")
        )
    result: JSONValue = None
    if result_text is not None:
        result = _json("--result", result_text)
    elif result_file is not None:
        result = _json("--result-file", result_file.read())
    job = state.manager.runners.finish(
        job_id,
        runner_name,
        result=result,
        error=None if error_message is None else JobError(type=error_type, message=error_message),
        retry=not no_retry,
        cancelled=cancelled,
        attempt=attempt,
    )
    _print(state.manager, job, as_json)


def _json(option: str, text: str) -> JSONValue:
    try:
        value: JSONValue = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{option}: not JSON: {exc}") from None
    return value


def _print(manager: JobManager, job: Job, as_json: bool) -> None:
    if as_json:
        documents = manager.access.job_documents([job.id])[job.id]
        render.echo_json(job_record(job, documents))
        return
    line = f"{job.id} {job.status.label} (attempt {job.attempt})"
    if job.status is JobStatus.PROCESSING:
        line += f" on {job.worker_id}  {job.percent}%"
    if job.status_text:
        line += f"  {job.status_text}"
    click.echo(line)
    if job.cancel_requested and not job.is_terminal:
        click.echo("cancel requested: stop, then finish it with --cancelled", err=True)


COMMANDS: list[click.Command] = [runner]
