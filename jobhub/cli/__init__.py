"""The ``jobhub`` command line (``jobhub.cli.main``), one module per command family."""
