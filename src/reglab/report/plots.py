"""The report's figures, drawn with matplotlib's Agg backend and returned as PNG bytes.

Each function takes plain numbers (per-arm lists of per-seed curves, paired differences,
weight arrays) and returns one PNG; nothing here reads files or knows the store. Colours
mean the same in every figure: green = better than ``none`` (the interval says so, beyond
the minimum effect), red = worse, grey = not measurably different; in the curves each arm
keeps one colour.

Example::

    png = gap_bars(["none", "l2"], [0.05, 0.02], [None, PairedDifference(-0.03, -0.04, -0.02, 3)])
    png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: same pixels on every machine
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullLocator, ScalarFormatter  # noqa: E402

from reglab._epochs import shown_epoch  # noqa: E402
from reglab.lab.stats import MIN_EFFECT_ACC, PairedDifference, effect  # noqa: E402
from reglab.report.i18n import prefixed, t  # noqa: E402

__all__ = ["forest", "forest_panels", "ForestPanel", "gap_effect", "learning_curves",
           "gap_bars", "weight_histograms", "weight_ranges", "weight_panels", "WeightPanel",
           "png_bytes", "EFFECT_COLOURS"]

# What a colour means, in every figure: the stats.effect of the arm against none.
EFFECT_COLOURS = {"helps": "#1a9850", "hurts": "#d73027", "negligible": "0.55",
                  "unclear": "0.55", "too-few": "0.55", "baseline": "0.25"}

_DPI = 96


def png_bytes(fig) -> bytes:
    """Render ``fig`` to PNG bytes and close it (figures are not kept in pyplot's registry)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight",
                metadata={"Software": None})  # no version string: stable bytes
    plt.close(fig)
    return buf.getvalue()


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


@dataclass(frozen=True)
class ForestPanel:
    """One panel of the forest plot (the PNG and the report's inline SVG draw the same).

    ``scale`` turns a stored difference into the axis' units (accuracy: 100, points),
    ``band`` is the minimum effect in those units, ``higher`` whether higher is better,
    ``measure`` the axis' measure and ``xlabel`` it with its direction, ``digits`` the
    decimals the difference tables print it with (``stats.format_ci``).
    """

    scale: float
    band: float
    higher: bool
    measure: str
    xlabel: str
    digits: int

    def effect(self, d: PairedDifference) -> str:
        """What ``d``'s interval supports here (:func:`reglab.lab.stats.effect`): its colour."""
        return effect(d, self.higher, self.band / self.scale if self.band else 0.0)


def forest_panels(min_acc: float, min_loss: float, lang: str = "en", regression: bool = False
                  ) -> tuple[ForestPanel, ForestPanel]:
    """The two panels of :func:`forest`: test accuracy (points) and test loss, or a
    regression's test RMSE and MAE (target units, both lower-is-better)."""
    def panel(scale, band, higher, measure, digits):
        name = t(f"plot.forest.{measure}", lang)
        return ForestPanel(scale, band, higher, name,
                           name + t("plot.higher" if higher else "plot.lower", lang), digits)

    if regression:
        return (panel(1.0, min_acc, False, "d_rmse", 2), panel(1.0, min_loss, False, "d_mae", 2))
    return (panel(100.0, 100 * min_acc, True, "d_acc", 2),
            panel(1.0, min_loss, False, "d_loss", 3))


def gap_effect(d: PairedDifference | None, min_effect: float) -> str:
    """The gap bar's colour key: ``baseline`` for ``none`` (no difference), else what the
    paired interval of the gap supports (a narrower gap is better)."""
    return "baseline" if d is None else effect(d, False, min_effect)


