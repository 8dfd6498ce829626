"""What every command shares: exit codes, the errors the entry point maps, where each spec key
came from (:class:`Origin`, :func:`restated`: errors name the flag or the TOML file, line and
key, not ``RunSpec``), ``--overwrite``, and the machinery that checks a plan and runs it into
a store (``_preflight``, ``_run_experiment``)."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import typer

import reglab.data
from reglab import augment as A
from reglab._validation import InvalidParameterError
from reglab.cli._progress import counted
from reglab.lab.compare import comparison_document
from reglab.lab.execute import plan, run_experiment
from reglab.lab.label_check import check_labels
from reglab.lab.spec import DATA_KEYS, RunSpec, load_toml
from reglab.lab.store import Store, check_name, folder_stem, lock
from reglab.report import console as display
from reglab.report.i18n import check_lang, t
from reglab.report.report import build_report, dataset_meta
from reglab.train.models import build_model, check_memory
from reglab.train.sequential import (attach_updates, check_task, make_augmentation,
                                     make_early_stopping, make_optimizer, make_penalty,
                                     resolve_device)

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


def shared_module() -> ModuleType:
    """``reglab.lab.shared`` (the PostgreSQL store), imported on use: it needs SQLAlchemy and
    psycopg2, optional dependencies (``pip install 'reglab[tune]'``)."""
    require("sqlalchemy", "--storage", "tune")
    require("psycopg2", "--storage", "tune")
    return importlib.import_module("reglab.lab.shared")


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a flag (``"'--epochs' / '-e'"``, as Typer names it) or a TOML
    file with the line and table of its key."""

    flag: str | None = None
    file: str | None = None
    line: int | None = None
    table: str | None = None

    def subject(self, key: str) -> str:
        """How an error names the value: ``Invalid value for '--l2'`` or
        ``run.toml, line 3: key 'lr' of [arms.l2]``."""
        if self.flag is not None:
            return f"Invalid value for {self.flag}:"
        where = self.file + (f", line {self.line}" if self.line else "")
        table = f" of [{self.table}]" if self.table else ""
        return f"{where}: key {key!r}{table}"


# The key an error is about, by (owner, parameter) of the message template, where it is not
# the spec key itself: the augmentation pipeline checks the names and the strength.
_KEY_OF = {("from_names", "names"): "augment", ("Compose", "strength"): "augment_strength"}


def restate(err: InvalidParameterError, origins: Mapping[str, Origin]) -> InvalidParameterError:
    """``err`` in the user's terms when its key has an origin, else ``err`` itself.

    "The 'lr' parameter of RunSpec must be ..." becomes "Invalid value for '--lr': must be ..."
    for a flag and "run.toml, line 2: key 'lr' must be ..." for a file; an unknown key becomes
    "run.toml, line 3: unknown key 'dropuot'; the keys are {...}. Did you mean 'dropout'?".
    """
    if err.owner is None:
        return err
    unknown = err.owner == "RunSpec" and err.name == "key"
    key = err.value if unknown else _KEY_OF.get((err.owner, err.name), err.name)
    origin = origins.get(key) if isinstance(key, str) else None
    if origin is None:
        return err
    hint = err.hint or ""
    if unknown:
        where = origin.subject(key).rsplit(": key", 1)[0]
        table = f" in [{origin.table}]" if origin.table else ""
        keys = err.allowed.removeprefix("one of ")
        return InvalidParameterError(f"{where}: unknown key {key!r}{table}; the keys are "
                                     f"{keys}.{hint}")
    return InvalidParameterError(f"{origin.subject(key)} must be {err.allowed}. "
                                 f"Got {err.value!r} instead.{hint}")


@contextlib.contextmanager
def restated(origins: Mapping[str, Origin]) -> Iterator[None]:
    """Re-raise an InvalidParameterError raised inside in the user's terms (:func:`restate`)."""
    try:
        yield
    except InvalidParameterError as err:
        raise restate(err, origins) from None


_HEADER = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\](?!\])")
_KEY = re.compile(r"\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)\s*=")


def toml_lines(path: Path) -> dict[tuple[str | None, str], int]:
    """``(table, key) -> line`` of each key of a TOML file (1-based; the first occurrence),
    so that an error can point at it (``tomllib`` keeps no positions)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    table: str | None = None
    out: dict[tuple[str | None, str], int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if (m := _HEADER.match(line)) is not None:
            table = m.group(1).replace('"', "").replace("'", "").replace(" ", "")
        elif (m := _KEY.match(line)) is not None:
            out.setdefault((table, m.group(1).strip("\"'")), n)
    return out


def flag_origins(keys, flags: Mapping[str, str]) -> dict[str, Origin]:
    """Origins of the given ``keys`` from their option names (``flags``: key -> "'--l2'")."""
    return {k: Origin(flag=flags[k]) for k in keys if k in flags}


def file_origins(path: Path, keys, table: str | None = None) -> dict[str, Origin]:
    """Origins of ``keys`` read from ``table`` of the TOML file ``path`` (None: top level)."""
    lines = toml_lines(path)
    return {k: Origin(file=str(path), line=lines.get((table, k)), table=table) for k in keys}


def _load_config(config: Optional[Path]) -> dict[str, Any]:
    """The TOML file's keys; its missing or broken file is named as the --config flag."""
    with restated({"config": Origin(flag="'--config' / '-c'")}):
        return {} if config is None else load_toml(config)


