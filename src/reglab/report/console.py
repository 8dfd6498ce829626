"""What the CLI prints: progress bars, the comparison table, one run's summary (rich).

Kept apart from the lab's logic so the numbers (``compare.summarize_arms``) can be tested
without a terminal and reused by reports. Every user string (a path, a data set's or an
experiment's name, a run id) goes through :func:`safe` before it reaches rich: control
characters shown as escapes (``reglab._escape.terminal_text``) and ``[`` escaped for rich's
markup, so ``--out 'o[/x]'`` is printed, not parsed.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reglab._escape import markdown_text, terminal_text
from reglab.lab.compare import summarize_arms
from reglab.lab.stats import format_pm

__all__ = ["console", "err_console", "RunProgress", "EpochPrinter", "print_comparison",
           "comparison_markdown", "safe",
           "print_single", "print_experiments", "print_datasets", "nullcontext"]


def safe(text: Any) -> str:
    """A user string ready for rich markup: no control characters, no markup tags."""
    return escape(terminal_text(text))


def console(quiet: bool = False) -> Console:
    """The stdout console; wide enough for the comparison table when piped."""
    width = None if sys.stdout.isatty() else 160
    return Console(width=width, highlight=False)


def err_console() -> Console:
    """The stderr console (notes, progress)."""
    return Console(stderr=True, highlight=False)


class RunProgress:
    """Runs done / total, and one bar per running run: epoch and best validation accuracy."""

    def __init__(self, total: int, already_done: int, epochs: int):
        self.epochs = epochs
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
            console=err_console(), transient=True)
        self._runs = self._progress.add_task("runs", total=total, completed=already_done,
                                             note="")
        self._tasks: dict[str, Any] = {}
        self._best: dict[str, float] = {}

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def start(self, run_id: str) -> None:
        """A run was handed to a worker."""
        self._tasks[run_id] = self._progress.add_task(f"  {safe(run_id)}", total=self.epochs,
                                                      note="starting")

    def epoch(self, run_id: str, epoch: int, val_acc: float | None, val_loss: float | None
              ) -> None:
        """A worker finished an epoch of ``run_id``."""
        if run_id not in self._tasks:
            return
        if val_acc is not None and math.isfinite(val_acc):
            self._best[run_id] = max(self._best.get(run_id, 0.0), val_acc)
        note = f"best val acc {100 * self._best.get(run_id, math.nan):.1f}%"
        self._progress.update(self._tasks[run_id], completed=epoch + 1, note=note)

    def finish(self, run_id: str, status: str) -> None:
        """A run ended (done, diverged, failed)."""
        task = self._tasks.pop(run_id, None)
        if task is not None:
            self._progress.remove_task(task)
        self._progress.advance(self._runs)


class EpochPrinter:
    """``reglab run``'s progress: one line per epoch."""

    def __init__(self, out: Console, epochs: int):
        self.out, self.epochs, self._t0 = out, epochs, time.perf_counter()

    def __enter__(self) -> EpochPrinter:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def start(self, run_id: str) -> None:
        self.out.print(f"[bold]{safe(run_id)}[/bold]: training up to {self.epochs} epochs")

    def epoch(self, run_id: str, epoch: int, val_acc, val_loss) -> None:
        self.out.print(f"  epoch {epoch + 1:>4}/{self.epochs}  val loss {val_loss:.4f}  "
                       f"val acc {100 * val_acc:6.2f}%")

    def finish(self, run_id: str, status: str) -> None:
        return None


def _pct(s) -> str:
    return format_pm(s.mean, s.std, scale=100)


def _ci(d, scale: float = 1.0, digits: int = 2) -> str:
    if d is None or not math.isfinite(d.mean):
        return "-"
    lo = "-inf" if not math.isfinite(d.low) else f"{d.low * scale:+.{digits}f}"
    hi = "inf" if not math.isfinite(d.high) else f"{d.high * scale:+.{digits}f}"
    return f"{d.mean * scale:+.{digits}f} [{lo}, {hi}]"


def comparison_tables(runs: list[dict], title: str) -> tuple[Table, Table]:
    """The seed's section-7 table with measured numbers, and the paired differences vs none."""
    rows = summarize_arms(runs)
    t = Table(title=f"{safe(title)}: measured (mean ± std over seeds)", title_justify="left")
    for col, justify in [("arm", "left"), ("seed: output", "left"), ("n", "right"),
                         ("test acc %", "right"), ("test loss", "right"),
                         ("train-test gap %", "right"), ("sparsity %", "right"),
                         ("weight norm", "right"), ("epochs", "right"), ("s/run", "right")]:
        t.add_column(col, justify=justify)
    for r in rows:
        n = f"{r.n_done}" + (f" (+{r.n_diverged} diverged)" if r.n_diverged else "")
        t.add_row(safe(r.arm), r.seed_says[0], n, _pct(r.test_acc),
                  format_pm(r.test_loss.mean, r.test_loss.std, digits=3), _pct(r.gap),
                  format_pm(r.sparsity.mean, r.sparsity.std, scale=100, digits=1),
                  format_pm(r.weight_norm.mean, r.weight_norm.std, digits=1),
                  format_pm(r.epochs.mean, r.epochs.std, digits=0),
                  f"{r.seconds.mean:.1f}" if math.isfinite(r.seconds.mean) else "-")
    d = Table(title="each arm minus none on the same seeds: mean [95% t interval]",
              title_justify="left")
    for col in ("arm", "Δ test acc (points)", "Δ test loss", "verdict"):
        d.add_column(col)
    for r in rows:
        if r.d_acc is None:
            continue
        d.add_row(safe(r.arm), _ci(r.d_acc, scale=100), _ci(r.d_loss, digits=3), r.verdict)
    return t, d


