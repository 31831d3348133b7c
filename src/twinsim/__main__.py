"""``python -m twinsim``: the same as the ``twinsim`` command."""

from twinsim.cli import main

main()
