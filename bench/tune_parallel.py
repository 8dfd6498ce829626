"""One `reglab tune` search scored one trial at a time, and with trials in flight on 1 and 2
worker processes: the wall time of each, side by side, and whether the studies are equal.

`run_trials` keeps ``parallel`` trials in flight, tells them to the study in number order
and judges each against the trials finished when it was drawn, so the study depends on
``parallel``, not on the processes that score it. Three searches of the same space on
mnist1d (the default MLP recipe's base, shorter: ``--epochs``), alternating over
``--reps`` rounds:

- ``parallel=1, 1 process``: what ``reglab tune`` did before (one trial at a time);
- ``parallel=4, 1 process`` and ``parallel=4, 2 processes``: the same study twice; the
  script checks every trial (state, parameters, value, per-epoch scores) is equal. It is
  another study than one at a time (other trials, other lengths), so the speed-up of the
  processes is the ratio of these two; against one at a time the work differs too.

    PYTHONPATH=src python bench/tune_parallel.py [--trials 12] [--epochs 30] [--reps 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def search(base, data, space, trials: int, parallel: int, workers: int, folder: Path):
    from reglab.lab import tune as T
    study = T.open_study(f"sqlite:///{folder / f'p{parallel}w{workers}-{time.time_ns()}.db'}",
                         "bench", seed=base.seed)
    t0 = time.perf_counter()
    T.run_trials(study, base, data, space, trials, parallel=parallel, workers=workers)
    return time.perf_counter() - t0, study


def key(study) -> list:
    return [(t.number, t.state.name, t.params, t.value, t.intermediate_values)
            for t in study.get_trials()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args(argv)
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    from reglab.lab import tune as T
    from reglab.lab.arms import base_changes
    from reglab.lab.execute import load_data
    from reglab.lab.spec import RunSpec
    data = load_data(RunSpec(data="mnist1d"))
    base = RunSpec.from_dict({**base_changes(data.kind, None), "data": "mnist1d",
                              "epochs": args.epochs})
    space = T.default_space(data.kind, base.epochs)
    configs = [(1, 1), (4, 1), (4, 2)]
    times: dict[tuple, list[float]] = {c: [] for c in configs}
    studies: dict[tuple, list] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="reglab-tune-bench-") as tmp:
        for _ in range(args.reps):
            for parallel, workers in configs:
                seconds, study = search(base, data, space, args.trials, parallel, workers,
                                        Path(tmp))
                times[(parallel, workers)].append(seconds)
                studies[(parallel, workers)].append(key(study))
    same = all(s == studies[(4, 1)][0] for c in ((4, 1), (4, 2)) for s in studies[c])
    repeat = all(s == studies[(1, 1)][0] for s in studies[(1, 1)])
    ref = statistics.median(times[(1, 1)])
    same_work = statistics.median(times[(4, 1)])  # the same study on one process
    rows = ["| search | processes | wall s (median) | vs one at a time | vs the same study "
            "on 1 process | pruned | epochs trained |", "|---|---:|---:|---:|---:|---:|---:|"]
    for parallel, workers in configs:
        med = statistics.median(times[(parallel, workers)])
        trials = studies[(parallel, workers)][0]
        pruned = sum(t[1] == "PRUNED" for t in trials)
        epochs = sum(len(t[4]) for t in trials)
        rows.append(f"| parallel={parallel} | {workers} | {med:.1f} | {ref / med:.2f}x | "
                    + (f"{same_work / med:.2f}x" if parallel == 4 else "-")
                    + f" | {pruned} of {args.trials} | {epochs} |")
    text = "\n".join(rows)
    verdicts = (f"parallel=4 on 1 and on 2 processes: {'the same' if same else 'DIFFERENT'} "
                f"study (every trial's state, parameters, value and per-epoch scores, "
                f"{args.reps} rounds); parallel=1 repeated: "
                f"{'the same' if repeat else 'DIFFERENT'}.")
    print(text)
    print(verdicts)
    if args.markdown:
        Path(args.markdown).write_text("\n".join([
            "## Tune: trials in flight on worker processes (bench/tune_parallel.py)", "",
            f"One search of {args.trials} trials of the mnist1d space (default MLP base, "
            f"{args.epochs} epochs, successive halving at epoch {T.first_rung(args.epochs)}), "
            f"each configuration {args.reps} times, alternating; wall time of `run_trials`, "
            f"medians.", "",
            f"- machine: {platform.machine()}, {platform.processor() or 'cpu'}, torch "
            f"{torch.__version__}, 1 thread per process, date {dt.date.today().isoformat()}",
            "", text, "", verdicts, ""]))
    return 0 if same and repeat else 1


if __name__ == "__main__":
    sys.exit(main())
