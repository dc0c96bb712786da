"""The command line: ``deconfliction serve | check | token | import | export | demo | version``.

Every option is also read from ``DECONFLICTION_<OPTION>`` (e.g. ``DECONFLICTION_PORT``).

``check`` exit codes (for scripts): 0 ``NO_KNOWN_MATCH`` (never a clearance), 3 ``HOLD``,
4 no complete answer — treat as ``HOLD`` (index loading, rate-limited, server unreachable),
1 the request was refused (bad input, bad token), 2 usage error.

The typer app and what the commands share are in ``base``; each command group registers
itself on the app in its own module, imported here in the order ``--help`` lists them.
"""

from deconfliction.cli.base import (
    EXIT_HOLD,
    EXIT_NO_KNOWN_MATCH,
    EXIT_REFUSED,
    EXIT_TREAT_AS_HOLD,
    app,
    main,
)

# The command modules register themselves on the app when imported: in the order
# ``--help`` lists the commands (and then the groups).
# isort: off
from deconfliction.cli import serve, check, tokens, tak, registry_io, demo
from deconfliction.cli import audit, review, retention, version

# isort: on

__all__ = [
    "EXIT_HOLD",
    "EXIT_NO_KNOWN_MATCH",
    "EXIT_REFUSED",
    "EXIT_TREAT_AS_HOLD",
    "app",
    "audit",
    "check",
    "demo",
    "main",
    "registry_io",
    "retention",
    "review",
    "serve",
    "tak",
    "tokens",
    "version",
]
