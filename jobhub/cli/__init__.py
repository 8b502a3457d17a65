"""The ``jobhub`` command line: the group and its error table in ``main.py``, one module
per command family beside it."""

from jobhub.cli.main import cli, main

__all__ = ["cli", "main"]