def check_file_keys(config: Path, cfg: Mapping[str, Any], table: str | None = None) -> None:
    """Validate a TOML table's spec keys alone, naming the file, line and key on an error."""
    with restated(file_origins(config, cfg, table)):
        RunSpec.from_dict(cfg)


def spec_table(config: Path) -> str | None:
    """The table a run spec's keys are read from: ``run`` when the file has one."""
    return "run" if any(t == "run" for t, _ in toml_lines(config)) else None


def overwrite_experiment(out: Path, name: str) -> None:
    """``--overwrite``: empty ``out/name`` before starting, only if it is an experiment folder
    (it holds a reglab.sqlite); another folder of that name is an error, left untouched."""
    root = Path(out) / check_name(name)
    if not root.exists():
        return
    if not (root / "reglab.sqlite").is_file():
        raise InvalidParameterError(
            f"--overwrite deletes only experiment folders (with a reglab.sqlite); "
            f"{str(root)!r} is not one. Pass another --name or --out.")
    fd = lock(root, "--overwrite leaves it alone.")  # never empty a folder in use
    try:
        for child in root.iterdir():
            if child.name == ".lock":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _data_kind(chosen: dict):
    """Load the data once in the main process: checks it and gives its kind for the defaults.
    ``chosen``: the spec keys given so far (flags over the TOML file)."""
    spec = RunSpec.from_dict({k: v for k, v in chosen.items()
                              if k == "data" or k in DATA_KEYS})
    return reglab.data.load(spec.data, seed=0, **spec.data_options())


_stem = folder_stem  # a folder-safe short name for a data set name or path (ASCII only)


def _label_check(jobs, out: Path, name: str, ds, quiet: bool, lang: str = "en") -> dict | None:
    """The label-safety check of the experiment's augmentation (the report's diagnosis, the
    note's pitfall 'unsuitable augmentation'), run BEFORE training, single-threaded, with a
    bar; its verdict on stderr. None when no run augments, for a regression target (no class
    labels to keep), or when the experiment already holds one (a resume keeps it)."""
    spec = next((j.spec for j in jobs if j.spec.augment), None)
    if ds.task == "regression":  # a check of class labels: a regression target has none
        return None
    if spec is None or "label_check" in _stored_meta(out, name):
        return None
    pipeline = A.from_names(list(spec.augment), ds.kind, seed=spec.seed,
                            strength=spec.augment_strength)
    with counted(t("cli.label.bar", lang), quiet, lang) as tick:
        report = check_labels(ds, pipeline, seed=spec.seed, progress=tick)
    if not quiet:
        display.err_console().print(label_verdict(report, spec.augment, lang), soft_wrap=True)
    return report.to_dict()


def label_verdict(report, names, lang: str = "en") -> str:
    """One line in ``lang``: each transform (by its short name, ``names`` in the report's
    order) ok or FLAGGED, with its accuracy drop against its limit."""
    rows = list(zip(names, report.rows))
    flagged = [n for n, r in rows if r.flagged]
    ok, flag = t("cli.label.ok", lang), f"[bold red]{t('label_check.flagged', lang)}[/bold red]"
    parts = [t("cli.label.part", lang, name=n, flag=flag if r.flagged else ok, drop=r.drop,
               limit=r.limit) for n, r in rows]
    head = (t("cli.label.changes", lang, names=", ".join(flagged)) if flagged
            else t("cli.label.keeps", lang))
    return head + ", ".join(parts)


def _stored_meta(out: Path, name: str) -> dict:
    """The metadata of the experiment ``out/name`` if it exists, else {}."""
    if not (Path(out) / check_name(name) / "reglab.sqlite").exists():
        return {}
    conn = Store.read_only(out, name)
    try:
        row = conn.execute("SELECT meta FROM experiment").fetchone()
    except sqlite3.Error:  # not a store yet (created but empty): run_experiment decides
        return {}
    finally:
        conn.close()
    try:
        meta = json.loads(row[0]) if row else {}
    except (TypeError, ValueError):  # a damaged meta: run_experiment's Store says so
        return {}
    return meta if isinstance(meta, dict) else {}


def _record_command(store, meta: dict) -> None:
    """Keep the report's command line true: the latest command that ran on this experiment
    (``argv``; a rerun that extends --seeds replaces it), the earlier ones in ``earlier_argv``;
    and the language a ``--lang`` asked for (``lang``), which the report is rebuilt in."""
    old = store.meta()
    if meta.get("lang") and old.get("lang") != meta["lang"]:
        store.update_meta(lang=meta["lang"])
    if old.get("argv") == meta["argv"]:
        return
    earlier = [a for a in old.get("earlier_argv", []) if a != meta["argv"]]
    if isinstance(old.get("argv"), list):
        earlier.append(old["argv"])
    store.update_meta(command=meta["command"], argv=meta["argv"], earlier_argv=earlier)


