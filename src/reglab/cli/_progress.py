"""A bar with the time left for the commands' long steps (label check, path, tune).

``counted(description, quiet)`` is a context manager that yields a ``tick(done, total)``
callback (the label check's ``progress``, the path's per-strength and tune's per-trial hook
call it): a rich bar on stderr with the count, the time elapsed and rich's time remaining
(``TimeRemainingColumn``, from the recent rate), removed when the step ends. Quiet: a no-op.

Example::

    with counted("label check", quiet) as tick:
        report = check_labels(ds, pipeline, progress=tick)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from reglab.report import console as display
from reglab.report.i18n import t

__all__ = ["counted", "phased"]


@contextlib.contextmanager
def counted(description: str, quiet: bool = False, lang: str = "en"
            ) -> Iterator[Callable[[int, int], None]]:
    """A ``tick(done, total)`` callback driving one transient bar (a no-op when quiet, or
    when stderr is not a terminal: a log or a pipe gets no bar, and no stray blank line);
    ``description`` is already in ``lang``, the bar's own "eta" is put in it here."""
    with phased([description], quiet, lang) as (tick,):
        yield tick


@contextlib.contextmanager
def phased(descriptions: list[str], quiet: bool = False, lang: str = "en"
           ) -> Iterator[list[Callable[[int, int], None]]]:
    """One ``tick(done, total)`` per description, each its own row of one transient bar
    display, shown from its first tick (steps that follow each other: tune's trials, then
    its confirmation). Quiet, or stderr not a terminal: no-ops."""
    if quiet or not display.err_console().is_terminal:
        yield [lambda done, total: None for _ in descriptions]
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn(t("cli.progress.eta", lang)),
                   TimeRemainingColumn(),
                   console=display.err_console(), transient=True,
                   refresh_per_second=display.REFRESH_PER_SECOND)
    tasks = [bar.add_task(d, total=None, visible=False, start=False) for d in descriptions]

    def ticker(task):
        def tick(done: int, total: int) -> None:
            if not next(x for x in bar.tasks if x.id == task).started:
                bar.start_task(task)  # its clock starts at its first tick
            bar.update(task, completed=done, total=total, visible=True)
        return tick

    with bar:
        yield [ticker(task) for task in tasks]
