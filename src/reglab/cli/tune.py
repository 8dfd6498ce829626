"""``reglab tune``: an Optuna study over the regularization strengths, then the best vs none.

optuna is optional (``pip install 'reglab[tune]'``): it is imported when the command runs, so
every other command starts without it and ``reglab --help`` lists ``tune`` either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from reglab.cli._shared import (_load_config, check_file_keys, file_origins, flag_origins,
                                require, restated, spec_table)
from reglab.cli._progress import counted
from reglab.cli.options import FLAG_NAMES, option, spec_flags
from reglab.lab.arms import base_changes
from reglab.lab.execute import load_data
from reglab.lab.spec import RunSpec
from reglab.lab.store import folder_stem
from reglab.lab.tune import Param, TuneResult, load_space, metric_for, tune as run_study
from reglab.report import console as display

__all__ = ["register"]


@spec_flags("tune")
def tune(
    flags: dict[str, Any],
    trials: int = option(50, "--trials", "-t", help="COMPLETE + PRUNED trials of the study, "
                         "over all workers."),
    timeout: Optional[float] = option(None, "--timeout", help="Seconds this worker searches "
                                      "for at most: no trial starts after it, a running one "
                                      "stops at its next epoch (the retrain is not bounded).",
                                      show_default="no limit"),
    storage: Optional[str] = option(None, "--storage", help="Optuna storage URL, e.g. "
                                    "postgresql://user:pw@host/db.",
                                    show_default="SQLite in runs/NAME/"),
    study: Optional[str] = option(None, "--study", help="Study to create or join.",
                                  show_default="NAME"),
    name: Optional[str] = option(None, "--name", "-n", help="Experiment folder under --out.",
                                 show_default="tune-DATA"),
    config: Optional[Path] = option(None, "--config", "-c", help="TOML: spec keys and a "
                                    "[space] table.", show_default="none"),
    seeds: int = option(3, "--seeds", "-s", help="Seeds of the final retrain of the best and "
                        "none (0: tune only)."),
    out: Path = option(Path("runs"), "--out", "-o", help="Folder of experiments."),
    quiet: bool = option(False, "--quiet", "-q", help="Print the results only."),
) -> TuneResult:
    """Tune regularization and training (augmentation, decay, smoothing, dropout, lr and its
    schedule, length) with Optuna and Hyperband pruning, then retrain the best vs none.

    Run-spec flags set the base run; a flag for a searched key fixes it (``--lr 1e-3``), except
    ``--epochs``: the budget, the longest a trial trains.
    """
    optuna = require("optuna", "tune", "tune")  # optional, heavy: only this command needs it
    cfg = _load_config(config)
    table = cfg.pop("space", None)
    metric = cfg.pop("metric", None)  # None: val_acc, or val_loss for a regression target
    cfg.pop("seeds", None)
    origins = {}
    if config is not None:  # the file's keys: errors name the file, line and key
        check_file_keys(config, cfg, spec_table(config))
        origins = file_origins(config, cfg, spec_table(config))
    with restated(flag_origins(flags, FLAG_NAMES)):
        RunSpec.from_dict(flags)  # each flag alone, named as the flag on an error
    origins.update(flag_origins(flags, FLAG_NAMES))
    cfg.update(flags)
    with restated(origins):
        ds = load_data(RunSpec.from_dict(cfg))
        base = RunSpec.from_dict({**base_changes(ds.kind), **cfg})
    with restated(origins):
        metric = metric_for(ds, metric)
    space = load_space(table, ds.kind, base.epochs)
    for key in flags.keys() & space.keys() - {"epochs"}:  # a flag fixes a searched key
        space[key] = Param(value=getattr(base, key))
    name = name or f"tune-{folder_stem(base.data)}"
    optuna.logging.set_verbosity(optuna.logging.WARNING if quiet else optuna.logging.INFO)
    with counted(f"tuning on {base.data}: trials", quiet) as tick:  # with the time left
        res = run_study(base, trials=trials, out=out, name=name, space=space,
                        storage=storage, study_name=study, timeout=timeout, seeds=seeds,
                        metric=metric, data=ds, on_trial=tick)
    con = display.console(quiet)
    states = {}
    for t in res.study.get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    con.print(f"study {display.safe(repr(res.study.study_name))}: " + ", ".join(
        f"{n} {s.lower()}" for s, n in sorted(states.items())) + f" (this worker ran {res.ran})")
    if res.best_spec is None:
        con.print("no completed trial yet")
        return res
    con.print(f"best {metric} {res.best_value:.4f}: " + ", ".join(
        f"{k}={v}" for k, v in res.study.best_params.items()))
    if res.runs:
        display.print_comparison(con, res.runs, f"tuned vs none on {base.data}", ds,
                                 out / name)
    con.print(f"[dim]{display.safe(', '.join(str(p) for p in res.files))}[/dim]")
    return res


def register(app) -> None:
    """Add ``reglab tune`` to the Typer ``app``."""
    app.command("tune")(tune)
