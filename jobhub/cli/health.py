"""``jobhub workers`` and ``jobhub dead-letters``: what ops look at when jobs go astray."""

from __future__ import annotations

import dataclasses

import click

from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import json_option


@click.command()
@json_option
@pass_state
def workers(state: CliState, as_json: bool) -> None:
    """List the workers seen, with the queues they consume and their last heartbeat (in
    the database's clock).

    A worker silent for JOBHUB_WORKER_TIMEOUT is lost: the reaper recovers its jobs.

    \b
    Example:
      jobhub workers --json
    """
    seen = state.manager.admin.workers()
    if as_json:
        render.echo_json([{**dataclasses.asdict(w), "queues": list(w.queue_names)} for w in seen])
        return
    for worker in seen:
        stopped = f"  stopped {render.when(worker.stopped_at)}" if worker.stopped_at else ""
        click.echo(
            f"{worker.name}  pid {worker.pid}  queues {','.join(worker.queue_names) or '-'}"
            f"  started {render.when(worker.started_at)}"
            f"  last seen {render.when(worker.last_seen_at)}{stopped}"
        )


@click.command(name="dead-letters")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@pass_state
def dead_letters(state: CliState, limit: int, as_json: bool) -> None:
    """List the newest messages workers received and could not run as jobs.

    \b
    Example:
      jobhub dead-letters --limit 5 --json
    """
    letters = state.manager.admin.dead_letters(limit=limit)
    if as_json:
        render.echo_json([dataclasses.asdict(letter) for letter in letters])
        return
    for letter in letters:
        click.echo(
            f"{render.when(letter.received_at)}  {letter.reason}  {letter.task_name}"
            f"  {letter.task_id}  {letter.detail}"
        )


COMMANDS: list[click.Command] = [workers, dead_letters]
