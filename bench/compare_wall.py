"""Wall time of the work people run with ``reglab compare``, each engine against the floor.

Three workloads on digits, each every default arm from the CLI's plan (``make_plan`` with the
image defaults, Adam, batch 64):

* ``default``: what ``make demo`` runs, ``reglab compare --seeds 15`` (the image base run and
  every arm's default strengths, 15 seeds: 8 x 15 = 120 runs);
* ``strong-mlp`` (8 x 3 = 24 runs): MLP 512-512, 200 epochs, augmentation ``rotate,translate,scale`` on the
  augment arms (``augment`` and ``all``);
* ``cnn`` (8 x 3 = 24 runs): the lab's digits CNN (two conv blocks, head width 256: the MLP
  base's first width, and ``--model cnn``'s dense width again since the 5-split selection of
  2026-12-03; the CNN's own arm strengths), 120 epochs.

Each is written to a fresh store and run with ``reglab.lab.execute.execute`` under the
default engine ("auto": stacks where runs share a shape, one worker per free core) and the
"sequential" engine (one ``fit`` per run), side by side, and set against the roofline floor
(``bench/roofline.py``, all cores): the steps each run actually trained (early stopping
included, read from the default engine's store) times the step cost of its model, plus one
forward pass over the validation split per epoch. The time includes loading the splits, the
store writes, safetensors and the CSV export; not the Python start-up.

Targets (issue 12), for ``strong-mlp`` and ``cnn``: default engine <= 3x the all-core floor
and >= 3x faster than the sequential engine. ``--quick`` divides the epochs by 20 (a couple
of minutes in all; process start and the label-free setup weigh more there, so quick ratios
are worse than full ones). The machine may be shared: the numbers are noisy.

    PYTHONPATH=src OMP_NUM_THREADS=1 python bench/compare_wall.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/roofline.py
from roofline import Rates, cnn_params, cnn_step_cost, mlp_params, mlp_step_cost  # noqa: E402

ENGINES = ("auto", "sequential")
GEOMETRIC = ("rotate", "translate", "scale")
# name -> (spec changes over the image defaults, augment-arm override, full epochs (None: the
# base run's), seeds)
WORKLOADS = {
    "default": ({}, None, None, 15),  # the Makefile's demo: reglab compare --seeds 15
    "strong-mlp": ({"hidden": (512, 512)}, GEOMETRIC, 200, 3),
    "cnn": ({"model": "cnn"}, None, 120, 3),
}
TARGET_FLOOR, TARGET_SPEEDUP = 3.0, 3.0
QUICK = 20  # --quick: epochs / 20


def plan(changes: dict, augment, epochs: int, seeds: int):
    """The compare plan of a workload: every arm x ``seeds`` seeds."""
    import reglab as rl
    from reglab.lab import arms
    from reglab.lab.compare import make_plan
    from reglab.lab.spec import RunSpec
    kind = rl.data.load("digits", seed=0).kind
    base = RunSpec.from_dict({**arms.base_changes(kind), "data": "digits", **changes,
                              "epochs": epochs})
    overrides = {} if augment is None else {"augment": augment}
    return make_plan(base, kind, list(arms.ARMS), seeds, overrides)


def base_epochs() -> int:
    """The image base run's epochs (the default compare's)."""
    from reglab.lab import arms
    return arms.base_changes("image")["epochs"]


def run(jobs, engine_name: str) -> tuple[float, list[dict]]:
    """Wall seconds of ``jobs`` under ``engine_name`` in a fresh store, and the stored runs."""
    from reglab.lab import execute as executor
    from reglab.lab.store import Store
    executor._DATA.clear()  # each engine loads the splits itself
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with Store.open(tmp, "bench") as store:
            for i, job in enumerate(jobs):
                store.add_run(job.run_id, job.arm, job.spec.seed, job.spec.to_json(), i)
            outcome = executor.execute(store, jobs, engine=engine_name)
            runs = store.runs()
        wall = time.perf_counter() - t0
    assert not outcome.failed, outcome.failed
    return wall, runs


def floor(jobs, runs: list[dict], rates: Rates) -> tuple[float, str]:
    """The all-core roofline floor of the runs as trained (their epochs_trained)."""
    import reglab as rl
    data = rl.data.load("digits", seed=0)
    shape, classes = tuple(data.input_shape), data.num_classes
    n_train, n_val = len(data.train), len(data.val)
    trained = {r["id"]: int(r["final"]["epochs_trained"]) for r in runs}
    flops = nbytes = 0.0
    working_set = 0.0
    for job in jobs:
        spec, epochs = job.spec, trained[job.run_id]
        if spec.model == "cnn":
            step_flops, step_bytes = cnn_step_cost(shape, spec.hidden[0], classes,
                                                   spec.batch_size)
            params = cnn_params(shape, spec.hidden[0], classes)
        else:
            widths = [math.prod(shape), *spec.hidden, classes]
            step_flops, step_bytes = mlp_step_cost(widths, spec.batch_size)
            params = mlp_params(widths)
        steps = math.ceil(n_train / spec.batch_size) * epochs
        flops += step_flops * steps + 2.0 * params * n_val * epochs  # + validation forward
        nbytes += step_bytes * steps
        # a stack of 6 members: weights, grads and Adam's state (16 B per parameter) and the
        # activations of a batch (4 B per unit; the step cost counts 32 per unit), as sweep.py
        activations = (step_bytes - 40 * params) / 8
        working_set = max(working_set, 6 * (16 * params + activations))
    return rates.floor(flops, nbytes, working_set)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"epochs / {QUICK}")
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args(argv)
    from reglab.lab.execute import free_cores
    cores = len(os.sched_getaffinity(0))
    rates = Rates.measure(threads=cores)
    lines = ["| workload | runs | epochs | default s | sequential s | floor s (binds) | "
             "default / floor | sequential / default | targets |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in args.workloads:
        changes, augment, epochs, seeds = WORKLOADS[name]
        epochs = epochs or base_epochs()
        epochs = max(1, epochs // QUICK) if args.quick else epochs
        jobs = plan(changes, augment, epochs, seeds)
        wall = {}
        for engine_name in ENGINES:
            wall[engine_name], runs = run(jobs, engine_name)
            if engine_name == "auto":
                floor_s, bound = floor(jobs, runs, rates)
        x_floor, speedup = wall["auto"] / floor_s, wall["sequential"] / wall["auto"]
        target = "-"
        if name != "default":
            ok = x_floor <= TARGET_FLOOR and speedup >= TARGET_SPEEDUP
            target = (f"<= {TARGET_FLOOR:g}x floor, >= {TARGET_SPEEDUP:g}x faster: "
                      + ("ok" if ok else "MISSED"))
        lines.append(f"| {name} | {len(jobs)} | {epochs} | {wall['auto']:.1f} | "
                     f"{wall['sequential']:.1f} | {floor_s:.2f} ({bound}) | {x_floor:.1f}x | "
                     f"{speedup:.2f}x | {target} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))
    if args.markdown:
        head = ["## `reglab compare` workloads (bench/compare_wall.py"
                + (" --quick" if args.quick else "") + ")", "",
                f"digits, every default arm ({WORKLOADS['default'][3]} seeds for `default`, 3 for the "
                f"others) per workload; {cores} "
                f"cores, {free_cores()} free at the end; floor on {cores} threads: GEMM {rates.flops / 1e9:.1f} GFLOP/s.", "",
                f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, "
                f"torch {torch.__version__}, date {dt.date.today().isoformat()}", ""]
        with open(args.markdown, "w") as f:
            f.write("\n".join(head + lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
