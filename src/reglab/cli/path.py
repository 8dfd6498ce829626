"""``reglab path``: a regularization path and the selected strength."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reglab.cli._progress import counted
from reglab.cli._shared import Origin, check_lang_flag, restated
from reglab.cli.options import LangOpt, option
from reglab.lab import path as P
from reglab.report.i18n import t, texts

__all__ = ["register"]


def path(
    data: str = option("sparse", "--data", "-d", help="Data set."),
    penalty: str = option("l1", "--penalty", "-p", help="l1, l2, group or dropout."),
    out: Path = option(Path("runs/path"), "--out", "-o", help="Folder for path.csv, path.png "
                       "and path.md."),
    n_strengths: int = option(20, "--n-strengths", help="Grid size."),
    eps: Optional[float] = option(None, "--eps", help="Smallest / largest strength.",
                                  show_default="0.01 if fewer samples than features, else 1e-3"),
    seed: int = option(0, "--seed", "-s", help="Split and model seed."),
    model: Optional[str] = option(None, "--model", "-m", help="linear, mlp or cnn (images and "
                                  "signals; l1 / group act on the first conv layer).",
                                  show_default="linear; mlp for dropout"),
    lang: str = LangOpt("en"),
) -> None:
    """Fit a regularization path and select a strength (best validation and 1-SE rule)."""
    lang = check_lang_flag(lang, "path")
    with restated({"model": Origin(flag="'--model' / '-m'"),
                   "penalty": Origin(flag="'--penalty' / '-p'")}):
        bar = t("cli.path.bar", lang, penalty=penalty, data=data)
        with counted(bar, lang=lang) as tick:  # a bar on stderr, the time left
            P.main(data, penalty, out, n_strengths=n_strengths, eps=eps, seed=seed,
                   echo=typer.echo, progress=tick, model=model, texts=texts("path", lang))


def register(app) -> None:
    """Add ``reglab path`` to the Typer ``app``."""
    app.command("path")(path)
