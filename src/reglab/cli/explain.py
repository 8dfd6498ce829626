"""``reglab explain [TOPIC]``: the note's interview questions, each answered by a measurement.

An unknown topic raises InvalidParameterError (listing the topics), an unknown ``--lang``
one naming the flag: the entry point prints its one line and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reglab.cli._shared import check_lang_flag
from reglab.cli.options import LangOpt, option
from reglab.report import explain as E

__all__ = ["register"]


def explain(
    topic: Optional[str] = typer.Argument(None, help="One of: " + ", ".join(E.TOPICS) + ".",
                                          show_default="all five"),
    out: Path = option(Path("explain.html"), "--out", help="HTML page to write."),
    quick: bool = option(False, "--quick", help="Reduced sizes (seconds per topic)."),
    lang: str = LangOpt("en"),
) -> int:
    """Answer the note's interview questions, each with a short measured experiment."""
    return E.main(topic, out, quick, typer.echo, lang=check_lang_flag(lang, "explain"))


def register(app) -> None:
    """Add ``reglab explain`` to the Typer ``app``."""
    app.command("explain")(explain)
