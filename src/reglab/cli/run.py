"""``reglab run``: one run from flags or a TOML file, stored like a compare run."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any, Optional

from reglab._validation import check_int
from reglab.cli._shared import _data_kind, _load_config, _preflight, _run_experiment, _stem
from reglab.cli.options import ConfigOpt, NameOpt, OutOpt, QuietOpt, option, spec_flags
from reglab.lab import arms as arms_mod
from reglab.lab.execute import Job
from reglab.lab.spec import RunSpec

__all__ = ["register"]


@spec_flags("run")
def run(
    flags: dict[str, Any],
    nproc: int = option(1, "--nproc", help="Processes for one DistributedDataParallel run (gloo "
                        "on the CPU, NCCL on CUDA), each on its shard of every batch."),
    config: Optional[Path] = ConfigOpt, out: Path = OutOpt,
    name: Optional[str] = NameOpt("run-DATA-HASH"), quiet: bool = QuietOpt,
) -> None:
    """Train one run from flags or --config; print each epoch, the final metrics and why it stopped.

    The run is stored like a compare run (runs/NAME/); the same command again shows the
    stored result instead of training again.
    """
    check_int("run", "nproc", nproc, 1)
    cfg = _load_config(config)
    RunSpec.from_dict(cfg)  # unknown keys and bad values in the file: one error naming the key
    chosen = {**cfg, **flags}
    ds = _data_kind(chosen.get("data", "digits"), chosen.get("target"))
    spec = RunSpec.from_dict({**arms_mod.base_changes(ds.kind), **chosen})
    jobs = [Job(f"run-s{spec.seed}", "run", spec)]
    _preflight(jobs, ds)
    digest = hashlib.sha1(spec.to_json().encode()).hexdigest()[:8]
    name = name or f"run-{_stem(spec.data)}-{digest}"
    _run_experiment(jobs, out, name, 1, quiet, ds, title=f"run on {spec.data}",
                    meta={"command": "run", "argv": sys.argv[1:]}, single=True, nproc=nproc)


def register(app) -> None:
    """Add ``reglab run`` to the Typer ``app``."""
    app.command("run")(run)
