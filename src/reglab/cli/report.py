"""``reglab report runs/NAME``: rebuild an experiment's report from its store; with
``--storage URL --name NAME``, from a store shared by many machines, at any moment."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reglab._validation import InvalidParameterError
from reglab.cli._shared import check_lang_flag, shared_module
from reglab.cli.options import LangOpt, OutOpt, option
from reglab.lab.store import FINISHED
from reglab.report import console as display
from reglab.report.report import build_report

__all__ = ["register"]


def report(
    experiment: Optional[Path] = typer.Argument(None, help="An experiment folder, e.g. "
                                                "runs/compare-digits.", show_default=False),
    storage: Optional[str] = option(None, "--storage", help="A PostgreSQL URL holding a "
                                    "shared experiment (reglab compare --storage): its "
                                    "tables, results.csv and report, as they are now.",
                                    show_default="none"),
    name: Optional[str] = option(None, "--name", "-n", help="With --storage: the experiment.",
                                 show_default="none"),
    out: Path = OutOpt,
    lang: Optional[str] = LangOpt(None, "the experiment's (compare --lang), else en"),
) -> None:
    """Rebuild report.html and report.md of an experiment from its store alone."""
    lang = check_lang_flag(lang, "report")
    if storage is None:
        if experiment is None or name is not None:
            raise InvalidParameterError(
                "reglab report takes an experiment folder (reglab report runs/NAME) or "
                "--storage URL --name NAME.")
        html, md = build_report(experiment, lang=lang)
    else:
        if experiment is not None or name is None:
            raise InvalidParameterError(
                "reglab report --storage URL needs --name NAME and no experiment folder.")
        html, md = _shared_report(storage, name, out, lang)
    typer.echo(f"Wrote {html}")
    typer.echo(f"Wrote {md}")


def _shared_report(storage: str, name: str, out: Path, lang: Optional[str] = None
                   ) -> tuple[Path, Path]:
    """Copy the shared experiment into ``out/name``, print its tables, say how many runs are
    still open, and build the report there."""
    shared = shared_module()
    with shared.SharedStore.open(storage, name, out / name, create=False) as store:
        runs = store.snapshot(lambda local: local.runs())
    con = display.console(False)
    done = [r for r in runs if r["status"] in FINISHED]
    if done:
        display.print_comparison(con, done, title=f"{name} (shared)", data=None,
                                 root=out / name, lang=lang or "en")
    still = len(runs) - len(done)
    con.print(f"{len(done)} of {len(runs)} runs finished" + (
        f"; {still} still open (pending, running or interrupted): a partial result"
        if still else ""))
    return build_report(out / name, lang=lang)


def register(app) -> None:
    """Add ``reglab report`` to the Typer ``app``."""
    app.command("report")(report)
