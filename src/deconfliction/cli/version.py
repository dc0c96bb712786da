"""``deconfliction version``: registered last, so that it is listed after the other commands."""

from __future__ import annotations

from deconfliction import __version__
from deconfliction.cli.base import app


@app.command()
def version() -> None:
    """Print the version."""
    print(f"deconfliction {__version__}")
