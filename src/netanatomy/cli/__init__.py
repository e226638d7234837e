"""The ``netanatomy`` command line."""

from netanatomy.cli.main import app, main

__all__ = ["app", "main"]
