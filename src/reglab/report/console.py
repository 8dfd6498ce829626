"""What the CLI prints: progress bars, the comparison table, one run's summary (rich).

Kept apart from the lab's logic so the numbers (``compare.summarize_arms``) can be tested
without a terminal and reused by reports. Tables fit a 100-column terminal (the width when
the output is piped). Every user string (a path, a data set's or an experiment's name, a run
id) goes through :func:`safe` before it reaches rich: control characters shown as escapes
(``reglab._escape.terminal_text``) and ``[`` escaped for rich's markup, so ``--out 'o[/x]'``
is printed, not parsed.

Epochs: the store and the training loop count from 0 (``best_epoch``, the ``epoch`` column);
everything a person reads counts from 1, the first epoch is "epoch 1":
:func:`reglab._epochs.shown_epoch` is the one conversion (re-exported here).
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from reglab._epochs import shown_epoch
from reglab._escape import markdown_text, terminal_text
from reglab.lab.compare import summarize_arms
from reglab.lab.stats import format_ci, format_num, format_pm
from reglab.report import i18n

__all__ = ["console", "err_console", "shown_epoch", "RunProgress", "EpochPrinter",
           "print_comparison",
           "comparison_markdown", "safe",
           "print_single", "print_experiments", "print_datasets", "nullcontext"]


WIDTH = 100  # columns when the output is not a terminal; every table fits in it
# Redraws per second of every progress display (this module's and reglab.cli._progress').
# rich's default (10) redrew make demo's 13 bars every 0.1 s: ~8 ms each, 10 s of CPU in a
# 2-minute job, taken from the two training workers on 2 cores.
REFRESH_PER_SECOND = 2


def safe(text: Any) -> str:
    """A user string ready for rich markup: no control characters, no markup tags."""
    return escape(terminal_text(text))


def console(quiet: bool = False) -> Console:
    """The stdout console; 100 columns when piped (the tables fit in it)."""
    width = None if sys.stdout.isatty() else WIDTH
    return Console(width=width, highlight=False)


def err_console() -> Console:
    """The stderr console (notes, progress)."""
    return Console(stderr=True, highlight=False)


class RunProgress:
    """One bar for the whole job, counted in epochs, with the time left; one bar per running
    run: its epoch and best validation accuracy.

    The time left is rich's estimate from the recent rate of epochs (a run that stops early
    counts its remaining epochs as done), so it holds when runs train in stacks that finish
    together.
    """

    def __init__(self, total: int, already_done: int, epochs: int, lang: str = "en"):
        self.epochs, self.total, self.done = epochs, total, already_done
        self._note = i18n.prefixed("cli.progress", lang)  # the bar's texts in lang
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
            TextColumn(self._note("eta")), TimeRemainingColumn(), console=err_console(),
            transient=True, refresh_per_second=REFRESH_PER_SECOND)
        self._all = self._progress.add_task(self._note("epochs"), total=total * epochs,
                                            completed=already_done * epochs,
                                            note=self._runs_note())
        self._tasks: dict[str, Any] = {}
        self._counted: dict[str, int] = {}  # epochs of a running run already on the main bar
        self._best: dict[str, float] = {}

    def _runs_note(self) -> str:
        return self._note("runs", done=self.done, total=self.total)

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def start(self, run_id: str) -> None:
        """A run was handed to a worker."""
        self._tasks[run_id] = self._progress.add_task(f"  {safe(run_id)}", total=self.epochs,
                                                      note=self._note("starting"))
        self._counted[run_id] = 0

    def epoch(self, run_id: str, epoch: int, val_acc: float | None, val_loss: float | None
              ) -> None:
        """A worker finished an epoch of ``run_id``."""
        if run_id not in self._tasks:
            return
        if val_acc is None:  # a regression run: its best validation loss (standardized MSE)
            if val_loss is not None and math.isfinite(val_loss):
                self._best[run_id] = min(self._best.get(run_id, math.inf), val_loss)
            note = self._note("best_loss", loss=self._best.get(run_id, math.nan))
        else:
            if math.isfinite(val_acc):
                self._best[run_id] = max(self._best.get(run_id, 0.0), val_acc)
            note = self._note("best_acc", acc=100 * self._best.get(run_id, math.nan))
        self._progress.update(self._tasks[run_id], completed=shown_epoch(epoch), note=note)
        step = max(0, min(epoch + 1, self.epochs) - self._counted[run_id])
        self._counted[run_id] += step
        self._progress.advance(self._all, step)

    def finish(self, run_id: str, status: str) -> None:
        """A run ended (done, diverged, failed): its epochs left count as done."""
        task = self._tasks.pop(run_id, None)
        if task is not None:
            self._progress.remove_task(task)
        self.done += 1
        self._progress.advance(self._all, self.epochs - self._counted.pop(run_id, 0))
        self._progress.update(self._all, note=self._runs_note())


class EpochPrinter:
    """``reglab run``'s progress: one line per epoch (in ``lang``)."""

    def __init__(self, out: Console, epochs: int, lang: str = "en"):
        self.out, self.epochs, self._t0 = out, epochs, time.perf_counter()
        self.lang = lang

    def __enter__(self) -> EpochPrinter:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def start(self, run_id: str) -> None:
        self.out.print(f"[bold]{safe(run_id)}[/bold]: "
                       + i18n.t("cli.run.start", self.lang, epochs=self.epochs))

    def epoch(self, run_id: str, epoch: int, val_acc, val_loss) -> None:
        if val_acc is None:  # a regression run
            self.out.print(i18n.t("cli.run.epoch_regression", self.lang, epoch=shown_epoch(epoch),
                                  epochs=self.epochs, val_loss=val_loss))
            return
        self.out.print(i18n.t("cli.run.epoch", self.lang, epoch=shown_epoch(epoch),
                              epochs=self.epochs, val_loss=val_loss, val_acc=100 * val_acc))

    def finish(self, run_id: str, status: str) -> None:
        return None


