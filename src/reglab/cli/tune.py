"""``reglab tune``: an Optuna study over the regularization strengths, then the best vs none.

optuna is optional (``pip install 'reglab[tune]'``): it is imported when the command runs, so
every other command starts without it and ``reglab --help`` lists ``tune`` either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from reglab.cli._shared import (Origin, _load_config, check_file_keys, check_lang_flag,
                                file_origins, flag_origins, require, restated, spec_table)
from reglab.cli._progress import phased
from reglab.cli.options import FLAG_NAMES, LangOpt, option, spec_flags
from reglab.lab.arms import base_changes
from reglab.lab.execute import load_data
from reglab.lab.spec import RunSpec
from reglab.lab.store import folder_stem
from reglab.lab.tune import (CONFIRM_SEED, CONFIRM_SEEDS, CONFIRM_TOP, PARALLEL, Param,
                             TuneResult, check_counts, load_space, metric_for,
                             tune as run_study)
from reglab.report import console as display
from reglab.report.i18n import CATALOGUE, t

__all__ = ["register"]

_COUNT_FLAGS = {"trials": "'--trials' / '-t'", "seeds": "'--seeds' / '-s'",
                "confirm": "'--confirm'", "timeout": "'--timeout'", "parallel": "'--parallel'",
                "workers": "'--workers' / '-w'"}


@spec_flags("tune")
def tune(
    flags: dict[str, Any],
    trials: int = option(50, "--trials", "-t", help="COMPLETE + PRUNED trials of the study, "
                         "over all workers."),
    timeout: Optional[float] = option(None, "--timeout", help="Seconds this command searches "
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
    confirm: int = option(CONFIRM_TOP, "--confirm", help="Before the retrain, the best K "
                          f"finished trials train again with {CONFIRM_SEEDS} other seeds "
                          "(validation only); the best mean wins (0 or 1: the best trial)."),
    parallel: int = option(PARALLEL, "--parallel", help="Trials in flight: each is drawn and "
                           "judged against the trials finished before it, so the study depends "
                           "on this, not on --workers or the free cores."),
    workers: Optional[int] = option(None, "--workers", "-w", help="Worker processes, one "
                                    "thread each (at most --parallel for the search).",
                                    show_default="one per free core"),
    no_warm_start: bool = option(False, "--no-warm-start", help="Draw every trial (else a "
                                 "fresh study's first trial is the `all` arm of `reglab "
                                 "compare`, as far as the space can say it)."),
    out: Path = option(Path("runs"), "--out", "-o", help="Folder of experiments."),
    quiet: bool = option(False, "--quiet", "-q", help="Print the results only."),
    lang: str = LangOpt("en"),
) -> TuneResult:
    """Tune regularization and training (augmentation, decay, smoothing, dropout, lr and its
    schedule, length) with Optuna and successive halving, then retrain the best vs none.

    Run-spec flags set the base run; a flag for a searched key fixes it (``--lr 1e-3``), except
    ``--epochs``: the budget, the longest a trial trains.
    """
    lang = check_lang_flag(lang, "tune")
    with restated({key: Origin(flag=flag) for key, flag in _COUNT_FLAGS.items()}):
        check_counts(trials, seeds, confirm, timeout, parallel, workers)  # before any write
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
        base = RunSpec.from_dict({**base_changes(ds.kind, cfg.get("model")), **cfg})
    with restated(origins):
        metric = metric_for(ds, metric)
    space = load_space(table, ds.kind, base.epochs)
    for key in flags.keys() & space.keys() - {"epochs"}:  # a flag fixes a searched key
        space[key] = Param(value=getattr(base, key))
    name = name or f"tune-{folder_stem(base.data)}"
    optuna.logging.set_verbosity(optuna.logging.WARNING if quiet else optuna.logging.INFO)
    bars = [t("cli.tune.bar", lang, data=base.data), t("cli.tune.confirm_bar", lang, n=confirm)]
    with phased(bars, quiet, lang) as (tick, confirm_tick):  # each with the time left
        res = run_study(base, trials=trials, out=out, name=name, space=space,
                        storage=storage, study_name=study, timeout=timeout, seeds=seeds,
                        metric=metric, data=ds, on_trial=tick, confirm_top=confirm,
                        on_confirm=confirm_tick, parallel=parallel, workers=workers,
                        warm=not no_warm_start)
    con = display.console(quiet)
    states = {}
    for trial in res.study.get_trials(deepcopy=False):
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    counts = ", ".join(f"{n} {_state(s, lang)}" for s, n in sorted(states.items()))
    con.print(t("cli.tune.study", lang, study=display.safe(repr(res.study.study_name)),
                counts=counts, ran=res.ran))
    warm = res.study.user_attrs.get("warm_start")
    first = min(res.study.get_trials(deepcopy=False), key=lambda tr: tr.number, default=None)
    if warm is not None and first is not None and first.state.is_finished():
        score = (f"{metric} {first.value:.4f}" if first.value is not None
                 else _state(first.state.name, lang))
        con.print(t("cli.tune.warm", lang, trial=first.number, score=score,
                    notes=display.safe("; ".join(warm["notes"]) or "-")))
    if res.best_spec is None:
        con.print(t("cli.tune.none", lang))
        return res
    chosen = next(tr for tr in res.study.get_trials(deepcopy=False)
                  if tr.number == res.best_trial)
    for c in res.confirmed:
        con.print(t("cli.tune.confirmed", lang, trial=c.trial, metric=metric,
                    searched=c.searched, mean=c.mean, seeds=", ".join(
                        str(CONFIRM_SEED + i) for i in range(len(c.scores))),
                    scores=", ".join(f"{v:.4f}" for v in c.scores)))
    con.print(t("cli.tune.best", lang, trial=res.best_trial, metric=metric,
                value=res.best_value, params=", ".join(
                    f"{k}={v}" for k, v in chosen.params.items())))
    if res.runs:
        display.print_comparison(con, res.runs, t("cli.tune.title", lang, data=base.data), ds,
                                 out / name, lang)
    con.print(f"[dim]{display.safe(', '.join(str(p) for p in res.files))}[/dim]")
    return res


def _state(name: str, lang: str) -> str:
    """An Optuna trial state (COMPLETE, PRUNED, ...) in ``lang``; an unknown one lowercased."""
    key = f"trial.{name.lower()}"
    return t(key, lang) if key in CATALOGUE else name.lower()


def register(app) -> None:
    """Add ``reglab tune`` to the Typer ``app``."""
    app.command("tune")(tune)
