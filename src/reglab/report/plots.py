"""The report's figures, drawn with matplotlib's Agg backend and returned as PNG bytes.

Each function takes plain numbers (per-arm lists of per-seed curves, summaries, weight
arrays) and returns one PNG; nothing here reads files or knows the store.

Example::

    png = gap_bars(["none", "l2"], [0.05, 0.02], [0.01, 0.004])
    png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: same pixels on every machine
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["learning_curves", "gap_bars", "weight_histograms", "png_bytes"]

_DPI = 96


def png_bytes(fig) -> bytes:
    """Render ``fig`` to PNG bytes and close it (figures are not kept in pyplot's registry)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight",
                metadata={"Software": None})  # no version string: stable bytes
    plt.close(fig)
    return buf.getvalue()


def _grid(n: int, cols: int = 3, size: tuple[float, float] = (4.2, 3.0)):
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _band(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max per epoch over the seeds that reached that epoch (NaNs ignored)."""
    length = max(len(c) for c in curves)
    m = np.full((len(curves), length), np.nan)
    for i, c in enumerate(curves):
        m[i, :len(c)] = np.asarray(c, dtype=float)
    m[~np.isfinite(m)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an epoch where every seed is NaN
        return np.nanmean(m, 0), np.nanmin(m, 0), np.nanmax(m, 0)


def learning_curves(curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
                    stops: Mapping[str, Sequence[tuple[int, int | None]]]) -> bytes:
    """Training and validation loss against epochs, one panel per arm.

    Lines are the mean over seeds, the band their min-max; a dot marks each seed's best
    epoch (the restored weights) and a cross where early stopping ended it.

    Args:
        curves: arm -> {"train": [per-seed losses], "val": [per-seed losses]}.
        stops: arm -> [(best_epoch, stopped_epoch or None)] per seed, in the order of the
            curves; ``stopped_epoch`` is the last epoch of a run that early stopping ended.
    """
    fig, axes = _grid(len(curves))
    for ax, (arm, cur) in zip(axes, curves.items()):
        for key, colour, label in (("train", "tab:blue", "train loss"),
                                   ("val", "tab:orange", "validation loss")):
            if not cur[key]:
                continue
            mean, lo, hi = _band(cur[key])
            x = np.arange(len(mean))
            ax.plot(x, mean, color=colour, label=label, lw=1.6)
            ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
        for i, (best, stopped) in enumerate(stops.get(arm, [])):
            vals = cur["val"][i] if i < len(cur["val"]) else []
            if 0 <= best < len(vals) and math.isfinite(vals[best]):
                ax.plot(best, vals[best], "o", color="black", ms=4,
                        label="best epoch (restored)" if i == 0 else None)
            if stopped is not None and 0 <= stopped < len(vals):
                ax.plot(stopped, vals[stopped], "x", color="red", ms=7,
                        label="early stop" if i == 0 else None)
        ax.set_title(arm)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        _log_if_wide(ax, cur)
        if ax.get_legend_handles_labels()[0]:  # an arm whose runs all failed has no curves
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle("Learning curves: mean over seeds, band = min-max", y=1.0)
    fig.tight_layout()
    return png_bytes(fig)


def _log_if_wide(ax, cur) -> None:
    vals = [v for key in ("train", "val") for c in cur[key] for v in c
            if v is not None and math.isfinite(v) and v > 0]
    if vals and max(vals) / min(vals) > 30:  # training loss near 0 next to a rising val loss
        ax.set_yscale("log")


def gap_bars(arms: Sequence[str], means: Sequence[float], stds: Sequence[float],
             n: Sequence[int] | None = None) -> bytes:
    """The train-test accuracy gap per arm in points: bars = mean, error bars = std over seeds."""
    fig, ax = plt.subplots(figsize=(1.2 * len(arms) + 2.5, 3.4))
    m = np.array([100 * v if math.isfinite(v) else 0.0 for v in means])
    s = np.array([100 * v if math.isfinite(v) else 0.0 for v in stds])
    colours = ["0.55" if a == "none" else "tab:green" for a in arms]
    ax.bar(range(len(arms)), m, yerr=s, capsize=4, color=colours)
    labels = arms if n is None else [f"{a}\n(n={k})" for a, k in zip(arms, n)]
    ax.set_xticks(range(len(arms)), labels)
    ax.set_ylabel("train acc - test acc (points)")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title("Generalization gap per arm (mean ± std over seeds)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return png_bytes(fig)


def weight_histograms(weights: Mapping[str, np.ndarray], bins: int = 101) -> bytes:
    """Histogram of the regularized weights per arm, log-scale counts, one shared x range.

    Bins are symmetric around 0 with 0 at a bin centre, so exact zeros (L1's spike) fall in
    one bin; each panel states the fraction of exact zeros and outlines ``none``'s histogram.
    """
    fig, axes = _grid(len(weights))
    finite = [w[np.isfinite(w)] for w in weights.values() if w.size]
    lim = max((float(np.quantile(np.abs(w), 0.999)) for w in finite if w.size), default=1.0)
    lim = lim or 1.0
    edges = np.linspace(-lim, lim, (bins | 1) + 1)  # an odd bin count puts 0 at a bin centre
    for ax, (arm, w) in zip(axes, weights.items()):
        w = w[np.isfinite(w)]
        if w.size == 0:
            ax.text(0.5, 0.5, "no weights stored", ha="center", transform=ax.transAxes)
            ax.set_title(arm)
            continue
        ax.hist(np.clip(w, -lim, lim), bins=edges, color="tab:purple", log=True, label=arm)
        ref = weights.get("none")
        if arm != "none" and ref is not None and ref.size:  # the unregularized shape to compare
            ax.hist(np.clip(ref[np.isfinite(ref)], -lim, lim), bins=edges, histtype="step",
                    color="0.3", log=True, label="none")
            ax.legend(fontsize=7)
        zeros = float(np.mean(w == 0))
        ax.set_title(f"{arm}: {100 * zeros:.1f}% exact zeros, std {w.std():.3g}")
        ax.set_xlabel("weight value")
        ax.set_ylabel("count (log)")
        ax.grid(alpha=0.3)
    fig.suptitle("Weight distributions (weights with ndim >= 2, all seeds)", y=1.0)
    fig.tight_layout()
    return png_bytes(fig)
