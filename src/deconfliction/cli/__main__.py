"""``python -m deconfliction.cli`` is the ``deconfliction`` command too, as before the split."""

from deconfliction.cli import main

main()
