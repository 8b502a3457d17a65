"""``jobhub limits | limit set | limit clear | pause | resume | pauses``: limits and pauses,
read and changed on every host at once. Changes are recorded in the audit trail as the
local user's."""

from __future__ import annotations

from collections.abc import Sequence

import click

from jobhub.audit import Actor
from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import json_option, reason_option
from jobhub.formats.gates import limit_record, pause_record
from jobhub.gates import Pause, PauseKind, StoredLimit
from jobhub.limits import LimitKind

_KINDS = click.Choice([kind.value for kind in PauseKind])
_LOOSE = {"ignore_unknown_options": True}
"""``jobhub limit set T -1`` reads -1 as the limit (and refuses it), not as an option."""


@click.command(name="limits")
@click.argument("job_type", metavar="[TYPE]", required=False)
@json_option
@pass_state
def list_limits(state: CliState, job_type: str | None, as_json: bool) -> None:
    """List the limits in force on every host: those job types declare and those set
    with `jobhub limit set`. A declared limit that was cleared shows as lifted.

    \b
    Examples:
      jobhub limits
      jobhub limits reports.build --json
    """
    _print_limits(state.manager.limits(job_type), as_json)


@click.group(name="limit")
def limit() -> None:
    """Set or clear a job type's limits, on every host at once, without a restart.

    A limit is N at once (2, 10 per customer_id, 2 per organization) or N started per
    period (100/min, 5/s per customer_id, 10/30s). A type has at most one concurrency
    limit and one rate limit per key; setting one replaces the other.

    \b
    Examples:
      jobhub limit set reports.build 2
      jobhub limit set partner.sync 100/min --reason "the partner's quota"
      jobhub limit clear reports.build --per customer_id
    """


@limit.command(name="set", context_settings=_LOOSE)
@click.argument("job_type", metavar="TYPE")
@click.argument("text", metavar="LIMIT")
@reason_option
@json_option
@pass_state
def set_limit(state: CliState, job_type: str, text: str, reason: str | None, as_json: bool) -> None:
    """Set a limit of job type TYPE (replacing its limit of the same kind and key) and
    list the type's limits.

    \b
    Examples:
      jobhub limit set reports.build 2
      jobhub limit set reports.build "10 per customer_id"
      jobhub limit set partner.sync 100/min --reason "the partner's quota"
    """
    limits = state.manager.set_limit(job_type, text, actor=Actor.local(), reason=reason)
    _print_limits(limits, as_json)


@limit.command(name="clear")
@click.argument("job_type", metavar="TYPE")
@click.option("--rate", is_flag=True, help="Lift the rate limit (default: the concurrency one).")
@click.option(
    "--per", default="", metavar="KEY", help="The limit's key: a parameter or organization."
)
@reason_option
@json_option
@pass_state
def clear_limit(
    state: CliState, job_type: str, rate: bool, per: str, reason: str | None, as_json: bool
) -> None:
    """Lift a limit of job type TYPE and list the limits it has left. A limit the type
    declares stays lifted, across restarts, until it is set again.

    \b
    Examples:
      jobhub limit clear reports.build
      jobhub limit clear partner.sync --rate
      jobhub limit clear reports.build --per customer_id --reason "load test done"
    """
    kind = LimitKind.RATE if rate else LimitKind.CONCURRENCY
    limits = state.manager.clear_limit(job_type, kind, per, actor=Actor.local(), reason=reason)
    _print_limits(limits, as_json)


@click.command()
@click.argument("kind", metavar="queue|type|schedule", type=_KINDS)
@click.argument("name")
@reason_option
@json_option
@pass_state
def pause(state: CliState, kind: str, name: str, reason: str | None, as_json: bool) -> None:
    """Pause a queue, a job type or a schedule on every host until it is resumed: its
    jobs wait (their status text says who paused them) and no worker starts them; a
    paused schedule does not fire. A schedule is named by its name or its job type's.

    \b
    Examples:
      jobhub pause queue reports --reason "database migration"
      jobhub pause type reports.build
      jobhub pause schedule maintenance.purge_jobs
    """
    paused = state.manager.pause(kind, name, actor=Actor.local(), reason=reason)
    if as_json:
        render.echo_json(pause_record(paused))
    else:
        click.echo(f"paused {paused.kind.value} {paused.target}")


@click.command()
@click.argument("kind", metavar="queue|type|schedule", type=_KINDS)
@click.argument("name")
@reason_option
@pass_state
def resume(state: CliState, kind: str, name: str, reason: str | None) -> None:
    """Resume a paused queue, job type or schedule: its held jobs start in order
    (priority, then age) within about a second, on any host.

    \b
    Examples:
      jobhub resume queue reports --reason "migration done"
      jobhub resume type reports.build
    """
    state.manager.resume(kind, name, actor=Actor.local(), reason=reason)
    click.echo(f"resumed {kind} {name}")


@click.command(name="pauses")
@json_option
@pass_state
def list_pauses(state: CliState, as_json: bool) -> None:
    """List the paused queues, job types and schedules: since when, by whom and why.

    \b
    Example:
      jobhub pauses --json
    """
    _print_pauses(state.manager.pauses(), as_json)


def _print_limits(limits: Sequence[StoredLimit], as_json: bool) -> None:
    if as_json:
        render.echo_json([limit_record(limit) for limit in limits])
    elif not limits:
        click.echo("no limits")
    else:
        click.echo(limits_table(limits))


def limits_table(limits: Sequence[StoredLimit]) -> str:
    """The table of ``jobhub limits``: one limit a line."""
    texts = [_limit_text(stored) for stored in limits]
    type_width = max(len("TYPE"), *(len(stored.job_type) for stored in limits))
    text_width = max(len("LIMIT"), *(len(text) for text in texts))
    rows = [f"{'TYPE':{type_width}}  {'LIMIT':{text_width}}  {'SOURCE':8}  {'UPDATED':29}  BY"]
    for stored, text in zip(limits, texts, strict=True):
        rows.append(
            f"{stored.job_type:{type_width}}  {text:{text_width}}  {stored.source:8}  "
            f"{render.when(stored.updated_at):29}  {stored.updated_by or '-'}"
        )
    return "\n".join(rows)


def _limit_text(stored: StoredLimit) -> str:
    if stored.limit is not None:
        return stored.limit.text()
    scope = f" per {stored.per}" if stored.per else ""
    return f"lifted ({stored.kind.value}{scope})"


def _print_pauses(pauses: Sequence[Pause], as_json: bool) -> None:
    if as_json:
        render.echo_json([pause_record(pause) for pause in pauses])
    elif not pauses:
        click.echo("nothing is paused")
    else:
        click.echo(pauses_table(pauses))


def pauses_table(pauses: Sequence[Pause]) -> str:
    """The table of ``jobhub pauses``: one paused queue, type or schedule a line."""
    width = max(len("TARGET"), *(len(pause.target) for pause in pauses))
    by_width = max(len("BY"), *(len(pause.paused_by or "-") for pause in pauses))
    rows = [f"{'KIND':8}  {'TARGET':{width}}  {'SINCE':29}  {'BY':{by_width}}  REASON"]
    for pause in pauses:
        rows.append(
            f"{pause.kind.value:8}  {pause.target:{width}}  {render.when(pause.paused_at):29}  "
            f"{pause.paused_by or '-':{by_width}}  {pause.reason or ''}".rstrip()
        )
    return "\n".join(rows)


COMMANDS: list[click.Command] = [list_limits, limit, pause, resume, list_pauses]
