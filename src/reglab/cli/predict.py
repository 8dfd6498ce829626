"""``reglab predict RUN_OR_WEIGHTS --data new.csv``: a trained run's predictions as CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from reglab._validation import InvalidParameterError
from reglab.cli.options import option
from reglab.lab.model_file import load_model, write_predictions

__all__ = ["register", "weights_path"]


def weights_path(where: Path, run: Optional[str]) -> Path:
    """The weights file meant by ``where``: a .safetensors file, ``runs/NAME/RUN_ID``, or an
    experiment folder whose ``models/`` holds one run (or the run named by ``run``)."""
    if where.is_file():
        return where
    named = where.parent / "models" / f"{where.name}.safetensors"
    if run is None and not where.exists() and named.is_file():  # runs/NAME/l2-s0
        return named
    models = where / "models"
    if not models.is_dir():
        raise InvalidParameterError(
            f"The 'RUN_OR_WEIGHTS' argument of predict must be a .safetensors file or an "
            f"experiment folder holding models/ (e.g. runs/NAME). Got {str(where)!r} instead.")
    found = sorted(p.stem for p in models.glob("*.safetensors"))
    if run is not None:
        if run not in found:
            raise InvalidParameterError(
                f"The '--run' option of predict must name a run with weights in {str(models)!r}: "
                f"{', '.join(found) or 'none'}. Got {run!r} instead.")
        return models / f"{run}.safetensors"
    if len(found) != 1:
        raise InvalidParameterError(
            f"The experiment {str(where)!r} holds {len(found)} models "
            f"({', '.join(found[:8]) or 'none'}{', ...' if len(found) > 8 else ''}); pass "
            f"--run ID or the .safetensors file itself.")
    return models / f"{found[0]}.safetensors"


def predict(
    weights: Path = typer.Argument(..., metavar="RUN_OR_WEIGHTS", help="A models/*.safetensors "
                                   "file, runs/NAME/RUN_ID, or an experiment folder "
                                   "(runs/NAME) with one run."),
    data: Path = option(..., "--data", "-d", help="Rows to predict: a .csv / .tsv with the "
                        "training's columns as raw cells (text categories, NA cells; others are "
                        "ignored), or an .npz with an array X."),
    out: Optional[Path] = option(None, "--out", "-o", help="Where to write the predictions CSV.",
                                 show_default="stdout"),
    run: Optional[str] = option(None, "--run", help="Which run of the experiment folder.",
                                show_default="its only run"),
) -> None:
    """Predict new rows with a trained run: the class and one probability column per class
    (a regression run: the predicted value, in the target's units).

    The rows are raw (as in the training file): the training's encoders (categories, fill
    values) and standardization are applied.
    """
    _, predictor = load_model(weights_path(weights, run))
    result = predictor(data)  # everything is read and checked before anything is written
    if out is None:
        write_predictions(result, sys.stdout)
        return
    with open(out, "w", newline="") as fh:
        write_predictions(result, fh)
    typer.echo(f"Wrote {len(result)} predictions to {out}", err=True)


def register(app) -> None:
    """Add ``reglab predict`` to the Typer ``app``."""
    app.command("predict")(predict)
