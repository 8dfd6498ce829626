"""``python -m reglab``: the same as the ``reglab`` command (and ``python -m reglab.cli``)."""

from reglab.cli import main

main()