def print_comparison(out: Console, runs: list[dict], title: str, data: Any, root: Path) -> None:
    """Print both comparison tables and where the results live."""
    table, diffs = comparison_tables(runs, title)
    out.print(table)
    if diffs.row_count:
        out.print(diffs)
    out.print(f"[dim]runs, per-epoch metrics and weights: {safe(root)}/ (results.csv, "
              "reglab.sqlite, models/)[/dim]")


def print_single(out: Console, run: dict, epochs: list[dict] | None, root: Path) -> None:
    """One run's final metrics and why it stopped."""
    f = run["final"]
    out.print(f"[bold]{safe(run['id'])}[/bold] {run['status']}: {safe(run['reason'])}")
    if f.get("test_acc") is not None and math.isfinite(f.get("test_acc") or math.nan):
        out.print(f"  test acc {100 * f['test_acc']:.2f}%  test loss {f['test_loss']:.4f}  "
                  f"train acc {100 * f['train_acc']:.2f}%  gap {100 * f['gap']:.2f} points")
        out.print(f"  sparsity {100 * f['sparsity']:.1f}%  weight norm {f['weight_norm']:.2f}  "
                  f"epochs {int(f['epochs_trained'])} (best {int(f['best_epoch'])})  "
                  f"{f['seconds']:.1f} s")
    out.print(f"[dim]stored in {safe(root)}/[/dim]")


def print_experiments(found: list[dict], out_dir: Path) -> None:
    """``reglab runs``: one line per experiment with its status counts."""
    out = console()
    if not found:
        out.print(f"no experiments under {safe(out_dir)}/")
        return
    t = Table(title=f"experiments in {safe(out_dir)}/", title_justify="left")
    for col in ("name", "runs", "done", "diverged", "interrupted", "running", "pending",
                "created"):
        t.add_column(col)
    for e in found:
        c = e["counts"]
        created = (time.strftime("%Y-%m-%d %H:%M", time.localtime(e["created"]))
                   if e.get("created") else safe(e.get("error", "-")))
        t.add_row(safe(e["name"]), str(sum(c.values())),
                  *(str(c.get(s, 0)) for s in ("done", "diverged", "interrupted", "running",
                                               "pending")), created)
    out.print(t)


def print_datasets(items: list[tuple[str, str, str]]) -> None:
    """``reglab datasets``: name, kind and summary of each built-in."""
    t = Table(title="built-in data sets", title_justify="left")
    for col in ("name", "kind", "summary"):
        t.add_column(col)
    for row in items:
        t.add_row(*row)
    console().print(t)


def comparison_markdown(runs: list[dict]) -> str:
    """The two comparison tables as GitHub Markdown (for READMEs and reports)."""
    rows = summarize_arms(runs)
    out = ["| arm | seed: output | n | test acc % | test loss | train-test gap % | sparsity % "
           "| weight norm | epochs | s/run |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = f"{r.n_done}" + (f" (+{r.n_diverged} diverged)" if r.n_diverged else "")
        out.append("| " + " | ".join([
            markdown_text(r.arm), r.seed_says[0], n, _pct(r.test_acc),
            format_pm(r.test_loss.mean, r.test_loss.std, digits=3), _pct(r.gap),
            format_pm(r.sparsity.mean, r.sparsity.std, scale=100, digits=1),
            format_pm(r.weight_norm.mean, r.weight_norm.std, digits=1),
            format_pm(r.epochs.mean, r.epochs.std, digits=0),
            f"{r.seconds.mean:.1f}" if math.isfinite(r.seconds.mean) else "-"]) + " |")
    out += ["", "| arm − none (same seeds) | Δ test acc, points [95% CI] | Δ test loss [95% CI] "
            "| verdict |", "|---|---|---|---|"]
    for r in rows:
        if r.d_acc is not None:
            out.append(f"| {markdown_text(r.arm)} | {_ci(r.d_acc, scale=100)} | {_ci(r.d_loss, digits=3)} | "
                       f"{r.verdict} |")
    return "\n".join(out)
