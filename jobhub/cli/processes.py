"""Long-running processes: ``worker``, ``beat``, ``flower``, ``api``, and ``serve`` (all
of them at once).

``worker``, ``beat`` and ``flower`` are Celery's own commands run on jobhub's app, so any
Celery or Flower option can follow them; ``api`` is uvicorn serving ``jobhub.api``.
``worker``, ``beat`` and ``api`` log through ``jobhub.logs`` at their ``--loglevel``,
Celery's and uvicorn's own lines included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import click
from celery import Celery

from jobhub.api_keys import IssuedKey
from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import passthrough
from jobhub.config import Settings
from jobhub.db import migrate
from jobhub.definitions import find_definition
from jobhub.errors import InvalidInput
from jobhub.jobs import JobStatus
from jobhub.logs import configure_logging
from jobhub.manager import JobManager
from jobhub.parameters import parse_assignments
from jobhub.placement import resolve_queue
from jobhub.worker.app import create_celery_app, log_through_jobhub
from jobhub.worker.queues import declare_consumed
from jobhub.worker.redis_transport import TRANSPORT as REDIS_TRANSPORT

API_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
"""uvicorn's log levels (``trace`` is its own, below debug)."""


def queue_names(text: str, configured: str) -> tuple[str, ...]:
    """The queues of a ``--queues`` value (``reports,default``), each checked; ``default``
    is the configured queue (``configured``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise InvalidInput("--queues needs at least one queue name")
    return tuple(dict.fromkeys(resolve_queue(name, configured) for name in names))


queues_option = click.option(
    "-Q",
    "--queues",
    metavar="NAME[,NAME...]",
    help="Consume only these queues [default: the configured one, JOBHUB_QUEUE].",
)


@click.command(context_settings=passthrough)
@click.option("-c", "--concurrency", type=click.IntRange(min=1), help="Worker processes.")
@queues_option
@click.option("-l", "--loglevel", default="INFO", show_default=True)
@click.pass_context
def worker(ctx: click.Context, concurrency: int | None, queues: str | None, loglevel: str) -> None:
    """Run a Celery worker for jobhub's job types; extra arguments go to `celery worker`.

    A worker consumes the configured queue (JOBHUB_QUEUE, default "jobhub") unless
    --queues names others; `default` names it, to consume it as well. `jobhub workers`
    shows which worker consumes what.

    \b
    Examples:
      jobhub worker --concurrency 4 --hostname worker1@%h
      jobhub worker --queues reports,default
    """
    state: CliState = ctx.obj
    names = queue_names(queues, state.settings.queue) if queues is not None else None
    app = create_celery_app(state.settings)
    migrate.ensure_current(app.runtime.engine)
    declare_consumed(app, names or [state.settings.queue])
    log_through_jobhub(state.settings)
    argv = [*_celery_options(state.settings), "worker", f"--loglevel={loglevel}", *ctx.args]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if names is not None:
        argv.append(f"--queues={','.join(names)}")
    sys.exit(_run_celery(app, argv))


@click.command(context_settings=passthrough)
@click.option("-l", "--loglevel", default="INFO", show_default=True)
@click.pass_context
def beat(ctx: click.Context, loglevel: str) -> None:
    """Run Celery beat with jobhub's schedules; extra arguments go to `celery beat`.

    \b
    Example:
      jobhub beat --loglevel DEBUG
    """
    state: CliState = ctx.obj
    app = create_celery_app(state.settings)
    migrate.ensure_current(app.runtime.engine)
    state.settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_through_jobhub(state.settings)
    argv = [*_celery_options(state.settings), "beat", f"--loglevel={loglevel}", *ctx.args]
    sys.exit(_run_celery(app, argv))


def _run_celery(app: Celery, argv: list[str]) -> int:
    """Run the ``celery`` command on ``app``; returns its exit code.

    ``Celery.start`` does the same but drops the code (click returns it, rather than
    raising, outside standalone mode), so a worker that stopped on an unrecoverable error
    would exit 0 and its supervisor would not know. Celery's command (with its plugins,
    Flower's among them) is imported here, not by every ``jobhub`` call.
    """
    from celery.bin.celery import celery as celery_command

    celery_command.params[0].default = app
    try:
        code = celery_command.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    finally:
        celery_command.params[0].default = None
    return code if isinstance(code, int) else 0


def _celery_options(settings: Settings) -> list[str]:
    """Options of the ``celery`` command itself: with JSON logs, no banner (it is printed,
    not logged, so it would be the only output that is not JSON)."""
    return ["--quiet"] if settings.log_format == "json" else []


@click.command(context_settings=passthrough)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.pass_context
def flower(ctx: click.Context, address: str, port: int) -> None:
    """Run Flower against the configured broker; extra arguments go to Flower.

    Workers send task events, so Flower lists every job by its id, with its type,
    parameters and state, and every worker with the queues it consumes; on Redis its
    Broker page counts the messages waiting in each. Flower's HTTP API needs
    authentication, or FLOWER_UNAUTHENTICATED_API=true on a trusted network.

    \b
    Example:
      jobhub flower --port 5555 --basic-auth=ops:secret
    """
    state: CliState = ctx.obj
    app = create_celery_app(state.settings)
    if app.conf.broker_transport == REDIS_TRANSPORT:
        # Flower reads queues only on a broker it knows by the URL's scheme; jobhub's
        # Redis transport (a cheaper publish, nothing Flower needs) would name its class
        app.conf.broker_transport = None
    sys.exit(_run_celery(app, ["flower", f"--address={address}", f"--port={port}", *ctx.args]))


@click.command()
@click.option("--host", help="Address to listen on [default: JOBHUB_API_HOST or 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port to listen on [default: JOBHUB_API_PORT or 8000].",
)
@click.option(
    "-l",
    "--loglevel",
    type=click.Choice(API_LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
)
@pass_state
def api(state: CliState, host: str | None, port: int | None, loglevel: str) -> None:
    """Serve the HTTP API (uvicorn). OpenAPI at /openapi.json, documentation at /docs.

    Callers send an API key (`jobhub apikey create`) as `Authorization: Bearer ...`.

    \b
    Example:
      jobhub api --port 8000 &
      curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8000/jobs
    """
    import uvicorn

    from jobhub.api import create_app

    settings = state.settings
    migrate.ensure_current(state.manager.app.runtime.engine)
    configure_logging(settings, loglevel)
    uvicorn.run(
        create_app(state.manager),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=loglevel.lower(),
        log_config=None,  # uvicorn's loggers go through jobhub's handler
    )


@click.command()
@click.option(
    "--start",
    "first_job",
    default="diagnostics.sleep",
    show_default=True,
    help="The job to start once everything runs ('' for none).",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    default=("steps=5", "seconds=1"),
    show_default=True,
    help="Parameters of the first job.",
)
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=2, show_default=True)
@queues_option
@click.option("--no-beat", is_flag=True, help="Do not start Celery beat.")
@click.option("--no-api", is_flag=True, help="Do not start the HTTP API.")
@click.option(
    "--housekeeping",
    is_flag=True,
    help="Print the lifecycle of housekeeping jobs (beat's reaper, outbox, purge) too.",
)
@pass_state
def serve(
    state: CliState,
    first_job: str,
    params: Sequence[str],
    concurrency: int,
    queues: str | None,
    no_beat: bool,
    no_api: bool,
    housekeeping: bool,
) -> None:
    """Run jobhub on this machine: prepare the database, start a worker, beat and the HTTP
    API, start a first job and print every job's lifecycle as it moves, until Ctrl-C
    (housekeeping jobs' only with --housekeeping).

    With no JOBHUB_* variables set this needs no server at all: the database is a SQLite
    file and the broker a folder, both under ./.jobhub. Logs go to .jobhub/*.log.

    \b
    Example:
      jobhub serve --start diagnostics.echo -p message=hello
    """
    settings = state.settings
    worker_args = ["worker", f"--concurrency={concurrency}"]
    if queues is not None:
        worker_args.append(f"--queues={','.join(queue_names(queues, settings.queue))}")
    manager = state.manager
    before, after = migrate.upgrade(manager.app.runtime.engine, default_queue=settings.queue)
    click.echo(f"jobhub serving: {settings.describe()}")
    click.echo(f"schema at revision {after}" + ("" if before == after else " (upgraded)"))
    first = None
    if first_job:
        definition = manager.job_type(first_job)
        first = parse_assignments(definition.name, definition.params, params)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    children = _Children(settings.data_dir)
    run_key: IssuedKey | None = None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        children.start("worker", worker_args)
        if not no_beat:
            children.start("beat", ["beat"])
        if not no_api:
            children.start("api", ["api"])
            run_key = manager.access.create_api_key(
                identity="jobhub serve",
                organization="local",
                role="admin",
                reason="the dashboard key of this serve run, revoked when it stops",
            )
            address = f"http://{settings.api_host}:{settings.api_port}"
            click.echo(f"HTTP API on {address} (docs at /docs)")
            click.echo(f"dashboard on {address}/ui; sign in with {run_key.token}")
            click.echo("  (an admin key for this run only, revoked when serve stops)")
        last_event = manager.last_event_id()
        if first is not None:
            job = manager.start_job(first_job, first, identity="jobhub serve")
            click.echo(f"started {first_job} {job.id}")
        click.echo("every job's lifecycle follows; Ctrl-C stops everything")
        seen_percent: dict[str, int] = {}
        while True:
            children.check()
            for event_id, job_type, event in manager.recent_events(last_event):
                last_event = event_id
                if not housekeeping and _is_housekeeping(job_type):
                    continue
                click.echo(render.event_line(event, job_type))
                if event.status.is_terminal:
                    _print_outcome(manager, str(event.job_id))
            for running in manager.running_jobs(limit=20):
                key = str(running.id)
                if seen_percent.get(key) != running.percent:
                    seen_percent[key] = running.percent
                    click.echo(
                        f"{render.when(running.updated_at)}  {running.job_type} {running.id}  "
                        f"{running.percent}%  {running.status_text or ''}"
                    )
            time.sleep(0.25)
    except KeyboardInterrupt:
        click.echo("\nstopping...")
    finally:
        children.stop()
        if run_key is not None:
            manager.access.revoke_api_key(run_key.key.id, reason="serve stopped")
        click.echo("stopped")


def _is_housekeeping(job_type: str) -> bool:
    definition = find_definition(job_type)
    return definition is not None and definition.housekeeping


def _print_outcome(manager: JobManager, job_id: str) -> None:
    job = manager.get_job(job_id)
    if job.status is JobStatus.COMPLETED:
        documents = manager.access.job_documents([job.id])[job.id]
        click.echo(f"    result {render.outcome_text(job, documents)}")
    elif job.error is not None:
        click.echo(f"    error  {job.error.type}: {job.error.message}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Children:
    """The worker and beat processes ``serve`` runs, each in its own process group."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def start(self, name: str, args: Sequence[str]) -> None:
        log_path = self._data_dir / f"{name}.log"
        log = log_path.open("ab")
        self._logs.append(log)
        self._procs[name] = subprocess.Popen(
            [sys.executable, "-m", "jobhub", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop them in order
        )
        click.echo(f"{name} started (pid {self._procs[name].pid}, log {log_path})")

    def check(self) -> None:
        for name, proc in self._procs.items():
            code = proc.poll()
            if code is not None:
                raise click.ClickException(
                    f"{name} exited with code {code}; see {self._data_dir / (name + '.log')}"
                )

    def stop(self, grace: float = 15.0) -> None:
        """Ask each to shut down warmly (Celery finishes running jobs), then force it."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self._logs:
            log.close()


COMMANDS: list[click.Command] = [worker, beat, flower, api, serve]
