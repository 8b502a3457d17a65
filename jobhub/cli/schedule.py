"""``jobhub schedule set | clear | list``: a job type's schedules, changed while beat runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import click

from jobhub.audit import Actor
from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import DURATION, json_option, reason_option
from jobhub.errors import InvalidInput
from jobhub.parameters import parse_assignments
from jobhub.scheduling.schedules import JobSchedule, schedule_record


@click.group()
def schedule() -> None:
    """Set, clear and list job schedules (beat picks changes up within seconds).

    \b
    Examples:
      jobhub schedule set diagnostics.echo --every 15m -p message=tick
      jobhub schedule set reports.job_statistics --on mon,thu --at 02:00 --tz Europe/Berlin
      jobhub schedule list --json
    """


@schedule.command(name="set")
@click.argument("name")
@click.option("--every", type=DURATION, help="An interval: 30s, 15m, 2h, 1h30m, 1d.")
@click.option("--on", "days", metavar="DAYS", help="Days of the week: mon,thu or weekdays.")
@click.option("--at", metavar="HH:MM", help="Time of day for --on, in --tz.")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone of --at.")
@click.option("--start", metavar="ISO", help="No fire before this date-time.")
@click.option("--stop", metavar="ISO", help="No fire after this date-time.")
@click.option(
    "--skip-missed",
    is_flag=True,
    help="After beat was down, skip the missed runs (default: run once to catch up).",
)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE")
@reason_option
@json_option
@pass_state
def set_schedule(
    state: CliState,
    name: str,
    every: timedelta | None,
    days: str | None,
    at: str | None,
    tz: str,
    start: str | None,
    stop: str | None,
    skip_missed: bool,
    params: Sequence[str],
    reason: str | None,
    as_json: bool,
) -> None:
    """Replace the schedules of job type NAME with one.

    \b
    Examples:
      jobhub schedule set diagnostics.sleep --every 15m -p steps=2
      jobhub schedule set maintenance.purge_jobs --on weekdays --at 02:30 --tz Europe/Berlin
    """
    manager = state.manager
    definition = manager.job_type(name)
    values = parse_assignments(definition.name, definition.params, params)
    schedules = manager.set_job_schedule(
        definition,
        interval=every,
        days=days,
        at=at,
        tz=tz,
        start=_moment("--start", start),
        stop=_moment("--stop", stop),
        parameters=values,
        catch_up=not skip_missed,
        actor=Actor.local(),
        reason=reason,
    )
    _print(schedules, as_json)


@schedule.command(name="clear")
@click.argument("name")
@reason_option
@pass_state
def clear_schedule(state: CliState, name: str, reason: str | None) -> None:
    """Remove the runtime schedules of job type NAME.

    \b
    Example:
      jobhub schedule clear diagnostics.sleep
    """
    state.manager.clear_job_schedule(name, actor=Actor.local(), reason=reason)


@schedule.command(name="list")
@click.option("--type", "job_type", metavar="NAME", help="Only this job type.")
@json_option
@pass_state
def list_schedules(state: CliState, job_type: str | None, as_json: bool) -> None:
    """List the schedules with their last fire, next fire and last job.

    \b
    Example:
      jobhub schedule list --type maintenance.purge_jobs --json
    """
    manager = state.manager
    schedules = manager.get_job_schedules(job_type) if job_type else manager.job_schedules()
    _print(schedules, as_json)


def _moment(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{option}: not an ISO 8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{option}: give a time zone offset, e.g. {text}+00:00")
    return moment


def _print(schedules: list[JobSchedule], as_json: bool) -> None:
    if as_json:
        render.echo_json([schedule_record(s) for s in schedules])
        return
    for s in schedules:
        record = schedule_record(s)
        click.echo(
            f"{s.name}  {record['when']}  next {render.when(s.next_fire_at)}"
            f"  last {render.when(s.last_fire_at)}  job {s.last_job_id or '-'}"
        )


COMMANDS: list[click.Command] = [schedule]