def forest(arms: Sequence[str], acc: Sequence[PairedDifference | None],
           loss: Sequence[PairedDifference | None],
           acc_raw: Sequence[PairedDifference | None], loss_raw: Sequence[PairedDifference | None],
           min_acc: float, min_loss: float, label: str, lang: str = "en",
           regression: bool = False) -> bytes:
    """Every arm minus ``none``: test accuracy (points) and test loss, with their intervals
    (``regression``: test RMSE and test MAE in the target's units, both lower-is-better; the
    ``acc`` / ``loss`` arguments then hold those, ``min_acc`` / ``min_loss`` their minimum
    effects).

    One row per arm, top to bottom in plan order. The dot is the mean paired difference,
    the thick bar the interval the verdict used (``label`` says which, e.g. Holm-adjusted),
    the thin black line the unadjusted 95% interval; the shaded band is the minimum effect
    (an interval inside it is "no measurable effect"). Colours: :data:`EFFECT_COLOURS`.

    Args:
        arms: the arms compared (not ``none``).
        acc, loss: the adjusted differences per arm (None where there are none).
        acc_raw, loss_raw: the unadjusted 95% differences.
        min_acc, min_loss: the minimum effects (accuracy as a fraction, loss in its units).
        label: what the thick bars are, for the legend.
        lang: the labels' language ("en" or "vi", :mod:`reglab.report.i18n`).
    """
    k = prefixed("plot", lang)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.55 * len(arms) + 1.9), squeeze=False)
    panels = zip(axes[0], (acc, loss), (acc_raw, loss_raw),
                 forest_panels(min_acc, min_loss, lang, regression))
    y = np.arange(len(arms))[::-1]  # first arm at the top
    for ax, diffs, raws, panel in panels:
        scale, band = panel.scale, panel.band
        if math.isfinite(band) and band > 0:
            ax.axvspan(-band, band, color="0.9", lw=0, zorder=0)
        ax.axvline(0, color="black", lw=0.8, zorder=1)
        for yi, d, raw in zip(y, diffs, raws):
            if d is None or not math.isfinite(d.mean):
                ax.text(0, yi, k("forest.no_pairs"), ha="center", va="center", fontsize=8,
                        color="0.4")
                continue
            colour = EFFECT_COLOURS[panel.effect(d)]
            if raw is not None and math.isfinite(raw.low) and math.isfinite(raw.high):
                ax.plot([scale * raw.low, scale * raw.high], [yi - 0.18] * 2, color="black",
                        lw=1.0, zorder=3)
            if math.isfinite(d.low) and math.isfinite(d.high):
                ax.plot([scale * d.low, scale * d.high], [yi, yi], color=colour, lw=5,
                        solid_capstyle="butt", zorder=2)
            else:
                ax.text(scale * d.mean, yi + 0.25, k("forest.no_interval", n=d.n), ha="center",
                        fontsize=7, color="0.4")
            ax.plot(scale * d.mean, yi, "o", color="black", ms=5, zorder=4)
        ax.set_yticks(y, arms)
        ax.set_ylim(-0.7, len(arms) - 0.3)
        ax.xaxis.set_major_locator(MaxNLocator(6))  # loss ticks like -0.075 crowd otherwise
        ax.set_xlabel(panel.xlabel)
        ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=EFFECT_COLOURS["helps"], label=k("forest.better")),
               Patch(color=EFFECT_COLOURS["hurts"], label=k("forest.worse")),
               Patch(color=EFFECT_COLOURS["unclear"], label=k("forest.no_difference")),
               Line2D([], [], color="black", lw=1, label=k("forest.unadjusted")),
               Patch(color="0.9", label=k("forest.min_effect"))]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(k("forest.title", label=label), y=1.0)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return png_bytes(fig)


def _arm_colours(arms: Sequence[str]) -> dict[str, str]:
    cmap = plt.get_cmap("tab10")
    others = [a for a in arms if a != "none"]
    out = {a: matplotlib.colors.to_hex(cmap((i + 1) % 10)) for i, a in enumerate(others)}
    return {"none": "black", **out}


# (curve, panel title, unit): the title and the unit are catalogue keys "plot.curves.<name>"
_CURVE_PANELS = (("train_loss", "train_loss", "loss"), ("val_loss", "val_loss", "loss"),
                 ("train_acc", "train_acc", "accuracy"), ("val_acc", "val_acc", "accuracy"))
