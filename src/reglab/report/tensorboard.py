"""An experiment's store as TensorBoard event files: scalars per epoch, HParams per run.

Layout written under ``logdir`` (default ``runs/NAME/tensorboard``)::

    <run>/events.out.tfevents...   tags ``epoch/<metric>`` at step = epoch (0-based), and the
                                   run's hyperparameters (every RunSpec key; lists as "a,b")
                                   with its final metrics as ``final/<metric>`` for the
                                   HParams view

Then ``tensorboard --logdir runs/NAME/tensorboard``. Needs the ``tensorboard`` package
(``pip install 'reglab[tensorboard]'``). A run's earlier event files are replaced (only
``events.out.tfevents.*`` files are removed), so exporting twice gives one set per run.

Example::

    export_tensorboard(Path("runs/compare-digits"))   # -> runs/compare-digits/tensorboard
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from reglab._validation import fail
from reglab.lab.spec import RunSpec
from reglab.lab.store import EPOCH_COLUMNS, Store, check_name, read_epochs, read_runs

__all__ = ["export_tensorboard", "hparams_of"]


def hparams_of(spec: dict[str, Any]) -> dict[str, Any]:
    """A run's hyperparameters as TensorBoard takes them (bool, int, float or str; no None)."""
    full = {**RunSpec().to_dict(), "target": "", **spec}
    out = {}
    for k in RunSpec.keys():
        v = full.get(k)
        out[k] = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else ("" if v is None else v)
    return out


def export_tensorboard(experiment: Path, logdir: Path | None = None) -> Path:
    """Write one TensorBoard run per stored run of ``experiment``; returns the log folder."""
    # tensorboard is optional (the 'tensorboard' extra); the caller checked it is installed
    from torch.utils.tensorboard import SummaryWriter

    experiment = Path(experiment)
    if not (experiment / "reglab.sqlite").is_file():
        raise fail("export", "experiment", "a folder holding reglab.sqlite (made by reglab "
                   "compare or reglab run)", str(experiment))
    logdir = experiment / "tensorboard" if logdir is None else Path(logdir)
    conn = Store.read_only(experiment.parent, experiment.name)
    try:
        runs = read_runs(conn)
        histories = {r["id"]: read_epochs(conn, r["id"]) for r in runs}
    finally:
        conn.close()
    for r in runs:
        folder = logdir / check_name(r["id"])
        for old in folder.glob("events.out.tfevents.*"):  # one set of events per run, however
            old.unlink()                                  # often exported; nothing else removed
        with SummaryWriter(log_dir=str(folder)) as w:
            for e in histories[r["id"]]:
                for c in EPOCH_COLUMNS:
                    if e.get(c) is not None:  # a key of the other task's is absent
                        w.add_scalar(f"epoch/{c}", e[c], global_step=e["epoch"])
            metrics = {f"final/{k}": float(v) for k, v in r["final"].items()
                       if v is not None and math.isfinite(v)}
            w.add_hparams({**hparams_of(r["spec"]), "seed": r["seed"], "arm": r["arm"],
                           "status": r["status"]}, metrics, run_name=".")
    return logdir
