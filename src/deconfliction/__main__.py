"""``python -m deconfliction`` is the ``deconfliction`` command."""

from deconfliction.cli import main

main()
