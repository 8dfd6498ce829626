"""``reglab report runs/NAME``: rebuild an experiment's report from its store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reglab.cli._shared import check_lang_flag
from reglab.cli.options import LangOpt
from reglab.report.report import build_report

__all__ = ["register"]


def report(
    experiment: Path = typer.Argument(..., help="An experiment folder, e.g. "
                                      "runs/compare-digits."),
    lang: Optional[str] = LangOpt(None, "the experiment's (compare --lang), else en"),
) -> None:
    """Rebuild report.html and report.md of an experiment from its store alone."""
    html, md = build_report(experiment, lang=check_lang_flag(lang, "report"))
    typer.echo(f"Wrote {html}")
    typer.echo(f"Wrote {md}")


def register(app) -> None:
    """Add ``reglab report`` to the Typer ``app``."""
    app.command("report")(report)
