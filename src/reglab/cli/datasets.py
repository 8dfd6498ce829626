"""``reglab datasets``: the built-in data sets."""

from __future__ import annotations

import reglab.data
from reglab.cli._shared import check_lang_flag
from reglab.cli.options import LangOpt
from reglab.report import console as display

__all__ = ["register"]


def datasets(lang: str = LangOpt("en")) -> None:
    """List the built-in data sets: name, kind and a one-line summary."""
    lang = check_lang_flag(lang, "datasets")
    display.print_datasets(reglab.data.available(), lang)


def register(app) -> None:
    """Add ``reglab datasets`` to the Typer ``app``."""
    app.command("datasets")(datasets)
