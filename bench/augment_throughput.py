"""Augmentation throughput: reglab's batched pipeline versus a per-sample Python loop.

The pipeline is rotation (15 degrees) + zoom (0.9-1.1) + Gaussian noise (0.1), on batches of
256 digits-sized images (1, 8, 8) and 256 CIFAR-sized images (3, 32, 32), one CPU thread.
"batched" is one ``Compose`` call per batch (one warp for the fused geometric transforms);
"loop" calls the same ``Compose`` on each image as a batch of one, then concatenates, as a
per-sample ``Dataset.__getitem__`` pipeline would. Variants alternate round-robin so machine
noise hits both alike; each figure is the median over ``--reps``. Target: batched >= 10x the
loop.

A second table is the stacked engine's case: M members, each with its own seeded pipeline
(the image default ``rotate,translate,scale``), on a stack of batches (M, 64, 1, 8, 8): one
pipeline call per member against ``Compose.apply_each`` (each member's draws, one warp for
all; the same numbers, checked here before timing).

    .venv/bin/python bench/augment_throughput.py [--reps 7] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch

from reglab import augment as A

BATCH = 256
SHAPES = {"digits (1, 8, 8)": (1, 8, 8), "CIFAR-sized (3, 32, 32)": (3, 32, 32)}
TARGET = 10.0  # batched / loop throughput ratio


def pipeline() -> A.Compose:
    return A.Compose([A.RandomRotation(15), A.RandomScale(0.9, 1.1), A.GaussianNoise(0.1)],
                     seed=0)


def batched(x: torch.Tensor) -> Callable[[], torch.Tensor]:
    aug = pipeline()
    return lambda: aug(x)


def loop(x: torch.Tensor) -> Callable[[], torch.Tensor]:
    aug = pipeline()
    return lambda: torch.cat([aug(x[i:i + 1]) for i in range(len(x))])


def measure(shape: tuple[int, ...], reps: int, warmup: int) -> dict[str, float]:
    """Images per second (median over reps) of each variant, interleaved round-robin."""
    x = torch.randn(BATCH, *shape, generator=torch.Generator().manual_seed(0))
    fns = {"batched": batched(x), "loop": loop(x)}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: BATCH / statistics.median(ts) for name, ts in times.items()}


STACK_BATCH = 64
MEMBERS = (3, 6)


def stacked(members: int, reps: int, warmup: int) -> dict[str, float]:
    """Microseconds per step (median) of M member pipelines: one call each vs apply_each."""
    xs = torch.randn(members, STACK_BATCH, 1, 8, 8, generator=torch.Generator().manual_seed(0))

    def pipes() -> list[A.Compose]:
        return [A.from_names(["rotate", "translate", "scale"], "image", seed=s)
                for s in range(members)]
    each, alone = pipes(), pipes()
    ref = torch.stack([p(x) for p, x in zip(alone, xs)])
    assert torch.equal(A.Compose.apply_each(each, xs), ref)  # the same numbers
    fns = {"per member": lambda: torch.stack([p(x) for p, x in zip(alone, xs)]),
           "apply_each": lambda: A.Compose.apply_each(each, xs)}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(20):
                fn()
            if r >= warmup:
                times[name].append((time.perf_counter() - t0) / 20)
    return {name: 1e6 * statistics.median(ts) for name, ts in times.items()}


def stacked_table(results: dict[int, dict[str, float]]) -> list[str]:
    lines = ["", f"Stacked members, batch {STACK_BATCH} each, `rotate,translate,scale`:", "",
             "| members | per-member calls us/step | apply_each us/step | ratio |",
             "|---:|---:|---:|---:|"]
    for m, r in results.items():
        lines.append(f"| {m} | {r['per member']:,.0f} | {r['apply_each']:,.0f} | "
                     f"{r['per member'] / r['apply_each']:.2f}x |")
    return lines


def table(results: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| images | batched img/s | per-sample loop img/s | ratio | target |",
             "|---|---:|---:|---:|---|"]
    for name, r in results.items():
        ratio = r["batched"] / r["loop"]
        verdict = "ok" if ratio >= TARGET else "MISSED"
        lines.append(f"| {name} | {r['batched']:,.0f} | {r['loop']:,.0f} | {ratio:.1f}x | "
                     f">= {TARGET:g}x {verdict} |")
    return lines


def header(reps: int, warmup: int) -> list[str]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        "## Augmentation throughput (bench/augment_throughput.py)", "",
        f"Rotation (15 deg) + zoom (0.9-1.1) + Gaussian noise (0.1), batches of {BATCH}, "
        f"1 thread; median of {reps} interleaved repetitions after {warmup} warm-up. "
        "'loop' runs the same Compose once per image with B = 1.", "",
        f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, {cpus} CPU cores "
        f"available; Python {platform.python_version()}, torch {torch.__version__}; date {dt.datetime.now().isoformat(timespec='seconds')}", "",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions (median over them)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    ap.add_argument("--markdown", default=None, help="write the table as a markdown section here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    results = {name: measure(shape, args.reps, args.warmup) for name, shape in SHAPES.items()}
    lines = table(results) + stacked_table({m: stacked(m, args.reps, args.warmup)
                                            for m in MEMBERS})
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(header(args.reps, args.warmup) + lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
