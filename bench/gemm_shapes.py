"""How fast the engine's own matmul shapes run, against the 2048^3 rate every floor assumes.

The floors of ``bench/sweep.py`` and ``bench/compare_wall.py`` divide FLOPs by the rate of
one large float32 matmul (``roofline.gemm_rate``). The stacked engine does not run large
matmuls: it runs ``baddbmm`` / ``bmm`` over K members at the run's batch size. This measures,
on one thread, the rate of the three matmuls of one stacked linear layer (forward
``x @ W``, the weight gradient ``x^T @ g`` and the input gradient ``g @ W^T``) at the shapes of
the workloads the issue-12 targets name, and the whole bare training step of the K = 32
sweep stack (forward, loss, backward, fused Adam; no data, evaluation or bookkeeping) against
that step's roofline floor (``roofline.Rates.floor``, as the sweep's). A shape that reaches a fraction f of the large-matmul rate needs at least
1/f times the compute floor however little else the engine does. ``--compile`` also times the
step with its forward and loss under ``torch.compile`` (backward through AOT autograd; the
compile time is printed, not counted).

    OMP_NUM_THREADS=1 .venv/bin/python bench/gemm_shapes.py [--compile] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/roofline.py
from roofline import Rates, mlp_params, mlp_step_cost, mlp_working_set  # noqa: E402

# (label, members K, batch B, in, out): one stacked layer of each workload
SHAPES = [
    ("strong-mlp 512-512, stack of 6 (digits, batch 64)", 6, 64, 512, 512),
    ("the same, one member (sequential engine)", 1, 64, 512, 512),
    ("mnist1d 512-512-512, stack of 3 (batch 128)", 3, 128, 512, 512),
    ("sweep K = 32, H = 128 (batch 128)", 32, 128, 128, 128),
    ("sweep K = 32, H = 32 (batch 128)", 32, 128, 32, 32),
]
# the sweep's stacked MLPs (bench/sweep.py: digits 64-H-H-10, batch 128, Adam)
STEPS = [(32, [64, 32, 32, 10]), (32, [64, 128, 128, 10])]


def _median(fn, reps: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def layer_rates(k: int, b: int, n_in: int, n_out: int, reps: int) -> tuple[float, float, float]:
    x, g = torch.randn(k, b, n_in), torch.randn(k, b, n_out)
    w, bias = torch.randn(k, n_in, n_out), torch.randn(k, 1, n_out)
    flops = 2.0 * k * b * n_in * n_out
    fwd = flops / _median(lambda: torch.baddbmm(bias, x, w), reps)
    wgrad = flops / _median(lambda: torch.bmm(x.transpose(1, 2), g), reps)
    dgrad = flops / _median(lambda: torch.bmm(g, w.transpose(1, 2)), reps)
    return fwd / 1e9, wgrad / 1e9, dgrad / 1e9


def bare_step(k: int, widths: list[int], batch: int, reps: int, compiled: bool = False
              ) -> tuple[float, float]:
    """Seconds of one stacked training step: baddbmm layers, ReLU, cross-entropy, Adam (the
    faster of ``fused=True``, the engine's, and ``foreach=True``), and the seconds spent
    compiling (0 unless ``compiled``: the forward and loss under ``torch.compile``)."""
    gen = torch.Generator().manual_seed(0)
    ws = [torch.randn(k, a, b, generator=gen).mul_(a ** -0.5).requires_grad_()
          for a, b in zip(widths, widths[1:])]
    bs = [torch.zeros(k, 1, b, requires_grad=True) for b in widths[1:]]
    opts = [torch.optim.Adam(ws + bs, lr=1e-3, fused=True),
            torch.optim.Adam(ws + bs, lr=1e-3, foreach=True)]
    x = torch.randn(k, batch, widths[0], generator=gen)
    y = torch.randint(0, widths[-1], (k * batch,), generator=gen)

    def forward_loss(x, y, ws, bs):
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = torch.baddbmm(b, h, w)
            if i < len(ws) - 1:
                h = F.relu(h)
        return F.cross_entropy(h.reshape(k * batch, -1), y, reduction="sum") / batch

    loss_fn, compile_s = forward_loss, 0.0
    if compiled:
        loss_fn = torch.compile(forward_loss)
        t0 = time.perf_counter()
        loss_fn(x, y, ws, bs).backward()
        compile_s = time.perf_counter() - t0

    def step(opt):
        loss = loss_fn(x, y, ws, bs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return min(_median(lambda: step(opt), reps) for opt in opts), compile_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--compile", action="store_true",
                    help="also time the step with its forward and loss under torch.compile")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rates = Rates.measure(threads=1)
    big = rates.flops / 1e9
    lines = [f"Large float32 matmul (2048^3, 1 thread): **{big:.1f} GFLOP/s**, the rate the "
             "floors assume.", "",
             "| stacked layer | K | batch | in x out | forward GFLOP/s | weight grad | "
             "input grad | mean / 2048^3 rate |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for label, k, b, n_in, n_out in SHAPES:
        layer = layer_rates(k, b, n_in, n_out, args.reps)
        lines.append(f"| {label} | {k} | {b} | {n_in} x {n_out} | {layer[0]:.1f} | "
                     f"{layer[1]:.1f} | {layer[2]:.1f} | {statistics.mean(layer) / big:.2f} |")
    compiled = " compiled ms (compile s) | compiled / floor |" if args.compile else ""
    lines += ["", "| bare stacked step (1 thread) | ms | floor ms (binds; bench/roofline.py) | "
              "step / floor |" + compiled,
              "|---|---:|---:|---:|" + ("---:|---:|" if args.compile else "")]
    for k, widths in STEPS:
        seconds, _ = bare_step(k, widths, 128, args.reps)
        flops, nbytes = mlp_step_cost(widths, batch=128)
        floor, bound = rates.floor(k * flops, k * nbytes, mlp_working_set(widths, 128, k))
        row = (f"| K = {k} MLPs {'-'.join(map(str, widths))} "
               f"({mlp_params(widths):,} params each), batch 128 | {1e3 * seconds:.2f} | "
               f"{1e3 * floor:.3f} ({bound}) | {seconds / floor:.1f}x |")
        if args.compile:
            fast, took = bare_step(k, widths, 128, args.reps, compiled=True)
            row += f" {1e3 * fast:.2f} ({took:.0f}) | {fast / floor:.1f}x |"
        lines.append(row)
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        head = ["## The engine's matmul shapes against the floor's rate (bench/gemm_shapes.py)",
                "", f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, "
                f"torch {torch.__version__}, 1 thread, median of {args.reps}, date "
                f"{dt.datetime.now().isoformat(timespec='minutes')}", "", text, ""]
        with open(args.markdown, "w") as f:
            f.write("\n".join(head))
    return 0


if __name__ == "__main__":
    sys.exit(main())
