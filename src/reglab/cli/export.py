"""``reglab export runs/NAME --tensorboard [--csv]``: an experiment for other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reglab._validation import InvalidParameterError, fail
from reglab.cli._shared import require
from reglab.cli.options import option
from reglab.lab.store import Store, export_csv
from reglab.report.tensorboard import export_tensorboard

__all__ = ["register"]


def export(
    experiment: Path = typer.Argument(..., help="An experiment folder, e.g. runs/compare-digits."),
    tensorboard: bool = option(False, "--tensorboard", help="Write TensorBoard event files: "
                               "scalars per epoch, hyperparameters and final metrics (HParams)."),
    logdir: Optional[Path] = option(None, "--logdir", help="Where the TensorBoard files go.",
                                    show_default="EXPERIMENT/tensorboard"),
    csv: bool = option(False, "--csv", help="Rewrite results.csv and epochs.csv from the store."),
) -> None:
    """Export an experiment: TensorBoard event files and/or its CSV files.

    Then: tensorboard --logdir EXPERIMENT/tensorboard
    """
    if not (tensorboard or csv):
        raise InvalidParameterError("reglab export needs --tensorboard and/or --csv: say what "
                                    "to export.")
    if not (experiment / "reglab.sqlite").is_file():
        raise fail("export", "experiment", "a folder holding reglab.sqlite (made by reglab "
                   "compare or reglab run)", str(experiment))
    if csv:
        conn = Store.read_only(experiment.parent, experiment.name)
        try:
            path = export_csv(conn, experiment / "results.csv")
        finally:
            conn.close()
        typer.echo(f"Wrote {path} and {path.with_name('epochs.csv')}")
    if tensorboard:
        require("tensorboard", "export --tensorboard", "tensorboard")
        folder = export_tensorboard(experiment, logdir)
        typer.echo(f"Wrote TensorBoard files to {folder}; view them with: "
                   f"tensorboard --logdir {folder}")


def register(app) -> None:
    """Add ``reglab export`` to the Typer ``app``."""
    app.command("export")(export)