def _pct(s) -> str:
    return format_pm(s.mean, s.std, scale=100)


_ci = format_ci  # "+1.20 [+0.40, +2.00]", never "-0.00"


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                 pad_edge=False)


def comparison_tables(runs: list[dict], title: str, lang: str = "en"
                      ) -> tuple[Table, Table, Table]:
    """The note's section-7 table with measured numbers (accuracy; weights and cost) and the
    paired differences vs none (its note, measures and verdicts in ``lang``, en or vi).

    Each fits 100 columns: numbers never wrap; an arm's settings and the verdict wrap at
    their spaces, inside their cells.
    """
    rows = summarize_arms(runs)
    if any(r.task == "regression" for r in rows):
        return _regression_tables(rows, title, lang)
    cells = lambda r: (_pct(r.test_acc),  # noqa: E731
                       format_pm(r.test_loss.mean, r.test_loss.std, digits=3), _pct(r.gap))
    return _arm_tables(rows, title, lang, ("console.col.test_acc", "console.test_loss",
                                           "console.col.gap"), cells, _accuracy_diffs)


def _accuracy_diffs(r, lang: str) -> list[tuple[str, str, str]]:
    """An arm's rows of the differences table: test accuracy and test loss vs none."""
    if r.d_acc is None:
        return []
    acc, loss, _ = i18n.verdicts(r, lang=lang)
    return [(i18n.t("console.test_acc", lang), _ci(r.d_acc, scale=100), acc),
            (i18n.t("console.test_loss", lang), _ci(r.d_loss, digits=3), loss)]


def _arm_tables(rows, title: str, lang: str, measures: tuple[str, ...], cells, diffs
                ) -> tuple[Table, Table, Table]:
    """The three tables of :func:`comparison_tables`, for either task: ``measures`` are the
    catalogue keys of the measured table's columns after n, ``cells(row)`` gives a row's
    values under them and ``diffs(row, lang)`` an arm's (measure, difference, verdict) rows
    vs none."""
    L = i18n.labels(lang)  # the report's column names
    t = _table(i18n.t("console.measured", lang, title=safe(title)))
    t.add_column(L["arm"], no_wrap=True)
    t.add_column(L["settings"], ratio=1, min_width=16)
    # numbers must not wrap within 100 columns: a long Vietnamese header is on two lines
    t.add_column("n", justify="right", no_wrap=True)
    for key in measures:
        t.add_column(i18n.t(key, lang), justify="right", no_wrap=True)
    w = _table(i18n.t("console.weights", lang))
    w.add_column(L["arm"], no_wrap=True)
    for col in (L["sparsity_pct"], L["weight_norm"], L["epochs"], L["s_run"]):
        w.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        n = f"{r.n_done}" + (i18n.t("report.diverged", lang, n=r.n_diverged)
                             if r.n_diverged else "")
        t.add_row(safe(r.arm), safe(r.settings), n, *cells(r))
        w.add_row(safe(r.arm), *_weight_cells(r))
    # escaped: rich markup would eat "[interval]"
    d = _table(escape(i18n.t("console.diffs", lang, note=i18n.intervals_note(rows, lang=lang))))
    d.add_column(L["arm"], no_wrap=True)
    d.add_column(i18n.t("console.measure", lang), no_wrap=True)
    d.add_column(escape(i18n.t("console.d_mean", lang)), justify="right", no_wrap=True)
    d.add_column(L["verdict"], ratio=1, min_width=20)
    for r in rows:
        for i, (measure, diff, verdict) in enumerate(diffs(r, lang)):
            d.add_row(safe(r.arm) if i == 0 else "", measure, diff, verdict)
    return t, w, d


