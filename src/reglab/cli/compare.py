"""``reglab compare``: every regularization arm over seeds, the comparison table and the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

from reglab._validation import (InvalidParameterError, check_choice, check_float, check_int,
                                did_you_mean, fail)
from reglab.cli._shared import (Origin, _data_kind, _load_config, _preflight, _run_experiment,
                                _stem, check_file_keys, check_lang_flag, file_origins,
                                flag_origins, restated, spec_table)
from reglab.cli.options import (FLAG_NAMES, ConfigOpt, LangOpt, NameOpt, OutOpt, OverwriteOpt,
                                QuietOpt, option, spec_flags)
from reglab.lab import arms as arms_mod
from reglab.lab.compare import DEFAULT_SEEDS, make_plan
from reglab.lab.execute import ENGINES
from reglab.lab.spec import RunSpec
from reglab.lab.tune import redact
from reglab.report import console as display
from reglab.train.sequential import make_augmentation

__all__ = ["register"]

_OWN_FLAGS = {"arms": "'--arms'", "seeds": "'--seeds' / '-s'", "workers": "'--workers' / '-w'",
              "engine": "'--engine'", "lease": "'--lease'", "overwrite": "'--overwrite'"}


@spec_flags("compare", skip=("seed",))
def compare(
    flags: dict[str, Any],
    arms: Optional[str] = option(None, "--arms", help="Arms, comma-separated: none, l1, l2, "
                                 "dropout, early_stopping, augment, all, the examples "
                                 "elastic_net, group_lasso, gaussian_dropout, dropconnect, "
                                 "dropblock, early_stopping_gl / _pq / _up, and the names of "
                                 "[arms.NAME] tables in --config.",
                                 show_default="all eight and every [arms.NAME]"),
    seeds: Optional[int] = option(None, "--seeds", "-s", help="Seeds per arm, paired across "
                                  "arms.", show_default=str(DEFAULT_SEEDS)),
    workers: Optional[int] = option(None, "--workers", "-w", help="Worker processes, one thread "
                                    "each.", show_default="one per free core"),
    engine: str = option("auto", "--engine", help="auto: runs that share a model shape train "
                         "together as one batched model (vectorized); sequential: one by one."),
    storage: Optional[str] = option(None, "--storage", help="A PostgreSQL URL, "
                                    "postgresql://user:pw@host:port/db: the experiment is "
                                    "shared by every machine that runs this same command "
                                    "(each trains the stacks of runs it claims).",
                                    show_default="SQLite in --out/NAME"),
    lease: float = option(60.0, "--lease", help="With --storage: seconds without a heartbeat "
                          "after which a dead worker's claimed stack is taken by another."),
    config: Optional[Path] = ConfigOpt, out: Path = OutOpt,
    name: Optional[str] = NameOpt("compare-DATA"), quiet: bool = QuietOpt,
    as_json: bool = option(False, "--json", help="Print the result as one JSON document on "
                           "stdout (arms, per-arm summaries, paired differences, runs) instead "
                           "of the tables; implies --quiet."),
    overwrite: bool = OverwriteOpt,
    lang: Optional[str] = LangOpt(None, "the experiment's, else en"),
) -> None:
    """Train every regularization arm over seeds and print the measured comparison table.

    Each arm (none, l1, l2, dropout, early_stopping, augment, label_smoothing, an addition
    to the note, and all = L2 + dropout + early stopping + augmentation, with the
    label_smoothing arm's strength where validation chose it) runs with seeds 0..S-1; each
    arm is compared with `none` on the same seeds. Rerunning the same command resumes:
    finished runs are not run again.

    A strength flag replaces that technique's strength in every arm that uses it, and adds
    nothing on top: the techniques are l1 (--l1, --proximal-l1), l2 (--l2, --weight-decay),
    dropout, early stopping (--patience), augment (--augment), --augment-strength,
    --label-smoothing, --mixup and --cutmix. So --l1 1e-4 gives the l1 arm an L1 term of 1e-4 instead of its proximal
    step, and --weight-decay 0.01 gives the l2 and all arms decoupled decay instead of their
    L2 term. A comma list is a grid: --l2 1e-4,1e-3 runs arms l2-1e-4 and l2-1e-3 in place
    of l2 (all keeps its own). In --config, [arms.NAME] tables of spec keys define new arms
    or change a built-in one (replacing the techniques they name); they win over flags.
    With --storage, every machine runs the same command and they share the work.
    --lang vi writes the verdicts and the report in Vietnamese; the experiment keeps it, so
    `reglab report` rebuilds in the same language.
    """
    lang = check_lang_flag(lang, "compare")
    with restated(flag_origins(_OWN_FLAGS, _OWN_FLAGS)):
        if workers is not None:
            check_int("compare", "workers", workers, 1)
        check_choice("compare", "engine", engine, ENGINES)
        check_float("compare", "lease", lease, 1.0)
        if storage is not None and workers not in (None, 1):
            raise fail("compare", "workers", "1 with --storage (start one command per core: "
                       "each is a worker)", workers)
        if storage is not None and overwrite:
            raise fail("compare", "overwrite", "off with --storage (the shared experiment is "
                       "not deleted from here; pass another --name)", overwrite)
    cfg = _load_config(config)
    section = cfg.pop("compare", {})  # [compare] arms = [...], seeds = N
    section = section if isinstance(section, dict) else {"compare": section}
    _check_section(section, config)
    arm_tables = cfg.pop("arms", None)  # [arms.NAME] tables of spec keys
    arm_list = section.get("arms")
    arm_list_table: str | None = "compare"
    if isinstance(arm_tables, (list, str)):  # a top-level list, or "none,l2" as the flag takes it
        arm_list, arm_tables, arm_list_table = arm_tables, None, spec_table(config)
    elif arm_tables is not None and not isinstance(arm_tables, dict):
        with restated(file_origins(config, ["arms"], spec_table(config))):
            raise fail("compare", "arms", "a list of arm names or [arms.NAME] tables",
                       arm_tables)
    cfg_seeds = section.get("seeds", cfg.pop("seeds", None))
    origins: dict[str, Origin] = {}
    if config is not None:
        origins.update(file_origins(config, cfg, spec_table(config)))
        origins.update(file_origins(config, ["arms"], arm_list_table))
        origins.update(file_origins(config, ["seeds"], "compare" if "seeds" in section
                                    else spec_table(config)))
        check_file_keys(config, cfg, spec_table(config))
        for arm, table in (arm_tables or {}).items():
            where = file_origins(config, [arm], "arms")[arm]
            with restated({"arms": Origin(file=str(config))}):
                if arm not in arms_mod.ARMS:
                    arms_mod.check_arm_name(arm)
            with restated({arm: where}):
                if not isinstance(table, dict):
                    raise fail("compare", arm, "a table of spec keys", table)
            check_file_keys(config, table, f"arms.{arm}")
    grids = {k: v for k, v in flags.items() if isinstance(v, list)}
    flags = {k: v for k, v in flags.items() if k not in grids}
    given_origins = flag_origins({**flags, **grids}, FLAG_NAMES)
    with restated(given_origins):
        RunSpec.from_dict(flags)  # each flag alone, named as the flag on an error
        for key, values in grids.items():
            for _, value in values:
                RunSpec.from_dict({key: value})
    origins.update(given_origins)
    origins.update({k: Origin(flag=_OWN_FLAGS[k])
                    for k, v in (("arms", arms), ("seeds", seeds)) if v is not None})
    with restated(origins):
        _plan_and_run(flags, grids, cfg, arm_tables or {}, arm_list if arms is None else arms,
                      seeds, cfg_seeds, workers, engine, out, name, quiet, overwrite, as_json,
                      storage, lease, lang)


def _plan_and_run(flags, grids, cfg, arm_tables, arm_names, seeds, cfg_seeds, workers, engine,
                  out, name, quiet, overwrite, as_json, storage, lease, lang=None) -> None:
    seeds = seeds if seeds is not None else (
        cfg_seeds if cfg_seeds is not None else DEFAULT_SEEDS)
    given = {k: v for k, v in flags.items() if k not in arms_mod.OVERRIDABLE}
    strengths = {k: v for k, v in flags.items() if k in arms_mod.OVERRIDABLE}
    base_cfg = {k: v for k, v in cfg.items() if k not in arms_mod.OVERRIDABLE}
    # a flag for a technique replaces the file's strength of that technique (flags win)
    flagged = {arms_mod.technique_of(k) for k in [*strengths, *grids]}
    strength_cfg = {k: v for k, v in cfg.items() if k in arms_mod.OVERRIDABLE
                    and arms_mod.technique_of(k) not in flagged}
    chosen = {**base_cfg, **given}
    ds = _data_kind(chosen)
    base = RunSpec.from_dict({**arms_mod.base_changes(ds.kind, chosen.get("model")), **chosen})
    strength_spec = RunSpec.from_dict({**base.to_dict(), **strength_cfg, **strengths})
    # the augmentation names and cutmix must fit the data even when no chosen arm uses them
    make_augmentation(strength_spec, ds.kind)
    if arm_names is None:
        arm_names = [*arms_mod.ARMS, *(a for a in arm_tables if a not in arms_mod.ARMS)]
        if ds.task == "regression" and "label_smoothing" not in arm_tables:
            arm_names.remove("label_smoothing")
            if not (quiet or as_json):
                display.err_console().print(
                    f"[dim]arm label_smoothing skipped: label smoothing softens class targets "
                    f"and {display.safe(base.data)} has a regression target[/dim]")
    if isinstance(arm_names, str):
        arm_names = [a.strip() for a in arm_names.split(",") if a.strip()]
    jobs = make_plan(base, ds.kind, arm_names, seeds, {**strength_cfg, **strengths},
                     arm_tables, grids)
    _preflight(jobs, ds, engine)
    name = name if name is not None else f"compare-{_stem(base.data)}"
    _run_experiment(jobs, out, name, workers, quiet or as_json, ds,
                    title=f"compare on {base.data}",
                    meta={"command": "compare", "argv": _redacted(sys.argv[1:]),
                          **({"lang": lang} if lang else {})},
                    engine=engine, report=True, as_json=as_json, overwrite=overwrite,
                    storage=storage, lease=lease)


def _redacted(argv: list[str]) -> list[str]:
    """The command line with a --storage URL's password as ``***`` (it is stored and shown)."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg.startswith("--storage="):
            out[i] = "--storage=" + redact(arg[len("--storage="):])
        elif i and out[i - 1] == "--storage":
            out[i] = redact(arg)
    return out


def _check_section(section: dict, config: Optional[Path]) -> None:
    for key in section:
        if key not in ("arms", "seeds"):
            where = file_origins(config, [key], "compare")[key].subject(key).rsplit(": key")[0]
            raise InvalidParameterError(
                f"{where}: unknown key {key!r} in [compare]; the keys are {{arms, seeds}}."
                f"{did_you_mean(key, ('arms', 'seeds'))}")


def register(app) -> None:
    """Add ``reglab compare`` to the Typer ``app``."""
    app.command("compare")(compare)
