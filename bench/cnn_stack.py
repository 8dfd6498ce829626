"""One training step of K digits CNNs: grouped convolutions (the engine's StackedCNN) against
``torch.func`` (``stack_module_state`` + ``functional_call`` + ``vmap``) and against K
separate models, forward + backward + SGD, batch 128, one thread. Medians over interleaved
steps (the machine is shared: the numbers are noisy; read the ratio, not the ms).

    PYTHONPATH=src OMP_NUM_THREADS=1 python bench/cnn_stack.py [--k 6] [--steps 40]
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F

from reglab.lab.spec import RunSpec
from reglab.train.models import build_model
from reglab.train.stacked_ops import StackedCNN
from sweep import BATCH, _timed, stacked_and_vmap_steps  # bench/sweep.py (bench/ is on the path)


def compare(k: int = 6, steps: int = 40, kind: str = "image") -> list[str]:
    """Rows of a markdown table: ms per step of each way, and which is faster."""
    shape = (1, 8, 8) if kind == "image" else (1, 40)
    spec = RunSpec(model="cnn", hidden=(128,))
    models = [build_model(spec, kind, shape, 10) for _ in range(k)]
    x, y = torch.randn(k, BATCH, *shape), torch.randint(0, 10, (k, BATCH))
    grouped, vmapped = stacked_and_vmap_steps(StackedCNN.from_models(models, "relu"), models,
                                              x, y)

    def separate():
        for i, m in enumerate(models):
            loss = F.cross_entropy(m(x[i]), y[i])
            grads = torch.autograd.grad(loss, list(m.parameters()))
            with torch.no_grad():
                torch._foreach_add_(list(m.parameters()), grads, alpha=-1e-3)

    ways = {"grouped conv": grouped, "torch.func vmap": vmapped, "K separate": separate}
    t: dict[str, list[float]] = {w: [] for w in ways}
    for fn in ways.values():
        fn(), fn()
    for _ in range(steps):  # interleaved, so load changes hit every way alike
        for w, fn in ways.items():
            t[w].append(_timed(fn))
    ms = {w: 1e3 * statistics.median(v) for w, v in t.items()}
    best = min(ms, key=ms.get)
    rows = [f"| {kind} K={k} | " + " | ".join(f"{ms[w]:.2f}" for w in ways) + f" | {best} |"]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print("| stack | grouped conv ms | torch.func vmap ms | K separate ms | fastest |")
    print("|---|---:|---:|---:|---|")
    for kind in ("image", "signal"):
        for row in compare(args.k, args.steps, kind):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
