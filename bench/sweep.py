"""Sweep of K small MLPs: plain PyTorch loop, reglab sequential, vectorized, across processes.

First the machine's floor (bench/roofline.py): max(FLOPs / GEMM rate, bytes moved / memory
bandwidth), both measured at the start on all cores, the bandwidth at the sweep's working-set
size; a training step is 6 x batch x params FLOPs and ~40 bytes per parameter plus the
activations. Then K MLPs 64-H-H-10 on digits (1169 training rows) and 40-H-H-10 on MNIST-1D
(3400 rows), H in 32..512, Adam, batch 128, fixed epochs, each run with its own seed and L2
strength:

* plain: a hand-written PyTorch loop (tensor slicing, no DataLoader), one run after another;
* sequential: ``train_many(engine="sequential", workers=1)``, i.e. ``loop.fit`` per run;
* vectorized: ``train_many(workers=1)``: one stacked model on one thread;
* processes: ``train_many(workers=<all cores>)``: the stack split over one-thread workers
  (spawned: their start-up, ~2 s importing torch, is part of the time);
* default: ``train_many()``: what ``reglab compare`` gets (one worker per *free* core).

Each figure is the median over ``--repeats`` rounds, variants interleaved within a round.
Targets (issue 12): default engine within 2x of the all-core floor at H >= 128, 4x at H = 32
(with >= 20 epochs so process start is amortized); (issue 6) vectorized
>= 3x faster than sequential at H <= 128. Also printed: one training step of K = 32
64-H-H-10 MLPs, stacked ``baddbmm`` vs ``torch.func`` (``stack_module_state`` +
``functional_call`` + ``vmap``), the choice behind the engine.

    .venv/bin/python bench/sweep.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab.lab import execute as engine
from reglab.lab.spec import RunSpec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/roofline.py
from roofline import Rates, mlp_step_cost, mlp_working_set  # noqa: E402

BATCH = 128


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def specs_for(h: int, k: int, epochs: int, device: str = "cpu") -> list[RunSpec]:
    """K runs: seeds 0..K-1, L2 strengths cycling over four values (a small sweep)."""
    return [RunSpec(data="bench", model="mlp", hidden=(h, h), optimizer="adam", lr=1e-3,
                    epochs=epochs, batch_size=BATCH, seed=s, device=device, l2=(0.0, 1e-4, 1e-3, 1e-2)[s % 4])
            for s in range(k)]


def plain_loop(specs: list[RunSpec], data) -> None:
    """The loop a user writes by hand: slicing, Adam, CE + L2 term, val loss per epoch."""
    X, y = data.train.X.flatten(1), data.train.y
    Xv, yv = data.val.X.flatten(1), data.val.y
    for spec in specs:
        torch.manual_seed(spec.seed)
        h = spec.hidden[0]
        model = nn.Sequential(nn.Linear(X.shape[1], h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                              nn.Linear(h, data.num_classes))
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
        gen = torch.Generator().manual_seed(spec.seed)
        for _ in range(spec.epochs):
            for idx in torch.randperm(X.shape[0], generator=gen).split(spec.batch_size):
                loss = F.cross_entropy(model(X[idx]), y[idx])
                if spec.l2:
                    loss = loss + spec.l2 * sum(p.pow(2).sum() for p in model.parameters()
                                                if p.ndim >= 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                F.cross_entropy(model(Xv), yv).item()


def variants(data, workers: int, device: str = "cpu"):
    if device != "cpu":  # one process drives the GPU: the stack against one run at a time
        return {
            "sequential": lambda s: engine.train_many(s, data, workers=1, engine="sequential"),
            "vectorized": lambda s: engine.train_many(s, data, workers=1),
            "default": lambda s: engine.train_many(s, data),
        }
    return {
        "plain": lambda s: plain_loop(s, data),
        "sequential": lambda s: engine.train_many(s, data, workers=1, engine="sequential"),
        "vectorized": lambda s: engine.train_many(s, data, workers=1),
        f"processes ({workers})": lambda s: engine.train_many(s, data, workers=workers),
        "default": lambda s: engine.train_many(s, data),
    }


def sweep_floor(data, h: int, k: int, epochs: int, rates: Rates) -> tuple[float, float, str]:
    """(GFLOP, floor seconds, what binds) of K runs of in-h-h-C for ``epochs`` epochs."""
    widths = [data.train.X[0].numel(), h, h, data.num_classes]
    n = len(data.train)
    steps = math.ceil(n / BATCH) * epochs * k
    flops, nbytes = mlp_step_cost(widths, BATCH)
    floor, bound = rates.floor(flops * steps, nbytes * steps, mlp_working_set(widths, BATCH, k))
    return flops * steps / 1e9, floor, bound


def sweep(name: str, data, hs: list[int], k: int, epochs: int, repeats: int, rates: Rates,
          workers: int) -> list[str]:
    rows = []
    for h in hs:
        specs = specs_for(h, k, epochs, rates.device)
        gflop, floor_all, bound = sweep_floor(data, h, k, epochs, rates)
        fns = variants(data, workers, rates.device)
        times = {v: [] for v in fns}
        for _ in range(repeats):
            for v, fn in fns.items():
                times[v].append(_timed(lambda: fn(specs)))
        med = {v: statistics.median(ts) for v, ts in times.items()}
        speed = med["sequential"] / med["vectorized"]
        target = 2 if h >= 128 else 4  # issue 12: <= 2x the floor at H >= 128, <= 4x at 32
        ok_floor = med["default"] <= target * floor_all
        cells = " | ".join(f"{med[v]:.2f} ({med[v] / floor_all:.1f}x)" for v in fns)
        rows.append(f"| {name} | {h} | {gflop:.1f} | {floor_all:.3f} {bound} | {cells} | "
                    f"{speed:.1f}x | <= {target}x: {'ok' if ok_floor else 'MISSED'} |")
        print(rows[-1], flush=True)
    return rows


def stacked_and_vmap_steps(stack, models, x, y):
    """Two ways to take one SGD step (lr 1e-3) of K models on their own batches x[k], y[k]:
    the engine's stack (``stack(x)``: one batched forward and backward) and ``torch.func``
    (``stack_module_state`` + ``functional_call`` + ``vmap``). bench/cnn_stack.py uses it too."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    def stacked_step():
        loss = F.cross_entropy(stack(x).flatten(0, 1), y.flatten(), reduction="sum") / BATCH
        grads = torch.autograd.grad(loss, stack.params)
        with torch.no_grad():
            torch._foreach_add_(stack.params, grads, alpha=-1e-3)

    params, _ = stack_module_state(models)
    base = models[0]
    g = vmap(grad(lambda p, xb, yb: F.cross_entropy(functional_call(base, (p,), (xb,)), yb)))

    def vmap_step():
        grads = g(params, x, y)
        with torch.no_grad():
            for key in params:
                params[key].sub_(1e-3 * grads[key])

    return stacked_step, vmap_step


