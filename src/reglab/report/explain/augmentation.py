"""Augmentation and the generalization gap: train-test gap against training-set size.

Each point is one run of the lab's ``fit``: the same RunSpec with and without the signal
augmentation ``shift,scale,noise`` (the 1-D forms of the note's rotation, scaling and noise,
at their default magnitudes in ``reglab.augment.NAMES``), on a seeded subset of the training
split. mnist1d, not digits: on 8 x 8 digits, rotation and scaling mostly blur the images and
moved the gap by a point or two; mnist1d's signals are shifted and scaled by construction, so
the transforms match how the data varies.
"""

from __future__ import annotations

import dataclasses
import math

import torch

import reglab as rl
from reglab import augment as A
from reglab.data import Split
from reglab.lab.spec import RunSpec
from reglab.report.explain._shared import Explanation, figure, pct, png
from reglab.report.i18n import prefixed, t
from reglab.train import fit

__all__ = ["measure"]

TOPIC = "augmentation"
AUGMENT = ("shift", "scale", "noise")
BATCH = 32


def _magnitudes() -> tuple[float, float, float, float]:
    """(max shift, amplitude low, amplitude high, noise std) of ``AUGMENT``, from NAMES."""
    shift, scale, noise = A.from_names(AUGMENT, "signal")
    return shift.max_shift, scale.low, scale.high, noise.std


def _subset(ds, idx: torch.Tensor):
    """``ds`` with its training split cut to the rows ``idx`` (val and test unchanged)."""
    t = ds.train
    return dataclasses.replace(ds, train=Split(t.X[idx], t.y[idx], t.indices[idx]))


def _epochs(steps: int, size: int) -> int:
    """Whole epochs closest to ``steps`` optimizer steps at batch ``BATCH`` on ``size`` rows."""
    return max(1, round(steps / math.ceil(size / BATCH)))


def measure(seed: int, quick: bool, lang: str = "en") -> Explanation:
    """Fit the same MLP with and without augmentation at several training-set sizes."""
    ds = rl.data.load("mnist1d", seed=seed)
    full = len(ds.train)
    sizes = [300, 1000] if quick else [300, 1000, full]
    steps = 150 if quick else 800
    order = torch.randperm(full, generator=torch.Generator().manual_seed(seed))
    spec = RunSpec(data=ds.name, model="mlp", hidden=(128,), optimizer="adam", lr=1e-3,
                   batch_size=BATCH, seed=seed)
    n: dict[str, float] = {"steps": float(steps)}
    for size in sizes:
        part = _subset(ds, order[:size])
        n[f"epochs_{size}"] = float(_epochs(steps, size))
        for arm, augment in (("plain", ()), ("aug", AUGMENT)):
            run = fit(spec.replace(epochs=_epochs(steps, size), augment=augment), part)
            # The gap is measured on the clean training rows, the ones the model was fit to.
            n[f"{arm}_{size}_train_acc"] = run.final["train_acc"]
            n[f"{arm}_{size}_test_acc"] = run.final["test_acc"]
            n[f"{arm}_{size}_gap"] = run.final["train_acc"] - run.final["test_acc"]
    return Explanation(TOPIC, t(f"explain.{TOPIC}.question", lang), _answer(sizes, n, lang), n,
                       [(t(f"explain.{TOPIC}.fig.title", lang), _figure(sizes, n, lang))])


def _answer(sizes: list[int], n: dict[str, float], lang: str = "en") -> str:
    k = prefixed(f"explain.{TOPIC}", lang)

    def row(arm: str) -> str:
        return ", ".join(k("at_n", value=pct(n[f"{arm}_{s}_gap"]), size=s) for s in sizes)

    shift, low, high, noise = _magnitudes()
    narrower = [s for s in sizes if n[f"aug_{s}_gap"] < n[f"plain_{s}_gap"]]
    best = max(sizes, key=lambda s: n[f"plain_{s}_gap"] - n[f"aug_{s}_gap"])
    shrink = all(n[f"plain_{a}_gap"] >= n[f"plain_{b}_gap"] for a, b in zip(sizes, sizes[1:]))
    epochs = ", ".join(k("at_n", value=f"{n[f'epochs_{s}']:.0f}", size=s) for s in sizes)
    text = k("result", n=n, shift=pct(shift), low=low, high=high, noise=noise, epochs=epochs,
             plain=row("plain"), aug=row("aug"), narrowed=len(narrower), sizes=len(sizes))
    if narrower:
        text += k("most", best=best, plain_gap=pct(n[f"plain_{best}_gap"]),
                  aug_gap=pct(n[f"aug_{best}_gap"]), plain_acc=pct(n[f"plain_{best}_test_acc"]),
                  aug_acc=pct(n[f"aug_{best}_test_acc"]))
    text += k("shrank" if shrink else "not_shrank")
    if narrower and shrink and best == sizes[0]:
        text += k("scarce")
    return text + "."


def _figure(sizes: list[int], n: dict[str, float], lang: str = "en") -> bytes:
    k = prefixed(f"explain.{TOPIC}.fig", lang)
    fig, axes = figure(ncols=2, size=(9.0, 3.2))
    for arm, label in (("plain", k("plain")), ("aug", k("aug"))):
        axes[0].plot(sizes, [n[f"{arm}_{s}_gap"] for s in sizes], marker="o", label=label)
        axes[1].plot(sizes, [n[f"{arm}_{s}_test_acc"] for s in sizes], marker="o", label=label)
    axes[0].set_ylabel(k("gap"))
    axes[1].set_ylabel(k("acc"))
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel(k("size"))
        ax.legend(fontsize=8)
    return png(fig)
