"""``jobhub workflow start | show | list | cancel | rerun``: workflows from the command line.

Thin: the rules are ``JobManager``'s (``jobhub.manager.workflows``). A workflow file is
the document ``POST /workflows`` takes, in JSON or YAML, so one file serves both faces.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
import yaml

from jobhub.audit import Actor
from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import json_option, reason_option, timeout_option
from jobhub.errors import InvalidInput, WaitTimeout, WorkflowNotFound
from jobhub.jobs import JobStatus
from jobhub.manager import JobManager
from jobhub.workflows.records import Workflow

if TYPE_CHECKING:
    from jobhub.api.workflow_views import WorkflowRecord

workflow_id_argument = click.argument("workflow_id", metavar="ID")


@click.group()
def workflow() -> None:
    """Workflows: steps (jobs) that start once the steps they depend on ended.

    A workflow file (JSON or YAML) names its steps; each step has a name, a job_type,
    its parameters, the steps it runs after, and optionally a policy (completed,
    on_failure, always), a results parameter, a description, a queue, a priority and
    max_attempts.

    \b
    Example (nightly.yaml):
      name: nightly
      steps:
        - {name: import, job_type: etl.import, parameters: {day: "2026-12-01"}}
        - {name: report, job_type: etl.report, after: [import], results: inputs}
        - {name: alert, job_type: etl.alert, after: [report], policy: on_failure}

    \b
      jobhub workflow start nightly.yaml --wait
      jobhub workflow list --status Processing
    """


@workflow.command(name="start")
@click.argument("source", type=click.File("r"), metavar="FILE")
@click.option("--name", help="The workflow's name (instead of the file's).")
@click.option("--identity", help="Who submits the workflow (and each step's job).")
@click.option(
    "--organization", default="", help="The organization (tenant) the workflow belongs to."
)
@click.option("--wait", is_flag=True, help="Wait until it ends; exit 1 unless it ended Completed.")
@timeout_option
@reason_option
@json_option
@pass_state
def start(
    state: CliState,
    source: TextIO,
    name: str | None,
    identity: str | None,
    organization: str,
    wait: bool,
    timeout: timedelta | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Start the workflow in FILE (- for standard input) and print its id and steps.

    FILE is JSON or YAML: by its suffix (.json, .yaml, .yml), else JSON if it reads as
    JSON, else YAML. The whole workflow is checked before anything is written: a cycle,
    an unknown step or job type, or a bad parameter starts nothing.

    \b
    Examples:
      jobhub workflow start nightly.yaml
      jobhub workflow start nightly.json --identity ann --organization acme --wait
      cat nightly.yaml | jobhub workflow start - --json
    """
    document = read_document(source.read(), source.name)
    manager = state.manager
    started = manager.start_workflow(
        document,
        name=name,
        identity=identity,
        organization=organization,
        actor=Actor.local(),
        reason=reason,
    )
    if not wait:
        _print(started, as_json, steps_only=True)
        return
    if not as_json:
        click.echo(started.id, err=True)
    done = _wait(manager, started, timeout)
    _print(done, as_json)
    if done.status is not JobStatus.COMPLETED:
        sys.exit(1)


@workflow.command(name="show")
@workflow_id_argument
@json_option
@pass_state
def show(state: CliState, workflow_id: str, as_json: bool) -> None:
    """Show one workflow: its status, times and every step with its job.

    \b
    Example:
      jobhub workflow show 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55
    """
    _print(state.manager.get_workflow(_workflow_id(workflow_id)), as_json)


