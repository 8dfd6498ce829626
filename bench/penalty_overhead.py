"""Training-step overhead of penalties and update rules, relative to the plain step.

Two MLPs on one CPU thread: 784-1024-1024-10 (batch 256; arithmetic dominates) and
40-100-100-10 (batch 128; Python and autograd overhead dominate). Variants run round-robin,
one step each per round in a shuffled order, so machine noise hits all alike; timed by this
thread's CPU time by default (``--clock wall`` for wall time); each time is the median over
``--steps`` rounds (``--tiny-steps`` for the tiny MLP, whose steps are short) after ``--warmup``
rounds. A ratio is the median over rounds of the step's time over the no-penalty step's with
the same optimizer in the same round (paired, so a load changing between rounds cancels). The
load average is recorded at the start and the end: the machine may be shared, and
memory-bound passes (the penalty's) lose more to other processes than the arithmetic-bound
step does.

    .venv/bin/python bench/penalty_overhead.py [--steps 60] [--tiny-steps 600] [--markdown PATH]

The "bytes floor" row is a hook doing one ``grad += c * w`` pass (read w and .grad, write
.grad: 12 bytes per float32 parameter), the least memory traffic any gradient hook moves: the
L1 + L2 hook moves the same bytes from memory and, with eager kernels, two more passes in cache.

Penalty rows come in two modes: "attached (grad hook)", the fast path, and "loss term", the
readable one; the targets apply to the fast path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl

LAM1, LAM2 = 1e-5, 1e-4  # penalty strengths; their size does not change the cost
SIZES = {"large": ((784, 1024, 1024, 10), 256), "tiny": ((40, 100, 100, 10), 128)}
# (ratio target on the large MLP, on the tiny one); None = reference row, no target.
# Penalty targets apply to reglab's fast path, the gradient hook (pen.attach(optimizer));
# the loss term (loss + pen(model)) is the readable path, shown for comparison.
TARGETS = {"reglab": (1.05, 1.10), "update": (1.05, 1.05)}
LOSS_TERMS = {"reglab": lambda: rl.L1(LAM1) + rl.L2(LAM2), "reglab-l2": lambda: rl.L2(LAM2)}


def mlp(widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def idiom_l1(model):
    return LAM1 * sum(p.abs().sum() for p in model.parameters())


def idiom_l2(model):
    return LAM2 * sum(p.pow(2).sum() for p in model.parameters())


# name -> (optimizer, loss term or None, update rule or None, baseline name, target key)
VARIANTS: dict[str, tuple] = {
    "SGD, no penalty": ("sgd", None, None, None, None),
    "SGD + idiom L1 (sum abs(p))": ("sgd", idiom_l1, None, "SGD, no penalty", None),
    "SGD + idiom L2 (sum p**2)": ("sgd", idiom_l2, None, "SGD, no penalty", None),
    "SGD + rl.L1 + rl.L2 loss term (readable)": ("sgd", "reglab", None, "SGD, no penalty", None),
    "SGD + rl.L1 + rl.L2 attached (grad hook)": ("sgd", None, "l1+l2", "SGD, no penalty",
                                                  "reglab"),
    "SGD + rl.L2 loss term (readable)": ("sgd", "reglab-l2", None, "SGD, no penalty", None),
    "SGD + rl.L2 attached (grad hook)": ("sgd", None, "l2", "SGD, no penalty", "reglab"),
    "SGD + bytes floor: one grad += c*w pass": ("sgd", None, "floor", "SGD, no penalty", None),
    "SGD + ProximalL1": ("sgd", None, "prox", "SGD, no penalty", "update"),
    "SGD + DecoupledWeightDecay": ("sgd", None, "decay", "SGD, no penalty", "update"),
    "Adam, no penalty": ("adam", None, None, None, None),
    "Adam + rl.L1 + rl.L2 loss term (readable)": ("adam", "reglab", None, "Adam, no penalty",
                                                   None),
    "Adam + rl.L1 + rl.L2 attached (grad hook)": ("adam", None, "l1+l2", "Adam, no penalty",
                                                   "reglab"),
    "Adam + DecoupledWeightDecay": ("adam", None, "decay", "Adam, no penalty", "update"),
    "AdamW built-in decay": ("adamw", None, None, "Adam, no penalty", None),
}


def make_step(widths, batch, opt_name, term, rule) -> Callable[[], None]:
    """A closure running one training step of a fresh, identically seeded model."""
    torch.manual_seed(0)
    model = mlp(widths)
    x, y = torch.randn(batch, widths[0]), torch.randint(0, widths[-1], (batch,))
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
           "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
           "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2)}[opt_name](
        model.parameters())
    if rule == "prox":
        rl.ProximalL1(LAM1).attach(opt)
    elif rule == "decay":
        rl.DecoupledWeightDecay(1e-2).attach(opt)
    elif rule == "l1+l2":
        (rl.L1(LAM1) + rl.L2(LAM2)).attach(opt)
    elif rule == "l2":
        rl.L2(LAM2).attach(opt)
    elif rule == "floor":
        ws = [p for p in model.parameters() if p.ndim >= 2]

        def one_pass(*_):
            with torch.no_grad():
                torch._foreach_add_([w.grad for w in ws], ws, alpha=2 * LAM2)
        opt.register_step_pre_hook(one_pass)
    pen = LOSS_TERMS[term]() if isinstance(term, str) else term

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        if pen is not None:
            loss = loss + pen(model)
        loss.backward()
        opt.step()

    return step


def measure(size: str, steps: int, warmup: int, clock: Callable[[], float]
            ) -> dict[str, list[float]]:
    """Step times in seconds per variant, one per round: round-robin, in a fresh random order
    each round (a fixed order can alias with the OS scheduler's time slices on a shared
    machine)."""
    widths, batch = SIZES[size]
    fns = {name: make_step(widths, batch, *spec[:3]) for name, spec in VARIANTS.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = random.Random(0)
    for r in range(warmup + steps):
        names = list(fns)
        order.shuffle(names)
        for name in names:
            t0 = clock()
            fns[name]()
            if r >= warmup:
                times[name].append(clock() - t0)
    return times


def paired_ratio(times: list[float], base: list[float]) -> float:
    """Median over rounds of (this variant's step / the baseline's step in the same round):
    pairs steps that ran moments apart, so a load that changes between rounds cancels."""
    return statistics.median(t / b for t, b in zip(times, base))


def table(results: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = ["| variant | large ms | large ratio | tiny ms | tiny ratio | target (large / tiny) |",
             "|---|---:|---:|---:|---:|---|"]
    for name, (_, _, _, base, target) in VARIANTS.items():
        cells, ratios = [], []
        for size in SIZES:
            ts = results[size][name]
            ratios.append(paired_ratio(ts, results[size][base]) if base else 1.0)
            cells += [f"{1e3 * statistics.median(ts):.3f}", f"{ratios[-1]:.3f}x"]
        if target is None:
            goal = "- (readable path)" if "loss term" in name else "-"
        else:
            goal = " / ".join(f"<= {t:.2f}x" for t in TARGETS[target])
            ok = all(r <= t for r, t in zip(ratios, TARGETS[target]))
            goal += " ok" if ok else " MISSED"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {goal} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="timed rounds (median over them)")
    ap.add_argument("--tiny-steps", type=int, default=600,
                    help="timed rounds for the tiny MLP (its steps take ~0.5 ms)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed rounds first")
    ap.add_argument("--markdown", default=None, help="write the table as a markdown section here")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                    help="cpu: this thread's CPU time (ignores time other processes hold the "
                    "core; torch runs on this one thread here); wall: perf_counter")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    load0 = os.getloadavg()[0]
    steps = {"large": args.steps, "tiny": args.tiny_steps}
    results = {size: measure(size, steps[size], args.warmup, clock) for size in SIZES}
    load1 = os.getloadavg()[0]
    lines = table(results)
    print("\n".join(lines))
    print(f"load average (1 min): {load0:.2f} at the start, {load1:.2f} at the end")
    if args.markdown:
        head = [
            "## Penalty and update-rule overhead (bench/penalty_overhead.py)", "",
            f"Training step of a 784-1024-1024-10 MLP (batch 256) and a 40-100-100-10 MLP "
            f"(batch 128), 1 thread, {args.clock} clock, median of {args.steps} (large) / "
            f"{args.tiny_steps} (tiny) interleaved steps after {args.warmup} warm-up rounds; a "
            f"ratio is the median over rounds of the step over the no-penalty step with the same "
            f"optimizer in the same round (SGD momentum 0.9, or Adam). Idioms are over all "
            f"parameters, as usually written; rl penalties over weights (their default). Penalty "
            f"targets apply to the fast path, the gradient hook `pen.attach(optimizer)`; the "
            f"loss term `loss + pen(model)` is the readable path (same trajectory, slower).", "",
            f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, "
            f"torch {torch.__version__}, Python {platform.python_version()}, "
            f"date {dt.datetime.now().isoformat(timespec='minutes')}, "
            f"{len(os.sched_getaffinity(0))} cores; load average (1 min) {load0:.2f} at the "
            f"start, {load1:.2f} at the end", "",
        ]
        with open(args.markdown, "w") as f:
            f.write("\n".join(head + lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
