"""Time to draw the report's weight figure: per-bin bars (how it was drawn) against steps.

``make demo``'s report has one weight figure of 3 layers x 8 arms (24 log-scale panels of 61
bins). Until 2026-12-03 each panel was two ``ax.hist`` calls (a Rectangle per bin) and the
figure was laid out with ``tight_layout``: ~17 of the demo's ~180 s went to the report, most
of it here. ``plots.weight_histograms`` now draws each histogram as one ``ax.stairs`` outline,
without minor ticks, with fixed margins. This script draws the same counts both ways
(the old way re-implemented here, as it was) from synthetic weights of the demo's shapes
(15 seeds of 64-256-256-10), alternating, and reports medians.

    PYTHONPATH=src python bench/report_figures.py [--reps 3] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import time

import numpy as np

from reglab.report import plots

ARMS = ("none", "l1", "l2", "dropout", "early_stopping", "augment", "label_smoothing", "all")
LAYERS = {"layer 1 (256×64)": 256 * 64, "layer 2 (256×256)": 256 * 256,
          "layer 3 (10×256)": 10 * 256}
SEEDS = 15


def weights() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {arm: {layer: rng.normal(0, 0.05 + 0.005 * i, SEEDS * n)
                  for layer, n in LAYERS.items()} for i, arm in enumerate(ARMS)}


def bars(w: dict[str, dict[str, np.ndarray]]) -> bytes:
    """The figure as drawn before: per-bin bars (``ax.hist``), minor ticks, tight_layout."""
    plt = plots.plt
    panels = plots.weight_panels(w)
    fig, axes = plt.subplots(len(panels), len(ARMS), figsize=(2.9 * len(ARMS) + 0.6,
                                                              2.3 * len(panels)), squeeze=False)
    for row, (layer, (lim, edges, per)) in enumerate(panels.items()):
        for col, arm in enumerate(ARMS):
            ax, p = axes[row, col], per[arm]
            ax.hist(edges[:-1], bins=edges, weights=p.counts, color="tab:purple", log=True)
            if arm != "none":
                ax.hist(edges[:-1], bins=edges, weights=per["none"].counts, histtype="step",
                        color="0.3", log=True)
            ax.set_title(f"{arm}, {layer}\n{p.zeros:.1f}% zeros, {p.outside} outside", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_formatter(plots.ScalarFormatter())
            ax.grid(alpha=0.3)
    fig.suptitle("Weight distributions per layer", y=1.0)
    fig.tight_layout()
    return plots.png_bytes(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args(argv)
    w = weights()
    fns = {"bars + tight_layout (before)": lambda: bars(w),
           "steps, fixed margins (plots.weight_histograms)": lambda: plots.weight_histograms(w)}
    for fn in fns.values():  # warm-up: imports, font cache
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(args.reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    first = next(iter(med.values()))
    lines = ["| weight figure (24 panels) | s (median) | vs before |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:.2f} | {first / v:.2f}x |" for k, v in med.items()]
    print("\n".join(lines))
    if args.markdown:
        head = ["## Report weight figure (bench/report_figures.py)", "",
                f"3 layers x 8 arms, {SEEDS} seeds of 64-256-256-10 (synthetic weights), PNG at "
                f"96 dpi; median of {args.reps} alternating repetitions after a warm-up.", "",
                f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, Python "
                f"{platform.python_version()}, matplotlib {plots.matplotlib.__version__}; date "
                f"{dt.datetime.now().isoformat(timespec='seconds')}", ""]
        with open(args.markdown, "w") as f:
            f.write("\n".join(head + lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