@workflow.command(name="list")
@click.option(
    "--status",
    "status_",
    metavar="STATUS",
    help="Only this status: Processing, Completed, CompletedWithErrors, Cancelled.",
)
@click.option("--organization", help="Only this organization.")
@click.option("--identity", help="Only this identity's.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@pass_state
def list_workflows(
    state: CliState,
    status_: str | None,
    organization: str | None,
    identity: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List workflows, newest first.

    \b
    Examples:
      jobhub workflow list
      jobhub workflow list --status CompletedWithErrors --organization acme
    """
    status = None
    if status_ is not None:
        try:
            status = JobStatus.parse(status_)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    found = state.manager.find_workflows(
        status=status, organization=organization, identity=identity, limit=limit
    )
    if as_json:
        render.echo_json(_records(found))
    else:
        click.echo(workflows_table(found))


@workflow.command(name="cancel")
@workflow_id_argument
@reason_option
@json_option
@pass_state
def cancel(state: CliState, workflow_id: str, reason: str | None, as_json: bool) -> None:
    """Cancel every step not yet ended: waiting and queued ones at once, running ones at
    their next check. Exits 4 when the workflow already ended.

    \b
    Example:
      jobhub workflow cancel 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55 --reason "wrong day"
    """
    cancelled = state.manager.cancel_workflow(
        _workflow_id(workflow_id), actor=Actor.local(), reason=reason
    )
    if as_json:
        render.echo_json(_records([cancelled])[0])
    else:
        click.echo(f"{cancelled.id} {cancelled.status.label}")
        click.echo(_steps_table(cancelled))


@workflow.command(name="rerun")
@workflow_id_argument
@click.option(
    "--step",
    metavar="NAME",
    help="The step to run again (default: every step that failed after its dependencies"
    " Completed).",
)
@reason_option
@json_option
@pass_state
def rerun(
    state: CliState, workflow_id: str, step: str | None, reason: str | None, as_json: bool
) -> None:
    """Run a workflow's failed step(s) again as a new attempt; the steps after them that
    did not complete run again as they end. Exits 4 when the step Completed or has not
    ended, or nothing failed.

    \b
    Examples:
      jobhub workflow rerun 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55
      jobhub workflow rerun 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55 --step report
    """
    found = state.manager.rerun_workflow(
        _workflow_id(workflow_id), step, actor=Actor.local(), reason=reason
    )
    _print(found, as_json, steps_only=True)


# -- reading a workflow file ---------------------------------------------------------------


def read_document(text: str, source: str) -> Any:
    """The document in ``text``: YAML for a .yaml/.yml file, JSON for a .json one, else
    JSON if it reads as JSON, else YAML; InvalidInput naming the file when it is neither."""
    suffix = Path(source).suffix.lower()
    if suffix == ".json":
        return _json(text, source)
    if suffix not in (".yaml", ".yml"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # not JSON: YAML, if anything (JSON is YAML, so YAML's error says most)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: not YAML: {exc}") from None


def _json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{source}: not JSON: {exc}") from None


# -- output --------------------------------------------------------------------------------


def _workflow_id(text: str) -> uuid.UUID:
    """A workflow id from its text; text that is not a UUID names no workflow."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise WorkflowNotFound(text) from None


def _wait(manager: JobManager, started: Workflow, timeout: timedelta | None) -> Workflow:
    deadline = None if timeout is None else time.monotonic() + timeout.total_seconds()
    interval = manager.settings.wait_poll_interval
    current = started
    while not current.is_terminal:
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout([current.id], timeout.total_seconds() if timeout else 0.0)
        time.sleep(interval)
        current = manager.get_workflow(current.id)
    return current


def _records(workflows: Sequence[Workflow]) -> list[WorkflowRecord]:
    """Their native JSON, as ``GET /workflows/{id}`` shows them, without links (the CLI
    has no base URL; imported here: the API's modules are more than the CLI needs)."""
    from jobhub.api.workflow_views import workflow_record

    return [workflow_record(found) for found in workflows]


def _print(found: Workflow, as_json: bool, *, steps_only: bool = False) -> None:
    if as_json:
        render.echo_json(_records([found])[0])
    elif steps_only:
        click.echo(found.id)
        click.echo(_steps_table(found))
    else:
        click.echo(workflow_details(found))


def workflow_details(found: Workflow) -> str:
    """The multi-line view of ``jobhub workflow show``."""
    lines = [
        f"workflow   {found.id}" + (f"  {found.name}" if found.name else ""),
        f"status     {render.status_label(found.status)} ({int(found.status)})  "
        + ", ".join(f"{n} {status.label}" for status, n in sorted(found.counts().items())),
    ]
    if found.identity or found.organization:
        lines.append(
            f"submitter  {found.identity or '-'}  organization {found.organization or '-'}"
        )
    lines += [
        f"created    {render.when(found.created_at)}"
        + (f"  by {found.created_by}" if found.created_by else ""),
        f"started    {render.when(found.started_at)}",
        f"completed  {render.when(found.completed_at)}",
    ]
    if found.cancel_requested_at is not None:
        lines.append(f"cancel     requested {render.when(found.cancel_requested_at)}")
    lines += ["", _steps_table(found)]
    return "\n".join(lines)


def _steps_table(found: Workflow) -> str:
    names = max((len(step.name) for step in found.steps), default=4)
    width = min(max(names, 4), 30)
    rows = [f"  {'STEP':{width}}  {'STATUS':19}  {'JOB':36}  {'AFTER':20}  TEXT"]
    for step in found.steps:
        label = step.status.label
        padded = render.status_label(step.status) + " " * (19 - len(label))
        after = ",".join(step.after) or "-"
        policy = "" if step.policy.value == "completed" else f" ({step.policy.value})"
        rows.append(
            f"  {step.name[:width]:{width}}  {padded}  {step.job.id!s:36}  "
            f"{(after + policy)[:20]:20}  {step.job.status_text or ''}".rstrip()
        )
    return "\n".join(rows)


def workflows_table(found: Sequence[Workflow]) -> str:
    """The table of ``jobhub workflow list``."""
    header = f"{'ID':36}  {'NAME':24}  {'STATUS':19}  {'STEPS':>9}  {'CREATED':23}  ORGANIZATION"
    rows = [header]
    for item in found:
        label = item.status.label
        padded = render.status_label(item.status) + " " * (19 - len(label))
        done = sum(step.status.is_terminal for step in item.steps)
        rows.append(
            f"{item.id!s:36}  {item.name[:24]:24}  {padded}  "
            f"{f'{done}/{len(item.steps)}':>9}  {render.when(item.created_at):23}  "
            f"{item.organization or '-'}".rstrip()
        )
    return "\n".join(rows)


COMMANDS: list[click.Command] = [workflow]
