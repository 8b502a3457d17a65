"""``jobhub db`` (create, upgrade, inspect the schema) and ``jobhub check`` (is it all up?)."""

from __future__ import annotations

import json
import sys

import click

from jobhub.cli.context import CliState, pass_state
from jobhub.db import migrate
from jobhub.db.engine import make_engine


@click.group()
def db() -> None:
    """Create, upgrade and inspect the database schema.

    \b
    Example:
      JOBHUB_DATABASE_URL=postgresql://postgres@127.0.0.1/jobhub jobhub db upgrade
    """


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_state
def upgrade(state: CliState, revision: str) -> None:
    """Create the schema, or bring it up to date.

    \b
    Example:
      jobhub db upgrade
    """
    engine = make_engine(state.settings)
    try:
        before, after = migrate.upgrade(engine, revision, default_queue=state.settings.queue)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"database already at revision {after} ({state.settings.describe()})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


@db.command()
@pass_state
def current(state: CliState) -> None:
    """Print the schema revision of the database and of this code.

    \b
    Example:
      jobhub db current
    """
    engine = make_engine(state.settings)
    try:
        revision = migrate.current_revision(engine)
    finally:
        engine.dispose()
    click.echo(f"database {revision or 'empty'}, code {migrate.head_revision()}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_state
def check(state: CliState, as_json: bool) -> None:
    """Check that the database (at this code's schema) and the broker answer; exit 1 if not.

    \b
    Example:
      jobhub check && echo ready
    """
    report = state.manager.admin.readiness()
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(f"{state.settings.describe()}")
        for part, outcome in report.items():
            click.echo(f"{part}: {outcome}")
    if any(outcome != "ok" for outcome in report.values()):
        sys.exit(1)


COMMANDS: list[click.Command] = [db, check]
