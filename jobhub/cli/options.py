"""Options and arguments used by more than one command, each defined once."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from jobhub.durations import parse_duration
from jobhub.errors import InvalidDuration


# ParamType is generic from click 8.4 on; jobhub still supports click 8.1.
class Duration(click.ParamType):  # type: ignore[type-arg]
    """A duration as everywhere in jobhub: ``250ms``, ``90s``, ``1h30m``, ``2d``, or a bare
    number of seconds. Bad text is a usage error (exit 2) saying what was wrong."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except InvalidDuration as exc:
            self.fail(exc.message, param, ctx)


DURATION = Duration()
"""The one click type of every option that takes a duration."""


class Moment(click.ParamType):  # type: ignore[type-arg]
    """An instant in ISO 8601 (``2026-12-01T09:00:00Z``, ``2026-12-01T10:00+01:00``). Text
    that is not one is a usage error (exit 2); a time without its zone is read as given,
    for the manager to refuse in its own words."""

    name = "iso-time"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"not an ISO 8601 time: {value!r} (use e.g. 2026-12-01T09:00:00Z)", param, ctx
            )


MOMENT = Moment()
"""The one click type of every option that takes an instant."""

reason_option = click.option(
    "--reason",
    metavar="TEXT",
    help="Why you do this; kept with the action in the audit trail (jobhub audit).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
job_id_argument = click.argument("job_id", metavar="ID")
timeout_option = click.option(
    "--timeout",
    type=DURATION,
    default=None,
    help="Give up after this long: 90s, 5m, 1h30m or seconds (default: wait as long as it takes).",
)
passthrough = {"ignore_unknown_options": True, "allow_extra_args": True}
"""Context settings of commands that hand their extra arguments to Celery or Flower."""
