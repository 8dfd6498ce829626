"""``reglab run``: one run from flags or a TOML file, stored like a compare run."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any, Optional

from reglab._validation import check_int, fail
from reglab.cli._shared import (Origin, _data_kind, _load_config, _preflight, _run_experiment,
                                _stem, check_file_keys, check_lang_flag, file_origins,
                                flag_origins, restated, spec_table)
from reglab.cli.options import (FLAG_NAMES, ConfigOpt, LangOpt, NameOpt, OutOpt, OverwriteOpt,
                                QuietOpt, option, spec_flags)
from reglab.lab import arms as arms_mod
from reglab.lab.execute import Job, data_hash, load_data
from reglab.lab.spec import RunSpec
from reglab.train.ddp import joined_group, serve, torchrun_env

__all__ = ["register"]


@spec_flags("run")
def run(
    flags: dict[str, Any],
    nproc: int = option(1, "--nproc", help="Processes for one DistributedDataParallel run (gloo "
                        "on the CPU, NCCL on CUDA), each on its shard of every batch."),
    config: Optional[Path] = ConfigOpt, out: Path = OutOpt,
    name: Optional[str] = NameOpt("run-DATA-HASH"), quiet: bool = QuietOpt,
    overwrite: bool = OverwriteOpt,
    lang: Optional[str] = LangOpt(None, "the experiment's, else en"),
) -> None:
    """Train one run from flags or --config; print each epoch, the final metrics and why it stopped.

    The run is stored like a compare run (runs/NAME/); the same command again shows the
    stored result instead of training again. Under torchrun (any number of nodes and
    processes per node) every process is one rank of one DDP run, as with --nproc; rank 0
    stores the result. --lang vi prints the epochs, the status and why it stopped in
    Vietnamese (the store keeps English).
    """
    lang = check_lang_flag(lang, "run")
    with restated({"nproc": Origin(flag="'--nproc'")}):
        check_int("run", "nproc", nproc, 1)
    cfg = _load_config(config)
    origins: dict[str, Origin] = {}
    if config is not None:  # unknown keys and bad values in the file: named with file and line
        check_file_keys(config, cfg, spec_table(config))
        origins.update(file_origins(config, cfg, spec_table(config)))
    with restated(flag_origins(flags, FLAG_NAMES)):
        RunSpec.from_dict(flags)  # each flag alone, named as the flag on an error
    origins.update(flag_origins(flags, FLAG_NAMES))
    chosen = {**cfg, **flags}
    with restated(origins):
        ds = _data_kind(chosen)
        spec = RunSpec.from_dict({**arms_mod.base_changes(ds.kind, chosen.get("model")), **chosen})
        jobs = [Job(f"run-s{spec.seed}", "run", spec)]
        _preflight(jobs, ds)
    launched = torchrun_env()
    if ds.task == "regression" and (nproc > 1 or (launched is not None and launched[1] > 1)):
        with restated({"nproc": Origin(flag="'--nproc'")}):  # before anything is written
            raise fail("run", "nproc", "1 for a regression target (the DDP loop trains "
                       "classification only; one process trains it)", nproc)
    with restated(origins):
        digest = hashlib.sha1(spec.to_json().encode()).hexdigest()[:8]
        name = name if name is not None else f"run-{_stem(spec.data)}-{digest}"
        if launched is None or launched[1] == 1:
            _run_experiment(jobs, out, name, 1, quiet, ds, title=f"run on {spec.data}",
                            meta={"command": "run", "argv": sys.argv[1:],
                                  **({"lang": lang} if lang else {})}, single=True,
                            nproc=nproc, overwrite=overwrite)
            return
        if nproc != 1:
            raise fail("run", "nproc", "1 under torchrun (its --nnodes x --nproc-per-node "
                       "give the processes)", nproc)
        data = load_data(spec)
        with joined_group(spec, f"{spec.to_json()}|{data_hash(data)}") as rank:
            if rank != 0:  # trains alongside rank 0; only rank 0 prints and writes the store
                serve(spec, data)
                return
            _run_experiment(jobs, out, name, 1, quiet, ds, title=f"run on {spec.data}",
                            meta={"command": "run", "argv": sys.argv[1:],
                                  **({"lang": lang} if lang else {})}, single=True,
                            nproc=launched[1], overwrite=overwrite)


def register(app) -> None:
    """Add ``reglab run`` to the Typer ``app``."""
    app.command("run")(run)