# a regression experiment's panels: validation RMSE (target units) and R^2 for the accuracies
REGRESSION_CURVE_PANELS = (("train_loss", "train_loss", "loss"), ("val_loss", "val_loss", "loss"),
                           ("val_rmse", "val_rmse", "rmse"), ("val_r2", "val_r2", "r2"))


def learning_curves(curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
                    stops: Mapping[str, Sequence[tuple[int, int | None]]], lang: str = "en",
                    panels: Sequence[tuple[str, str, str]] = _CURVE_PANELS) -> bytes:
    """Training and validation loss and accuracy per epoch, every arm overlaid per panel
    (``panels``: (curve, title, unit) per panel; a regression experiment's are
    :data:`REGRESSION_CURVE_PANELS`).

    Four panels (training loss, validation loss, training accuracy, validation accuracy);
    each arm is one colour: its line is the mean over seeds, its faint band the min-max. On
    the validation panels a dot marks each seed's best epoch (the weights early stopping
    restored) and a cross the epoch where early stopping ended the run.

    Args:
        curves: arm -> {"train_loss", "val_loss", "train_acc", "val_acc": [per-seed lists]}
            (a missing key is skipped).
        stops: arm -> [(best_epoch or -1, stopped_epoch or None)] per seed, in the order of
            the curves; stored 0-based indices (the axis shows them 1-based).
        lang: the labels' language ("en" or "vi").
    """
    k = prefixed("plot.curves", lang)
    colours = _arm_colours(list(curves))
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.6), squeeze=False)
    for ax, (key, title, unit) in zip(axes.flat, panels):
        for arm, cur in curves.items():
            seeds = cur.get(key) or []
            if not seeds or not any(len(c) for c in seeds):
                continue
            mean, lo, hi = _band(seeds)
            x = np.arange(len(mean)) + shown_epoch(0)  # the axis counts epochs from 1
            # none on top, dashed: an arm that changes nothing hides under it, not over it
            style = dict(ls="--", lw=1.8, zorder=4) if arm == "none" else dict(lw=1.5)
            ax.plot(x, mean, color=colours[arm], label=arm, **style)
            ax.fill_between(x, lo, hi, color=colours[arm], alpha=0.10, lw=0)
            if key.startswith("val"):
                for best, stopped in stops.get(arm, []):
                    if 0 <= best < len(mean) and math.isfinite(mean[best]):
                        ax.plot(shown_epoch(best), mean[best], "o", color=colours[arm], ms=5, mec="black",
                                mew=0.6, zorder=5)
                    if stopped is not None and 0 <= stopped < len(mean):
                        ax.plot(shown_epoch(stopped), mean[stopped], "x", color=colours[arm], ms=8, mew=2,
                                zorder=5)
        ax.set_title(k(title))
        ax.set_xlabel(k("epoch"))
        ax.set_ylabel(k(unit))
        if unit == "loss":
            _log_if_wide(ax, [v for cur in curves.values() for c in cur.get(key) or [] for v in c])
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colours[a], lw=2, ls="--" if a == "none" else "-", label=a)
               for a in curves]
    handles += [Line2D([], [], ls="", marker="o", color="0.6", mec="black", label=k("best")),
                Line2D([], [], ls="", marker="x", color="0.3", mew=2, label=k("stop"))]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 9), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(k("title"), y=1.0)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return png_bytes(fig)


def _log_if_wide(ax, values: Sequence[float]) -> None:
    vals = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if vals and max(vals) / min(vals) > 30:  # training loss near 0 next to a rising val loss
        ax.set_yscale("log")


