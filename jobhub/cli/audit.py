"""``jobhub audit``: who did what, from the audit trail (every organization's)."""

from __future__ import annotations

import click

from jobhub.audit import MAX_ENTRIES
from jobhub.cli import render
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import json_option
from jobhub.formats.audit_records import audit_record


@click.command(name="audit")
@click.option(
    "--since",
    metavar="DURATION|ISO-TIME",
    help="Only actions from then on: a duration back from now (90m, 1h, 7d) or an ISO 8601 "
    "time with its zone (2026-12-01T09:00:00Z).",
)
@click.option(
    "--actor",
    metavar="NAME",
    help="Only this identity's actions: a key's identity, or local:USER for the CLI.",
)
@click.option(
    "--organization", metavar="NAME", help="Only the actions of this organization's keys."
)
@click.option(
    "--limit", type=click.IntRange(1, MAX_ENTRIES), default=50, show_default=True, metavar="N"
)
@json_option
@pass_state
def audit(
    state: CliState,
    since: str | None,
    actor: str | None,
    organization: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List the recorded operator actions, newest first: when, who (an API key's identity,
    key id and organization, or the local user of the CLI), what and why.

    Recorded: start, cancel, rerun, delete and start-now of jobs, schedule changes, API
    key creation and revocation, pauses and limits. Starts by beat, retries and recovery
    are jobhub's own and not recorded. Entries are kept for JOBHUB_AUDIT_RETENTION.

    \b
    Examples:
      jobhub audit --since 1h
      jobhub audit --actor local:ops --since 2026-12-01T00:00:00Z --json
      jobhub audit --organization acme --limit 200
    """
    entries = state.manager.audit_entries(
        since=since, actor=actor, organization=organization, limit=limit
    )
    if as_json:
        render.echo_json([audit_record(entry) for entry in entries])
    else:
        click.echo(render.audit_table(entries))


COMMANDS: list[click.Command] = [audit]