def check_lang_flag(lang: str | None, command: str) -> str | None:
    """``lang`` (None stays None) if it is one of ``i18n.LANGS``, else the one-line error
    that names ``--lang``."""
    with restated({"lang": Origin(flag="'--lang'")}):
        return None if lang is None else check_lang(lang, command)


def _preflight(jobs, ds, engine: str = "auto") -> None:
    """Build every job's model, optimizer, regularizers and augmentation once, and check
    that each stack of the plan fits in memory (K members at once): bad input fails here,
    before anything is written under runs/."""
    seen = set()
    for job in jobs:
        key = job.spec.replace(seed=0)
        if key in seen:
            continue
        seen.add(key)
        spec = job.spec
        resolve_device(spec.device)
        check_task(spec, ds.task)
        model = build_model(spec, ds.kind, tuple(ds.input_shape), ds.num_classes)
        opt = make_optimizer(spec, model)
        for h in attach_updates(spec, model, opt):
            h.remove()
        make_penalty(spec)
        make_augmentation(spec, ds.kind)
        make_early_stopping(spec)
    specs = [job.spec for job in jobs]
    for task in plan(specs, [ds] * len(specs), engine):  # the stacks execute will train
        if task.stacked and len(task.indices) > 1:
            check_memory(specs[task.indices[0]], ds.kind, tuple(ds.input_shape),
                         ds.num_classes, members=len(task.indices))


def _run_experiment(jobs, out: Path, name: str, workers, quiet: bool, ds, title: str,
                    meta: dict, single: bool = False, engine: str = "sequential",
                    nproc: int = 1, report: bool = False, as_json: bool = False,
                    overwrite: bool = False, storage: Optional[str] = None,
                    lease: Optional[float] = None) -> None:
    """Run ``jobs`` into the store ``out/name`` (resuming) and print the result; ``as_json``
    prints :func:`~reglab.lab.compare.comparison_document` as the only thing on stdout.
    With ``storage`` (a PostgreSQL URL), the experiment is shared: this process is one of
    its workers (:mod:`reglab.lab.shared`) and ``out/name`` receives a copy."""
    console = display.console(quiet)
    if overwrite:
        overwrite_experiment(out, name)
    # the language asked for, else the experiment's (a resume keeps it), else English
    lang = meta.get("lang") or _stored_meta(out, name).get("lang") or "en"

    def progress(root, total: int, skipped: int):
        if skipped and not quiet:
            display.err_console().print("[dim]" + t("cli.resuming", lang, root=display.safe(root),
                                                    kept=skipped, todo=total - skipped)
                                        + "[/dim]")
        if quiet:
            return None
        return (display.EpochPrinter(console, jobs[0].spec.epochs, lang) if single
                else display.RunProgress(total, skipped, jobs[0].spec.epochs, lang))

    def lost(root, run_ids: list[str]) -> None:  # a warning: printed even with --quiet
        ids = ", ".join(run_ids)
        display.err_console().print("reglab: warning: " + t(
            "cli.lost_weights", lang, n=len(run_ids), root=display.safe(root),
            ids=display.safe(ids)), soft_wrap=True)

    def show(store) -> None:
        _record_command(store, meta)
        runs = store.runs()
        if single:
            display.print_single(console, runs[0], store.epochs(runs[0]["id"]) if quiet else None,
                                 store.root, lang)
        elif as_json:
            sys.stdout.write(json.dumps(comparison_document(runs), indent=2) + "\n")
        else:
            display.print_comparison(console, runs, title=title, data=ds, root=store.root,
                                     lang=lang)
        if checked is not None and "label_check" not in store.meta():  # a resumed store
            store.update_meta(label_check=checked)

    checked = _label_check(jobs, out, name, ds, quiet, lang) if report else None
    full_meta = {**meta, "data": dataset_meta(ds),
                 **({} if checked is None else {"label_check": checked})}
    try:
        if storage is None:
            exp = run_experiment(jobs, out, name, full_meta, workers=workers, engine=engine,
                                 progress=progress, nproc=nproc, after=show, lost_weights=lost)
        else:
            exp = shared_module().run_shared_experiment(
                jobs, storage, out, name, full_meta, engine=engine, lease=lease,
                progress=progress, after=show)
    except KeyboardInterrupt as err:
        sys.stderr.write(f"reglab: {str(err) or 'interrupted'}\n")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if report:
        html, _ = build_report(exp.root)
        if not quiet:
            console.print(t("cli.report_at", lang, path=display.safe(html)))
    if exp.outcome.failed:
        first = next(iter(exp.outcome.failed.items()))
        raise RunFailed(f"{len(exp.outcome.failed)} run(s) failed; first: {first[0]}: {first[1]}")