def step_bmm_vs_vmap(hs: list[int], k: int = 32, steps: int = 20) -> list[str]:
    """ms per training step (fwd + bwd + SGD) of K 64-H-H-10 MLPs, batch 128, one thread."""
    from reglab.train.stacked_ops import StackedMLP
    rows = ["| H | stacked baddbmm ms | torch.func vmap ms | faster |", "|---:|---:|---:|---|"]
    for h in hs:
        models = [nn.Sequential(nn.Linear(64, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                nn.Linear(h, 10)) for _ in range(k)]
        x, y = torch.randn(k, BATCH, 64), torch.randint(0, 10, (k, BATCH))
        bmm_step, vmap_step = stacked_and_vmap_steps(StackedMLP.from_models(models, "relu"),
                                                     models, x, y)

        t = {"bmm": [], "vmap": []}
        for _ in range(3):
            bmm_step(), vmap_step()
        for _ in range(steps):
            t["bmm"].append(_timed(bmm_step))
            t["vmap"].append(_timed(vmap_step))
        a, b = (1e3 * statistics.median(t[v]) for v in ("bmm", "vmap"))
        rows.append(f"| {h} | {a:.2f} | {b:.2f} | {'baddbmm' if a <= b else 'vmap'} "
                    f"({max(a, b) / min(a, b):.2f}x) |")
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="H in 32, 128, 512; 1 epoch; 1 repeat")
    ap.add_argument("--k", type=int, default=32, help="runs per sweep")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", default=None, help="write the tables as a markdown section")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the floor is then the GPU's)")
    ap.add_argument("--hs", default=None,
                    help="hidden widths, comma-separated (default 32,64,128,256,512)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    hs = [32, 128, 512] if args.quick else [32, 64, 128, 256, 512]
    if args.hs:
        hs = [int(h) for h in args.hs.split(",")]
    epochs, repeats = (1, 1) if args.quick else (args.epochs, args.repeats)
    n_cores = cores()
    if args.device != "cpu" and not torch.cuda.is_available():
        print(f"sweep.py: --device {args.device} needs a CUDA GPU; torch.cuda.is_available() "
              "is False here", file=sys.stderr)
        return 2
    rates = Rates.measure(n_cores, args.device)
    print(f"GEMM float32: {rates.flops / 1e9:.1f} GFLOP/s on {n_cores} thread(s); "
          f"add bandwidth {rates.bandwidth(1e6) / 1e9:.0f} GB/s at 1 MB, "
          f"{rates.bandwidth(1e8) / 1e9:.0f} GB/s at 100 MB; default engine would use "
          f"{engine.free_cores()} worker(s) now", flush=True)
    choice = step_bmm_vs_vmap(hs) if args.device == "cpu" else []
    names = list(variants(None, n_cores, args.device))
    lines = [f"| data | H | GFLOP | floor s (all cores), bound | "
             + " | ".join(f"{n} s (x floor)" for n in names)
             + " | vectorized vs sequential | default vs floor |",
             "|---|---:|---:|---:|" + "---:|" * len(names) + "---:|---|"]
    print("\n".join(lines))
    for name, ds in (("digits", rl.data.load("digits", seed=0)),
                     ("mnist1d", rl.data.load("mnist1d", seed=0))):
        lines += sweep(name, ds, hs, args.k, epochs, repeats, rates, n_cores)
    if args.markdown:
        head = [
            f"## Sweep engine vs the roofline floor (bench/sweep.py"
            f"{'' if args.device == 'cpu' else ', ' + args.device})", "",
            f"K = {args.k} MLPs (in-H-H-10, Adam, batch {BATCH}, L2 cycling over 0, 1e-4, "
            f"1e-3, 1e-2, seeds 0..K-1), {epochs} epoch(s), wall seconds, median of "
            f"{repeats}; in parentheses the multiple of the all-core floor. Floor = max(FLOPs "
            f"/ GEMM rate, bytes / bandwidth) (bench/roofline.py: 6 x batch x params FLOPs and "
            f"40 bytes per parameter plus activations per step; GEMM {rates.flops / 1e9:.1f} "
            f"GFLOP/s on {n_cores} threads, float32 2048^3; add bandwidth measured at the "
            f"sweep's working-set size); the bound column says which binds. 'default' = "
            f"train_many() with one worker per free core ({engine.free_cores()} at the end).",
            "", f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, "
            f"{n_cores} cores, torch {torch.__version__}, date {dt.date.today().isoformat()}",
            "", *lines, "",
            f"One training step of K = 32 64-H-H-10 MLPs, batch {BATCH}, 1 thread (median ms): "
            "the engine stacks weights and uses baddbmm.", "", *choice]
        with open(args.markdown, "w") as f:
            f.write("\n".join(head) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
