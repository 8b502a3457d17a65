"""``python -m jobhub``: the same as the ``jobhub`` command."""

from jobhub.cli.main import main

main()
