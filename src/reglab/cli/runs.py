"""``reglab runs`` (alias ``ls``): the experiments under --out with their runs per status."""

from __future__ import annotations

from pathlib import Path

from reglab.cli.options import OutOpt
from reglab.lab.store import list_experiments
from reglab.report import console as display

__all__ = ["register"]


def runs(out: Path = OutOpt) -> None:
    """List the experiments under --out with their runs per status (alias: ls)."""
    display.print_experiments(list_experiments(out), out)


def ls(out: Path = OutOpt) -> None:
    """Alias of `reglab runs`."""
    runs(out)


def register(app) -> None:
    """Add ``reglab runs`` and its hidden alias ``reglab ls`` to the Typer ``app``."""
    app.command("runs")(runs)
    app.command("ls", hidden=True)(ls)
