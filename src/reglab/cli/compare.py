"""``reglab compare``: every regularization arm over seeds, the comparison table and the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

from reglab._validation import InvalidParameterError, check_choice, check_int, fail
from reglab.cli._shared import _data_kind, _load_config, _preflight, _run_experiment, _stem
from reglab.cli.options import ConfigOpt, NameOpt, OutOpt, QuietOpt, option, spec_flags
from reglab.lab import arms as arms_mod
from reglab.lab.compare import make_plan
from reglab.lab.execute import ENGINES
from reglab.lab.spec import RunSpec
from reglab.train.sequential import make_augmentation

__all__ = ["register"]


@spec_flags("compare", skip=("seed",))
def compare(
    flags: dict[str, Any],
    arms: Optional[str] = option(None, "--arms", help="Arms, comma-separated, from none, l1, l2, "
                                 "dropout, early_stopping, augment, all.",
                                 show_default="all seven"),
    seeds: Optional[int] = option(None, "--seeds", "-s", help="Seeds per arm, paired across "
                                  "arms.", show_default="3"),
    workers: Optional[int] = option(None, "--workers", "-w", help="Worker processes, one thread "
                                    "each.", show_default="one per free core"),
    engine: str = option("auto", "--engine", help="auto: runs that share a model shape train "
                         "together as one batched model (vectorized); sequential: one by one."),
    config: Optional[Path] = ConfigOpt, out: Path = OutOpt,
    name: Optional[str] = NameOpt("compare-DATA"), quiet: bool = QuietOpt,
) -> None:
    """Train every regularization arm over seeds and print the measured comparison table.

    Each arm (none, l1, l2, dropout, early_stopping, augment and all = L2 + dropout + early
    stopping + augmentation) runs with seeds 0..S-1; each arm is compared with `none` on the
    same seeds. A strength flag (--l2, --dropout...) replaces that strength in every arm that
    uses it. Rerunning the same command resumes: finished runs are not run again.
    """
    if workers is not None:
        check_int("compare", "workers", workers, 1)
    check_choice("compare", "engine", engine, ENGINES)
    cfg = _load_config(config)
    section = cfg.pop("compare", {})  # [compare] arms = [...], seeds = N
    section = section if isinstance(section, dict) else {"compare": section}
    _check_section(section)
    arm_tables = cfg.pop("arms", None)  # [arms.NAME] tables of spec keys
    arm_list = section.get("arms")
    if isinstance(arm_tables, list):  # a top-level list when there are no arm tables
        arm_list, arm_tables = arm_tables, None
    elif isinstance(arm_tables, str):  # arms = "none,l2", as the flag takes it
        arm_list, arm_tables = arm_tables, None
    elif arm_tables is not None and not isinstance(arm_tables, dict):
        raise fail("compare", "arms", "a list of arm names or [arms.NAME] tables", arm_tables)
    cfg_seeds = section.get("seeds", cfg.pop("seeds", None))
    seeds = seeds if seeds is not None else (cfg_seeds if cfg_seeds is not None else 3)
    given = {k: v for k, v in flags.items() if k not in arms_mod.OVERRIDABLE}
    strengths = {k: v for k, v in flags.items() if k in arms_mod.OVERRIDABLE}
    base_cfg = {k: v for k, v in cfg.items() if k not in arms_mod.OVERRIDABLE}
    strength_cfg = {k: v for k, v in cfg.items() if k in arms_mod.OVERRIDABLE}
    RunSpec.from_dict(cfg)  # unknown keys and bad values in the file: one error naming the key
    chosen = {**base_cfg, **given}
    ds = _data_kind(chosen.get("data", "digits"), chosen.get("target"))
    base = RunSpec.from_dict({**arms_mod.base_changes(ds.kind), **chosen})
    strength_spec = RunSpec.from_dict({**base.to_dict(), **strength_cfg, **strengths})
    # the augmentation names and cutmix must fit the data even when no chosen arm uses them
    make_augmentation(strength_spec, ds.kind)
    arm_names = arms if arms is not None else (arm_list or list(arms_mod.ARMS))
    if isinstance(arm_names, str):
        arm_names = [a.strip() for a in arm_names.split(",") if a.strip()]
    jobs = make_plan(base, ds.kind, arm_names, seeds, {**strength_cfg, **strengths},
                     arm_tables)
    _preflight(jobs, ds)
    name = name or f"compare-{_stem(base.data)}"
    _run_experiment(jobs, out, name, workers, quiet, ds, title=f"compare on {base.data}",
                    meta={"command": "compare", "argv": sys.argv[1:]}, engine=engine,
                    report=True)


def _check_section(section: dict) -> None:
    for key in section:
        if key not in ("arms", "seeds"):
            raise InvalidParameterError(
                f"The key {key!r} of the [compare] table must be one of {{arms, seeds}}.")


def register(app) -> None:
    """Add ``reglab compare`` to the Typer ``app``."""
    app.command("compare")(compare)
