"""The report's figures on scripted numbers: colours that mean better/worse, intervals drawn,
no clipping in the weight histograms, every panel drawn."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from reglab.lab.stats import PairedDifference
from reglab.report import plots

GREEN, RED = (0x1a, 0x98, 0x50), (0xd7, 0x30, 0x27)


def _pixels(png: bytes) -> dict[tuple[int, int, int], int]:
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return {rgb: n for n, rgb in im.convert("RGB").getcolors(maxcolors=1 << 22)}


def _pd(mean, half, n=3):
    return PairedDifference(mean, mean - half, mean + half, n)


def test_gap_bars_are_green_when_narrower_red_when_wider_grey_otherwise():
    png = plots.gap_bars(["none", "l2", "dropout"], [0.05, 0.02, 0.08],
                         [None, _pd(-0.03, 0.01), _pd(0.03, 0.01)], [3, 3, 3])
    px = _pixels(png)
    assert px.get(GREEN, 0) > 500 and px.get(RED, 0) > 500
    grey_only = plots.gap_bars(["none", "l2"], [0.05, 0.049], [None, _pd(-0.001, 0.02)])
    px = _pixels(grey_only)
    # the legend's swatches hold a few green/red pixels; a bar would be thousands
    assert px.get(GREEN, 0) < 300 and px.get(RED, 0) < 300


def test_forest_colours_follow_the_verdict_and_tolerate_missing_pairs():
    acc = [_pd(0.02, 0.01), _pd(-0.02, 0.01), _pd(0.0, 0.03), None,
           PairedDifference(0.01, -math.inf, math.inf, 1)]
    loss = [_pd(-0.05, 0.01), _pd(0.05, 0.01), _pd(0.0, 0.03), None,
            PairedDifference(0.0, -math.inf, math.inf, 1)]
    png = plots.forest(["a", "b", "c", "d", "e"], acc, loss, acc, loss, 0.005, 0.003,
                       "Holm-adjusted interval")
    px = _pixels(png)
    assert px.get(GREEN, 0) > 300 and px.get(RED, 0) > 300


def test_weight_ranges_count_what_lies_outside_instead_of_clipping():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, 10_000)
    w[:10] = 5.0  # outliers far beyond the bulk
    ranges = plots.weight_ranges({"none": {"layer 1": w}, "l1": {"layer 1": np.zeros(1000)}})
    lim, outside, total = ranges["layer 1"]
    pooled = np.abs(np.concatenate([w, np.zeros(1000)]))
    assert lim == pytest.approx(np.quantile(pooled, 0.995))
    assert lim < 0.2 and total == 11_000 and outside == int(np.sum(pooled > lim)) >= 10


def test_weight_histograms_have_no_spike_at_the_range_edges():
    """Outliers are left out, so the edge bins hold only what is really there; the PNG draws
    the counts of weight_panels (what the HTML's SVG shows too), spied on here."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    w = np.concatenate([rng.normal(0, 0.05, 5000), np.full(10, 3.0), np.full(10, -3.0)])
    weights = {"none": {"layer 1 (10×5)": w}}
    lim, edges, per = plots.weight_panels(weights)["layer 1 (10×5)"]
    panel = per["none"]
    inside = w[np.abs(w) <= lim]
    assert (panel.counts == np.histogram(inside, edges)[0]).all()
    assert panel.outside == w.size - inside.size >= 20  # the 20 outliers among them
    edge, centre = panel.counts[[0, -1]], panel.counts.max()
    assert edge.max() < 0.05 * centre  # a clip would pile the 10 outliers into each edge bin
    drawn = []
    real_stairs = plt.Axes.stairs

    def spy(self, values, edges=None, *a, **k):
        drawn.append((np.asarray(values), np.asarray(edges)))
        return real_stairs(self, values, edges, *a, **k)
    plt.Axes.stairs = spy
    try:
        png = plots.weight_histograms(weights)
    finally:
        plt.Axes.stairs = real_stairs
    assert len(drawn) == 1 and (drawn[0][0] == panel.counts).all()
    assert (drawn[0][1] == edges).all()
    assert len(_pixels(png)) > 100


def test_learning_curves_overlay_every_arm_in_four_panels():
    e = np.arange(10)
    cur = lambda k: {"train_loss": [list(1 / (e + 1) * k)], "val_loss": [list(0.5 + 0.01 * e)],  # noqa: E731
                     "train_acc": [list(0.5 + 0.05 * e)], "val_acc": [list(0.5 + 0.04 * e)]}
    png = plots.learning_curves({"none": cur(1.0), "l2": cur(1.2), "early_stopping": cur(1.1)},
                                {"early_stopping": [(4, 7)]})
    with Image.open(io.BytesIO(png)) as im:
        assert im.size[0] > 800 and im.size[1] > 500
    assert len(_pixels(png)) > 300


def test_learning_curves_count_epochs_from_1_and_mark_the_stops_there(monkeypatch):
    """Stored epochs are 0-based; the x axis, the best-epoch dot and the stop cross are 1-based."""
    seen = []
    monkeypatch.setattr(plots, "png_bytes", lambda fig: seen.append(fig) or b"")
    val = [0.9, 0.7, 0.5, 0.6, 0.65, 0.7]  # best at index 2 (epoch 3); stopped at index 5
    cur = {"train_loss": [[1.0] * 6], "val_loss": [val], "train_acc": [[0.5] * 6],
           "val_acc": [[0.5] * 6]}
    plots.learning_curves({"early_stopping": cur}, {"early_stopping": [(2, 5)]})
    val_panel = seen[0].axes[1]
    line, dot, cross = val_panel.lines[:3]
    assert list(line.get_xdata()) == [1, 2, 3, 4, 5, 6]
    assert (list(dot.get_xdata()), list(dot.get_ydata())) == ([3], [0.5])
    assert (list(cross.get_xdata()), list(cross.get_ydata())) == ([6], [0.7])
    plots.plt.close(seen[0])


def test_weight_figures_drawn_from_given_panels_equal_those_that_count_their_own():
    """The report counts the histograms once and hands them to the PNG and the SVG: the same
    bytes as each counting its own; other panels (another range) give another picture."""
    from reglab.report.interactive import weights_svg

    rng = np.random.default_rng(3)
    sparse = np.where(rng.random(32) < 0.5, 0.0, rng.normal(0, 0.1, 32))
    weights = {"none": {"layer 1 (8×4)": rng.normal(0, 0.1, 32),
                        "layer 2 (4×2)": rng.normal(0, 1, 8)},
               "l1": {"layer 1 (8×4)": sparse, "layer 2 (4×2)": rng.normal(0, 0.5, 8)}}
    ranges = plots.weight_ranges(weights)
    panels = plots.weight_panels(weights, ranges=ranges)
    assert plots.weight_histograms(weights, panels=panels) == plots.weight_histograms(weights)
    assert weights_svg(weights, panels=panels) == weights_svg(weights)
    wider = plots.weight_panels(weights, ranges={k: (2 * lim, n, t)
                                                 for k, (lim, n, t) in ranges.items()})
    assert weights_svg(weights, panels=wider) != weights_svg(weights)
