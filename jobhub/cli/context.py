"""What every command shares: settings and a manager, built on first use."""

from __future__ import annotations

from functools import cached_property

import click

from jobhub.config import Settings
from jobhub.manager import JobManager


class CliState:
    """Held in click's context object; nothing connects until a command needs it."""

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_env()

    @cached_property
    def manager(self) -> JobManager:
        return JobManager.from_settings(self.settings)


pass_state = click.make_pass_decorator(CliState)
"""Give a command the ``CliState`` of its invocation."""
