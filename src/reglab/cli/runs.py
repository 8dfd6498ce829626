"""``reglab runs`` (alias ``ls``): the experiments under --out with their runs per status."""

from __future__ import annotations

from pathlib import Path

from reglab.cli._shared import check_lang_flag
from reglab.cli.options import LangOpt, OutOpt
from reglab.lab.store import list_experiments
from reglab.report import console as display

__all__ = ["register"]


def runs(out: Path = OutOpt, lang: str = LangOpt("en")) -> None:
    """List the experiments under --out with their runs per status (alias: ls)."""
    lang = check_lang_flag(lang, "runs")
    display.print_experiments(list_experiments(out), out, lang)


def ls(out: Path = OutOpt, lang: str = LangOpt("en")) -> None:
    """Alias of `reglab runs`."""
    runs(out, lang)


def register(app) -> None:
    """Add ``reglab runs`` and its hidden alias ``reglab ls`` to the Typer ``app``."""
    app.command("runs")(runs)
    app.command("ls", hidden=True)(ls)
