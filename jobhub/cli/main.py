"""The ``jobhub`` command: the click group, and the one table that turns errors into exit
codes. Each command family lives in its own module and knows nothing of the group.

Errors map to one line on stderr and an exit code, in one table (``EXIT_CODES``); no
command prints a traceback for a jobhub error or bad input. Warnings and errors that
library code logs go to stderr through ``jobhub.logs``; ``worker``, ``beat`` and ``api``
then log at their own ``--loglevel``.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from jobhub.cli import (
    apikey,
    audit,
    db,
    gates,
    health,
    jobs,
    processes,
    runner,
    schedule,
    workflows,
)
from jobhub.cli.context import CliState
from jobhub.config import Settings
from jobhub.errors import (
    ConfigurationError,
    Conflict,
    DispatchError,
    InvalidInput,
    JobHubError,
    NotFound,
    StorageError,
    WaitTimeout,
)
from jobhub.logs import configure_logging

EXIT_CODES: dict[type[JobHubError], int] = {
    InvalidInput: 2,
    NotFound: 3,
    Conflict: 4,
    WaitTimeout: 5,
    StorageError: 6,
    DispatchError: 7,
    ConfigurationError: 8,
}
"""Exit code per error family; any other jobhub error exits 1, a usage error 2."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="jobhub")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """jobhub: background jobs on Celery with a persisted lifecycle.

    Configuration comes from JOBHUB_* environment variables; with none set, jobhub uses
    the embedded default under ./.jobhub (a SQLite file and a file broker).

    \b
    Example:
      jobhub db upgrade && jobhub worker &
      jobhub start diagnostics.sleep -p steps=3 -p seconds=0.5 --wait
    """
    if ctx.obj is None:
        ctx.obj = CliState()


for family in (jobs, workflows, schedule, gates, runner, processes, db, health, apikey, audit):
    for command in family.COMMANDS:
        cli.add_command(command)


def exit_code_for(error: JobHubError) -> int:
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return 1


def main() -> None:
    """Console entry point: run the group and turn errors into one line each."""
    state = CliState()
    _log_warnings(state)
    try:
        code = cli.main(standalone_mode=False, prog_name="jobhub", obj=state)
    except JobHubError as exc:
        _fail(str(exc), exit_code_for(exc))
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(2)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _fail(f"{exc.format_message()}{hint}", 2)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("JOBHUB_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set JOBHUB_DEBUG=1 for details)", 70)
    else:
        sys.exit(code if isinstance(code, int) else 0)


def _log_warnings(state: CliState) -> None:
    """Library warnings and errors to stderr, in the configured format. Settings that do
    not read leave the text format; the command that needs them reports the error."""
    try:
        settings = state.settings
    except ConfigurationError:
        settings = Settings()
    configure_logging(settings, logging.WARNING)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)
