"""The typer app and what every command shares: exit codes, the two consoles, the options
read from ``DECONFLICTION_<OPTION>``, errors, plain lines and times given on the command line.

The commands register themselves on :data:`app` in their own modules; importing
``deconfliction.cli`` imports them all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deconfliction.domain import limits

EXIT_NO_KNOWN_MATCH = 0
EXIT_REFUSED = 1
EXIT_HOLD = 3
EXIT_TREAT_AS_HOLD = 4

app = typer.Typer(
    name="deconfliction",
    help="Stops mistaken-identity incidents: a registry of friendly and protected assets "
    "and a pre-action check that only ever warns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def env_var(flag: str) -> str:
    """The environment variable an option is also read from: ``DECONFLICTION_<FLAG>``."""
    return "DECONFLICTION_" + flag.upper().replace("-", "_")


DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar=env_var("data_dir"), help="Where the store lives.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar=env_var("database_url"),
        help="postgresql://user@host:port/db, or sqlite:///path (default: the file in --data-dir).",
    ),
]


def fail(message: str, code: int = EXIT_REFUSED) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the exit it returns."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def say(text: str) -> None:
    """A plain line on stdout (never wrapped: URLs and tokens stay copyable)."""
    print(text, flush=True)


def parse_time_option(flag: str, text: str) -> datetime:
    """An RFC 3339 time with a zone, or a usage error naming the flag."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{flag}: not an RFC 3339 time: {text!r}", code=2) from None
    if value.tzinfo is None:
        raise fail(f"{flag}: the time needs a zone (e.g. Z): {text!r}", code=2)
    if not limits.time_in_range(value):
        raise fail(f"{flag}: must be {limits.describe_time_range()}: {text!r}", code=2)
    return value.astimezone(UTC)


def main() -> None:
    app()