def _weight_cells(r) -> tuple[str, str, str, str]:
    """An arm's sparsity %, weight norm, epochs and seconds a run, as the tables show them."""
    return (format_pm(r.sparsity.mean, r.sparsity.std, scale=100, digits=1),
            format_pm(r.weight_norm.mean, r.weight_norm.std, digits=1),
            format_pm(r.epochs.mean, r.epochs.std, digits=0),
            f"{r.seconds.mean:.1f}" if math.isfinite(r.seconds.mean) else "-")


def _fmt(s, digits: int = 2) -> str:
    return format_pm(s.mean, s.std, digits=digits)


def _regression_tables(rows, title: str, lang: str = "en") -> tuple[Table, Table, Table]:
    """:func:`comparison_tables` of a regression experiment: test RMSE, MAE (the target's
    units), R^2 and the test - train RMSE gap; differences of test RMSE and test MAE."""
    cells = lambda r: (_fmt(r.test_rmse), _fmt(r.test_mae), _fmt(r.test_r2),  # noqa: E731
                       _fmt(r.gap))
    return _arm_tables(rows, title, lang, ("console.test_rmse", "console.test_mae",
                                           "console.col.test_r2", "console.col.rmse_gap"),
                       cells, _regression_diffs)


def _regression_diffs(r, lang: str) -> list[tuple[str, str, str]]:
    """An arm's rows of the differences table: test RMSE and test MAE vs none."""
    if r.d_rmse is None:
        return []
    rmse, mae, _ = i18n.verdicts(r, lang=lang)
    return [(i18n.t("console.test_rmse", lang), _ci(r.d_rmse), rmse),
            (i18n.t("console.test_mae", lang), _ci(r.d_mae), mae)]


def print_comparison(out: Console, runs: list[dict], title: str, data: Any, root: Path,
                     lang: str = "en") -> None:
    """Print the comparison tables (verdicts in ``lang``) and where the results live."""
    table, weights, diffs = comparison_tables(runs, title, lang)
    out.print(table)
    out.print(weights)
    if diffs.row_count:
        out.print(diffs)
    out.print(f"[dim]{i18n.t('cli.results_at', lang, root=safe(root))}[/dim]")


def print_single(out: Console, run: dict, epochs: list[dict] | None, root: Path,
                 lang: str = "en") -> None:
    """One run's final metrics and why it stopped (status and the stored English reason
    shown in ``lang``)."""
    f = run["final"]
    out.print(f"[bold]{safe(run['id'])}[/bold] {i18n.status(run['status'], lang)}: "
              f"{safe(i18n.reason(run['reason'], lang))}")
    def scored(key: str) -> bool:
        return math.isfinite(f.get(key) if f.get(key) is not None else math.nan)

    if scored("test_rmse"):
        out.print(i18n.t("cli.run.scores_regression", lang, test_rmse=f["test_rmse"],
                         test_mae=f["test_mae"], test_r2=f["test_r2"],
                         train_rmse=f["train_rmse"], gap=f["gap"]))
    elif scored("test_acc"):
        out.print(i18n.t("cli.run.scores", lang, test_acc=100 * f["test_acc"],
                         test_loss=f["test_loss"], train_acc=100 * f["train_acc"],
                         gap=format_num(100 * f["gap"])))
    if scored("test_rmse") or scored("test_acc"):  # a run with scores: its weights' line
        out.print(i18n.t("cli.run.weights", lang, sparsity=100 * f["sparsity"],
                         norm=f["weight_norm"], epochs=int(f["epochs_trained"]),
                         best=shown_epoch(f["best_epoch"]), seconds=f["seconds"]))
    out.print(f"[dim]{i18n.t('cli.stored', lang, root=safe(root))}[/dim]")


_RUNS_STATUSES = ("done", "diverged", "interrupted", "running", "pending")