def gap_bars(arms: Sequence[str], means: Sequence[float],
             diffs: Sequence[PairedDifference | None], n: Sequence[int] | None = None,
             min_effect: float = MIN_EFFECT_ACC, lang: str = "en", scale: float = 100.0,
             ylabel: str = "ylabel") -> bytes:
    """The train-test accuracy gap per arm in points, coloured and barred by the paired test
    (a regression experiment: the test - train RMSE gap, ``scale`` 1, ``ylabel``
    "ylabel_regression", ``min_effect`` in the target's units).

    Bars: the arm's mean gap. Error bars: the 95% paired interval of (arm - none) for the
    gap, drawn around the arm's bar (how sure the difference from ``none`` is, not the
    spread over seeds). Colour: green where the gap is measurably narrower than ``none``'s
    (beyond ``min_effect``), red where wider, grey otherwise; ``none`` is dark grey.

    Args:
        arms, means: arm names and mean gaps (fractions).
        diffs: per arm the paired difference of the gap against ``none`` (None for ``none``).
        n: finished runs per arm, shown under the names.
        min_effect: the minimum effect, as a fraction (0.5 points).
        lang: the labels' language ("en" or "vi").
    """
    k = prefixed("plot.gap", lang)
    fig, ax = plt.subplots(figsize=(1.2 * len(arms) + 2.5, 3.6))
    m = np.array([scale * v if math.isfinite(v) else 0.0 for v in means])
    colours = []
    for x, (arm, d) in enumerate(zip(arms, diffs)):
        colours.append(EFFECT_COLOURS[gap_effect(d, min_effect)])
        if d is not None and math.isfinite(d.low) and math.isfinite(d.high):
            ax.errorbar(x, m[x], yerr=[[scale * (d.mean - d.low)], [scale * (d.high - d.mean)]],
                        color="black", capsize=4, lw=1.2)
    ax.bar(range(len(arms)), m, color=colours)
    labels = arms if n is None else [f"{a}\n(n={k})" for a, k in zip(arms, n)]
    ax.set_xticks(range(len(arms)), labels)
    ax.set_ylabel(k(ylabel))
    ax.axhline(0, color="black", lw=0.8)
    if arms and arms[0] == "none" and math.isfinite(means[0]):
        ax.axhline(m[0], color="0.25", lw=0.8, ls="--")
    ax.set_title(k("title"))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(handles=[Patch(color=EFFECT_COLOURS["helps"], label=k("narrower")),
                       Patch(color=EFFECT_COLOURS["hurts"], label=k("wider")),
                       Patch(color=EFFECT_COLOURS["unclear"], label=k("same"))],
              fontsize=7, loc="best")
    fig.tight_layout()
    return png_bytes(fig)


def weight_ranges(weights: Mapping[str, Mapping[str, np.ndarray]], quantile: float = 0.995
                  ) -> dict[str, tuple[float, int, int]]:
    """Per layer, the histogram range and what falls outside it: ``(lim, outside, total)``.

    ``lim`` is the ``quantile`` of ``|w|`` over every arm's finite weights of that layer, so
    one outlier does not squeeze the histogram; values beyond ``±lim`` are counted, never
    clipped onto the edge bins.
    """
    layers = list(dict.fromkeys(k for per in weights.values() for k in per))
    out = {}
    for layer in layers:
        ws = [w[np.isfinite(w)] for per in weights.values() if (w := per.get(layer)) is not None]
        pooled = np.concatenate(ws) if ws else np.zeros(0)
        lim = float(np.quantile(np.abs(pooled), quantile)) if pooled.size else 1.0
        lim = lim or float(np.abs(pooled).max(initial=0.0)) or 1.0
        out[layer] = (lim, int(np.sum(np.abs(pooled) > lim)), int(pooled.size))
    return out


@dataclass(frozen=True)
class WeightPanel:
    """One arm's histogram of one layer: ``counts`` per bin of its finite weights within
    ``±lim``, the % exactly 0 (of its finite weights) and how many lie beyond ``±lim``."""

    counts: np.ndarray
    zeros: float
    outside: int


