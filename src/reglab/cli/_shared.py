"""What every command shares: exit codes, the errors the entry point maps, and the machinery
that checks a plan and runs it into a store (``_preflight``, ``_run_experiment``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import typer

import reglab.data
from reglab import augment as A
from reglab.lab.label_check import check_labels
from reglab.lab.execute import run_experiment
from reglab.lab.spec import load_toml
from reglab.report import console as display
from reglab.report.report import build_report, dataset_meta
from reglab.train.models import build_model
from reglab.train.sequential import (attach_updates, make_augmentation, make_early_stopping,
                                     make_optimizer, make_penalty, resolve_device)

EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class RunFailed(Exception):
    """A run inside the command failed (exit code 1)."""


class MissingDependency(Exception):
    """A command needs an optional package that is not installed (exit code 2)."""


def require(module: str, command: str, extra: str) -> ModuleType:
    """Import the optional dependency ``module`` of ``command``, or say what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"the '{command}' command needs {module}: "
                                f"pip install 'reglab[{extra}]'") from None


def _load_config(config: Optional[Path]) -> dict[str, Any]:
    return {} if config is None else load_toml(config)


def _data_kind(data: str, target: Optional[str]):
    """Load the data once in the main process: checks it and gives its kind for the defaults."""
    options = {} if target is None else {"target": target}
    return reglab.data.load(data, seed=0, **options)


def _stem(data: str) -> str:
    """A folder-safe short name for a data set name or path."""
    stem = Path(data).stem if ("/" in data or "." in data) else data
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")
    return safe[:40] or "data"


def _check_labels_once(store, jobs, ds, quiet: bool) -> None:
    """Store the label-safety check of the experiment's augmentation (for the report's
    diagnosis), once per experiment: the note's pitfall 'unsuitable augmentation'."""
    spec = next((j.spec for j in jobs if j.spec.augment), None)
    if spec is None or "label_check" in store.meta():
        return
    if not quiet:
        display.err_console().print("[dim]checking that the augmentation keeps labels...[/dim]")
    pipeline = A.from_names(list(spec.augment), ds.kind, seed=spec.seed,
                            strength=spec.augment_strength)
    store.update_meta(label_check=check_labels(ds, pipeline, seed=spec.seed).to_dict())


def _preflight(jobs, ds) -> None:
    """Build every job's model, optimizer, regularizers and augmentation once: bad input
    fails here, before anything is written under runs/."""
    seen = set()
    for job in jobs:
        key = job.spec.replace(seed=0)
        if key in seen:
            continue
        seen.add(key)
        spec = job.spec
        resolve_device(spec.device)
        model = build_model(spec, ds.kind, tuple(ds.input_shape), ds.num_classes)
        opt = make_optimizer(spec, model)
        for h in attach_updates(spec, model, opt):
            h.remove()
        make_penalty(spec)
        make_augmentation(spec, ds.kind)
        make_early_stopping(spec)


def _run_experiment(jobs, out: Path, name: str, workers, quiet: bool, ds, title: str,
                    meta: dict, single: bool = False, engine: str = "sequential",
                    nproc: int = 1, report: bool = False) -> None:
    console = display.console(quiet)

    def progress(root, total: int, skipped: int):
        if skipped and not quiet:
            display.err_console().print(f"[dim]resuming {root}: {skipped} finished run(s) "
                                        f"kept, {total - skipped} to run[/dim]")
        if quiet:
            return None
        return (display.EpochPrinter(console, jobs[0].spec.epochs) if single
                else display.RunProgress(total, skipped, jobs[0].spec.epochs))

    def show(store) -> None:
        runs = store.runs()
        if single:
            display.print_single(console, runs[0], store.epochs(runs[0]["id"]) if quiet else None,
                                 store.root)
        else:
            display.print_comparison(console, runs, title=title, data=ds, root=store.root)
        if report:
            _check_labels_once(store, jobs, ds, quiet)

    try:
        exp = run_experiment(jobs, out, name, {**meta, "data": dataset_meta(ds)},
                             workers=workers, engine=engine, progress=progress, nproc=nproc,
                             after=show)
    except KeyboardInterrupt as err:
        sys.stderr.write(f"reglab: {str(err) or 'interrupted'}\n")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if report:
        html, _ = build_report(exp.root)
        if not quiet:
            console.print(f"report: {html}")
    if exp.outcome.failed:
        first = next(iter(exp.outcome.failed.items()))
        raise RunFailed(f"{len(exp.outcome.failed)} run(s) failed; first: {first[0]}: {first[1]}")
