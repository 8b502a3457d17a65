"""``jobhub apikey create|revoke|list``: keys for the HTTP API (the CLI itself needs none)."""

from __future__ import annotations

import json

import click

from jobhub.api_keys import Role
from jobhub.audit import Actor
from jobhub.cli.context import CliState, pass_state
from jobhub.cli.options import reason_option


@click.group()
def apikey() -> None:
    """Keys for the HTTP API: each names an identity, an organization and a role.

    \b
    Roles: viewer (read), operator (also start, cancel, rerun), admin (also schedules).

    \b
    Example:
      jobhub apikey create --identity alice --organization acme --role operator
      jobhub apikey revoke 3f9c2a7d41b0e865
    """


@apikey.command()
@click.option("--identity", required=True, help="Who uses the key (shown as the submitter).")
@click.option("--organization", required=True, help="The tenant whose jobs it sees.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.VIEWER.value,
    show_default=True,
)
@reason_option
@click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")
@pass_state
def create(
    state: CliState,
    identity: str,
    organization: str,
    role: str,
    reason: str | None,
    as_json: bool,
) -> None:
    """Create a key and print it once: only its hash is kept.

    \b
    Example:
      jobhub apikey create --identity alice --organization acme --role operator
    """
    issued = state.manager.access.create_api_key(
        identity=identity,
        organization=organization,
        role=role,
        actor=Actor.local(),
        reason=reason,
    )
    key = issued.key
    if as_json:
        record = {
            "id": key.id,
            "token": issued.token,
            "identity": key.identity,
            "organization": key.organization,
            "role": key.role.value,
        }
        click.echo(json.dumps(record))
        return
    click.echo(issued.token)
    click.echo(
        f"key {key.id}: {key.identity} in {key.organization} as {key.role.value}; "
        "send it as 'Authorization: Bearer <key>'. It is not shown again.",
        err=True,
    )


@apikey.command()
@click.argument("key_id")
@reason_option
@pass_state
def revoke(state: CliState, key_id: str, reason: str | None) -> None:
    """Revoke the key with id KEY_ID (the part after jh_); it stops working at once.

    \b
    Example:
      jobhub apikey revoke 3f9c2a7d41b0e865 --reason "alice left"
    """
    state.manager.access.revoke_api_key(key_id, actor=Actor.local(), reason=reason)
    click.echo(f"revoked {key_id}")


@apikey.command(name="list")
@pass_state
def list_keys(state: CliState) -> None:
    """Every key: id, identity, organization, role, created, revoked (never the secret).

    \b
    Example:
      jobhub apikey list
    """
    for key in state.manager.access.api_keys():
        revoked = f"  revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
        click.echo(
            f"{key.id}  {key.organization}  {key.identity}  {key.role.value}  "
            f"created {key.created_at:%Y-%m-%d %H:%M}{revoked}"
        )


COMMANDS: list[click.Command] = [apikey]
