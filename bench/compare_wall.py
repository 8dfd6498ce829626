"""Wall time of the default ``reglab compare`` (digits, 7 arms x 3 seeds) with each engine.

The plan is the CLI's default one (``make_plan`` with the image defaults: MLP 256-256, Adam,
40 epochs, batch 64, every arm), written to a fresh store and run with
``reglab.lab.execute.execute(engine=...)``: "sequential" is the lab's runner (one
``loop.fit`` per run, one worker per core), "vectorized" stacks the runs (one worker per
free core), "auto" is what ``compare`` uses by default once it calls the engine. The time
includes loading each seed's split, the store writes, safetensors and the CSV export; not
the Python start-up or the printed table. When the installed CLI has ``--engine``, the whole
command is timed too, in a subprocess. Target: under 30 s with the default engine on 2 cores.

    .venv/bin/python bench/compare_wall.py [--engines auto sequential] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch

TARGET_S = 30.0


def plan(seeds: int, epochs: int | None):
    import reglab as rl
    from reglab.lab import arms
    from reglab.lab.compare import make_plan
    from reglab.lab.spec import RunSpec
    kind = rl.data.load("digits", seed=0).kind
    base = RunSpec.from_dict({**arms.base_changes(kind), "data": "digits",
                              **({"epochs": epochs} if epochs else {})})
    return make_plan(base, kind, list(arms.ARMS), seeds)


def run_api(engine_name: str, seeds: int, epochs: int | None) -> tuple[float, dict]:
    from reglab.lab import execute as executor
    from reglab.lab.store import Store
    jobs = plan(seeds, epochs)
    executor._DATA.clear()  # each engine loads the splits itself
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with Store.open(tmp, "bench") as store:
            for i, job in enumerate(jobs):
                store.add_run(job.run_id, job.arm, job.spec.seed, job.spec.to_json(), i)
            outcome = executor.execute(store, jobs, engine=engine_name)
            runs = store.runs()
        wall = time.perf_counter() - t0
    acc = {}
    for r in runs:
        acc.setdefault(r["arm"], []).append(r["final"].get("test_acc", float("nan")))
    assert not outcome.failed, outcome.failed
    return wall, {a: sum(v) / len(v) for a, v in acc.items()}


def cli_has_engine() -> bool:
    out = subprocess.run([sys.executable, "-m", "reglab.cli", "compare", "--help"],
                         capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    return "--engine" in out.stdout


def run_cli(engine_name: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reglab.cli", "compare", "--engine", engine_name,
                        "--out", tmp, "--quiet"], check=True, capture_output=True)
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", nargs="+", default=["auto", "vectorized", "sequential"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None, help="override the default epochs (digits: 40)")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args(argv)
    from reglab.lab.execute import free_cores
    cores = len(os.sched_getaffinity(0))
    lines = ["| engine | wall s (API) | wall s (CLI) | mean test acc over arms | target |",
             "|---|---:|---:|---:|---|"]
    with_cli = cli_has_engine()
    for name in args.engines:
        wall, acc = run_api(name, args.seeds, args.epochs)
        cli = f"{run_cli(name):.1f}" if with_cli and args.epochs is None else "-"
        target = "-"
        if name == "auto":
            target = f"< {TARGET_S:.0f} s " + ("ok" if wall < TARGET_S else "MISSED")
        lines.append(f"| {name} | {wall:.1f} | {cli} | "
                     f"{sum(acc.values()) / len(acc):.4f} | {target} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))
    if args.markdown:
        head = ["## `reglab compare` wall time (bench/compare_wall.py)", "",
                f"digits, 7 arms x {args.seeds} seeds, "
                f"{args.epochs or 'the default 40'} epochs, MLP 256-256, Adam, batch 64; "
                f"{cores} cores, {free_cores()} free at the end of the run. "
                + ("" if with_cli else "The CLI has no --engine flag yet: API timings only."),
                "", f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, "
                f"torch {torch.__version__}, date {dt.date.today().isoformat()}", ""]
        with open(args.markdown, "w") as f:
            f.write("\n".join(head + lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