def print_experiments(found: list[dict], out_dir: Path, lang: str = "en") -> None:
    """``reglab runs``: one line per experiment with its status counts (headers in ``lang``)."""
    out = console()
    if not found:
        out.print(i18n.t("cli.runs.none", lang, out=safe(out_dir)))
        return
    t = Table(title=i18n.t("cli.runs.title", lang, out=safe(out_dir)), title_justify="left")
    for col in (i18n.t("cli.runs.name", lang), i18n.t("cli.runs.runs", lang),
                *(i18n.status(s, lang) for s in _RUNS_STATUSES),
                i18n.t("cli.runs.created", lang)):
        t.add_column(col)
    for e in found:
        c = e["counts"]
        created = (time.strftime("%Y-%m-%d %H:%M", time.localtime(e["created"]))
                   if e.get("created") else safe(e.get("error", "-")))
        t.add_row(safe(e["name"]), str(sum(c.values())),
                  *(str(c.get(s, 0)) for s in _RUNS_STATUSES), created)
    out.print(t)


def print_datasets(items: list[tuple[str, str, str]], lang: str = "en") -> None:
    """``reglab datasets``: name, kind and summary of each built-in (title, headers and the
    built-ins' summaries in ``lang``; a summary the catalogue lacks is shown as given)."""
    k = i18n.prefixed("cli.datasets", lang)
    summaries = i18n.texts("datasets", lang)
    t = Table(title=k("title"), title_justify="left")
    for col in ("name", "kind", "summary"):
        t.add_column(k(col))
    for name, kind, summary in items:
        t.add_row(name, kind, summaries.get(name, summary))
    console().print(t)


def comparison_markdown(runs: list[dict], lang: str = "en") -> str:
    """The two comparison tables as GitHub Markdown (for READMEs and reports), in ``lang``:
    the report's column names, the note's row, the verdicts and the intervals' note."""
    rows = summarize_arms(runs)
    if any(r.task == "regression" for r in rows):
        return _regression_markdown(rows, lang)
    cells = lambda r: (_pct(r.test_acc),  # noqa: E731
                       format_pm(r.test_loss.mean, r.test_loss.std, digits=3), _pct(r.gap))
    diffs = lambda r: (None if r.d_acc is None else  # noqa: E731
                       (_ci(r.d_acc, scale=100), _ci(r.d_loss, digits=3)))
    return _markdown(rows, lang, ("test_acc", "test_loss", "gap_pct"), cells,
                     ("md.d_acc", "md.d_loss"), diffs)


def _regression_markdown(rows, lang: str = "en") -> str:
    """:func:`comparison_markdown` of a regression experiment (RMSE, MAE, R^2)."""
    cells = lambda r: (_fmt(r.test_rmse), _fmt(r.test_mae), _fmt(r.test_r2, 3),  # noqa: E731
                       _fmt(r.gap))
    diffs = lambda r: None if r.d_rmse is None else (_ci(r.d_rmse), _ci(r.d_mae))  # noqa: E731
    return _markdown(rows, lang, ("test_acc", "test_loss", "gap_pct", "md.rmse_gap"), cells,
                     ("md.d_rmse", "md.d_mae"), diffs)


def _markdown(rows, lang: str, measures: tuple[str, ...], cells,
              diff_columns: tuple[str, str], diffs) -> str:
    """:func:`comparison_markdown` for either task: ``measures`` are the report's labels
    (``i18n.labels``, the task's) or catalogue keys, ``cells(row)`` as in :func:`_arm_tables`;
    ``diff_columns`` catalogue keys and ``diffs(row)`` the arm's two differences vs none,
    None for none."""
    L = i18n.labels(lang, rows[0].task if rows else "classification")
    name = lambda key: L.get(key) or i18n.t(key, lang)  # noqa: E731
    columns = [L["arm"], L["settings"], L["seed_output"], "n", *map(name, measures),
               L["sparsity_pct"], L["weight_norm"], L["epochs"], L["s_run"]]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        n = f"{r.n_done}" + (i18n.t("report.diverged", lang, n=r.n_diverged)
                             if r.n_diverged else "")
        out.append("| " + " | ".join([
            markdown_text(r.arm), markdown_text(r.settings), i18n.note_says(r, lang)[0], n,
            *cells(r), *_weight_cells(r)]) + " |")
    out += ["", i18n.t("md.diffs", lang, note=i18n.intervals_note(rows, lang=lang)), "",
            "| " + " | ".join([i18n.t("md.arm_minus_none", lang), *map(name, diff_columns),
                               L["verdict"]]) + " |",
            "|---|---|---|---|"]
    for r in rows:
        d = diffs(r)
        if d is not None:
            out.append(f"| {markdown_text(r.arm)} | {d[0]} | {d[1]} | "
                       f"{i18n.verdicts(r, lang=lang)[2]} |")
    return "\n".join(out)
