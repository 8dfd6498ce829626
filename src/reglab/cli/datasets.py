"""``reglab datasets``: the built-in data sets."""

from __future__ import annotations

import reglab.data
from reglab.report import console as display

__all__ = ["register"]


def datasets() -> None:
    """List the built-in data sets: name, kind and a one-line summary."""
    display.print_datasets(reglab.data.available())


def register(app) -> None:
    """Add ``reglab datasets`` to the Typer ``app``."""
    app.command("datasets")(datasets)