def weight_panels(weights: Mapping[str, Mapping[str, np.ndarray]], bins: int = 61,
                  ranges: Mapping[str, tuple[float, int, int]] | None = None
                  ) -> dict[str, tuple[float, np.ndarray, dict[str, WeightPanel | None]]]:
    """Per layer: its range ``lim`` (:func:`weight_ranges`, or ``ranges`` when the caller
    has them), the bin edges (symmetric around 0 with 0 at a bin centre: ``bins`` made odd)
    and each arm's :class:`WeightPanel` (None where the arm stored no weights of that
    layer). The PNG and the report's inline SVG draw these counts."""
    out = {}
    for layer, (lim, _, _) in (weight_ranges(weights) if ranges is None else ranges).items():
        edges = np.linspace(-lim, lim, (bins | 1) + 1)  # an odd bin count puts 0 at a centre
        per: dict[str, WeightPanel | None] = {}
        for arm, layers in weights.items():
            w = layers.get(layer)
            w = np.zeros(0) if w is None else w[np.isfinite(w)]
            inside = w[np.abs(w) <= lim]
            per[arm] = None if w.size == 0 else WeightPanel(
                np.histogram(inside, edges)[0], 100 * float(np.mean(w == 0)),
                int(w.size - inside.size))
        out[layer] = (lim, edges, per)
    return out


def weight_histograms(weights: Mapping[str, Mapping[str, np.ndarray]], bins: int = 61,
                      lang: str = "en", panels: Mapping | None = None) -> bytes:
    """Histograms of the regularized weights: one row per layer, one column per arm.

    Log-scale counts. Each layer's range is :func:`weight_ranges`'s (the 99.5% quantile of
    ``|w|`` over all arms); bins are symmetric around 0 with 0 at a bin centre, so exact
    zeros (L1's spike) fall in one bin; values outside the range are left out and counted
    in the panel's title. ``none``'s histogram is outlined in every other arm's panel.
    The counts are :func:`weight_panels`'.

    Args:
        weights: arm -> layer label -> all seeds' weights of that layer (1-D).
        bins: bin count (made odd).
        lang: the labels' language ("en" or "vi").
        panels: ``weight_panels(weights, bins)`` when the caller has them (the report
            draws the PNG and the SVG from one count, ~1 s of numpy for make demo's weights).
    """
    k = prefixed("plot.weights", lang)
    arms = list(weights)
    panels = weight_panels(weights, bins) if panels is None else panels
    fig, axes = plt.subplots(max(1, len(panels)), len(arms),
                             figsize=(2.9 * len(arms) + 0.6, 2.3 * max(1, len(panels))),
                             squeeze=False)
    for row, (layer, (lim, edges, per)) in enumerate(panels.items()):
        ref = per.get("none")
        for col, arm in enumerate(arms):
            ax, p = axes[row, col], per[arm]
            if p is None:
                ax.text(0.5, 0.5, k("none_stored"), ha="center", transform=ax.transAxes)
                ax.set_title(arm, fontsize=8)
                continue
            # the counts as one filled step outline each (one artist, not a patch per bin:
            # 24 panels of 61 bars took ~10 s to render here, the steps ~1 s)
            ax.set_yscale("log", nonpositive="clip")
            ax.stairs(p.counts, edges, fill=True, color="tab:purple", baseline=0)
            if arm != "none" and ref is not None:  # the unregularized shape
                ax.stairs(ref.counts, edges, color="0.3", baseline=0)
            ax.set_title(k("panel", arm=arm, layer=layer, zeros=p.zeros, outside=p.outside,
                           lim=lim), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_formatter(ScalarFormatter())  # 10, 100, not 10^1
            ax.yaxis.set_minor_locator(NullLocator())  # no minor ticks: ~2x faster to lay out
            if row == len(panels) - 1:
                ax.set_xlabel(k("value"), fontsize=8)
            if col == 0:
                ax.set_ylabel(k("count"), fontsize=8)
            ax.grid(alpha=0.3)
    # fixed margins in inches (two-line titles above, labels below and left), not
    # tight_layout: measuring every tick label of 24 log axes cost more than drawing them;
    # png_bytes' bbox_inches="tight" still trims the page to what was drawn
    width, height = fig.get_size_inches()
    fig.suptitle(k("title"), y=1 - 0.1 / height, va="top")
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.1 / width, bottom=0.55 / height,
                        top=1 - 0.8 / height, wspace=0.25, hspace=0.75 / 1.5)
    return png_bytes(fig)
