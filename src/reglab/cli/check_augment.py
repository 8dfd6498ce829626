"""``reglab check-augment``: do the augmentations keep the labels?"""

from __future__ import annotations

from typing import Optional

import typer

import reglab.data
from reglab import augment as A
from reglab.cli._shared import EXIT_RUN_FAILED, Origin, check_lang_flag, restated
from reglab.lab.label_check import check_labels
from reglab.cli.options import LangOpt, TargetOpt, option
from reglab.report.i18n import texts

__all__ = ["register"]


def check_augment(
    data: str = option("digits", "--data", "-d", help="Data set to check on."),
    augment: str = option(..., "--augment", "-a", help="Augmentations, comma-separated."),
    target: Optional[str] = TargetOpt,
    strength: float = option(1.0, "--strength", help="Augmentation strength."),
    seed: int = option(0, "--seed", help="Seed of the split and the draws."),
    lang: str = LangOpt("en"),
) -> None:
    """Check that augmentations keep labels (flags transforms that change them).

    A quick model fitted on clean data is scored on augmented copies of the validation
    split; a transform whose accuracy drop stands out is flagged. Exit code 0 when none is
    flagged, 1 when one is (so a script can stop on it).
    """
    lang = check_lang_flag(lang, "check-augment")
    options = {} if target is None else {"target": target}
    ds = reglab.data.load(data, seed=seed, **options)
    with restated({"augment": Origin(flag="'--augment' / '-a'"),
                   "augment_strength": Origin(flag="'--strength'")}):
        pipeline = A.from_names(augment, ds.kind, seed=seed, strength=strength)
    report = check_labels(ds, pipeline)
    typer.echo(report.render(texts("label_check", lang)))
    if report.flagged:
        raise typer.Exit(EXIT_RUN_FAILED)


def register(app) -> None:
    """Add ``reglab check-augment`` to the Typer ``app``."""
    app.command("check-augment")(check_augment)
