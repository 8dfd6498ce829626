"""Dropout-mask draw: PyTorch's CPU ``bernoulli_(keep)`` against ``reglab.kernels.bernoulli_``.

Both fill an inverted-dropout mask (``/ keep`` included) from a ``torch.Generator``, one CPU
thread. PyTorch's CPU ``bernoulli_(p)`` draws from MKL on an Intel CPU and per element from
the generator on any other; ``kernels.bernoulli_`` is ``rand(float64) < p`` on every CPU (bit
for bit PyTorch's non-Intel draw). The two variants alternate round-robin so machine noise
hits both alike; each figure is the median over ``--reps`` rounds of ``--calls`` calls. The
table also says whether the two draws gave the same mask on this CPU.

    .venv/bin/python bench/dropout_mask.py [--reps 7] [--calls 400] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from reglab import kernels as K

KEEP = 0.7
SHAPES = {"digits MLP layer, batch 64 (64, 256)": (64, 256),
          "strong MLP layer, batch 64 (64, 512)": (64, 512),
          "mnist1d MLP layer, batch 128 (128, 512)": (128, 512)}


def vendor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def theirs(shape) -> Callable[[], torch.Tensor]:
    g, m = torch.Generator().manual_seed(0), torch.empty(shape)
    return lambda: m.bernoulli_(KEEP, generator=g).div_(KEEP)


def ours(shape) -> Callable[[], torch.Tensor]:
    g, m = torch.Generator().manual_seed(0), torch.empty(shape)
    return lambda: K.bernoulli_(m, KEEP, g).div_(KEEP)


def same_masks(shape) -> bool:
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    return torch.equal(torch.empty(shape).bernoulli_(KEEP, generator=g1),
                       K.bernoulli_(torch.empty(shape), KEEP, g2))


def measure(reps: int, calls: int) -> list[tuple[str, float, float, bool]]:
    rows = []
    for label, shape in SHAPES.items():
        fns = {"theirs": theirs(shape), "ours": ours(shape)}
        times: dict[str, list[float]] = {k: [] for k in fns}
        for f in fns.values():  # warm up
            for _ in range(20):
                f()
        for _ in range(reps):
            for k, f in fns.items():
                t0 = time.perf_counter()
                for _ in range(calls):
                    f()
                times[k].append((time.perf_counter() - t0) / calls * 1e6)
        rows.append((label, statistics.median(times["theirs"]), statistics.median(times["ours"]),
                     same_masks(shape)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--markdown", help="write the section to this file too")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = measure(args.reps, args.calls)
    lines = ["## Dropout-mask draw (bench/dropout_mask.py)", "",
             f"One inverted-dropout mask (keep {KEEP}) from a generator, 1 thread, median us per "
             f"call over {args.reps} rounds of {args.calls} calls, alternating.", "",
             f"- machine: {platform.machine()}, CPU vendor {vendor()}, torch {torch.__version__}, "
             f"Python {platform.python_version()}, date {dt.datetime.now().isoformat(timespec='minutes')}",
             "", "| mask | PyTorch `bernoulli_(keep)` us | `kernels.bernoulli_` us | speed-up "
             "| same mask on this CPU |", "|---|---:|---:|---:|---|"]
    for label, a, b, same in rows:
        lines.append(f"| {label} | {a:.1f} | {b:.1f} | {a / b:.2f}x | {'yes' if same else 'no'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
