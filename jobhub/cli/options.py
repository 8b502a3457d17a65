"""Options and arguments used by more than one command, each defined once."""

from __future__ import annotations

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
job_id_argument = click.argument("job_id", metavar="ID")
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Give up after this many seconds (default: wait as long as it takes).",
)
passthrough = {"ignore_unknown_options": True, "allow_extra_args": True}
"""Context settings of commands that hand their extra arguments to Celery or Flower."""
