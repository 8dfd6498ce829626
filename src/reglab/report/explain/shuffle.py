"""The note's pitfall "no shuffle before early stopping -> a wrong estimate", measured.

``wine`` as published lists its rows by class (59 of class 0, then 71, then 48). Split in
file order, the validation part holds classes the training part barely has and the test
part only the last class: early stopping picks its epoch on a validation loss that does not
estimate the model's error, and the test score is far from what the model does on data
like the training data. The same model and settings on a shuffled, stratified split give a
validation estimate that matches the test score. Both runs train through
``reglab.train.sequential.fit`` with one RunSpec; only the data's ``shuffle`` differs.
"""

from __future__ import annotations

import warnings

import torch

import reglab as rl
from reglab._epochs import shown_epoch
from reglab.data import DataWarning
from reglab.data._prepare import label_runs
from reglab.lab.spec import RunSpec
from reglab.report.explain._shared import Explanation, figure, pct, png
from reglab.report.i18n import prefixed, t
from reglab.train.sequential import fit

__all__ = ["measure"]

TOPIC = "shuffle"


def _counts(split, k: int) -> list[int]:
    return [int((split.y == c).sum()) for c in range(k)]


def measure(seed: int, quick: bool, lang: str = "en") -> Explanation:
    """Train one MLP with early stopping on wine split in file order and shuffled."""
    spec = RunSpec(data="wine", model="mlp", hidden=(32,), lr=1e-2, batch_size=32,
                   epochs=40 if quick else 150, patience=5 if quick else 10, seed=seed)
    n: dict[str, float] = {}
    runs, data = {}, {}
    for arm, shuffle in (("unshuffled", False), ("shuffled", True)):
        with warnings.catch_warnings():  # the warning this topic explains, measured below
            warnings.simplefilter("ignore", DataWarning)
            ds = rl.data.load("wine", seed=seed, shuffle=shuffle)
        run = fit(spec, ds)
        runs[arm], data[arm] = run, ds
        n[f"{arm}_val_acc"] = run.final["val_acc"]      # early stopping's estimate
        n[f"{arm}_test_acc"] = run.final["test_acc"]
        n[f"{arm}_best_epoch"] = float(shown_epoch(run.final["best_epoch"]))  # as people count
        n[f"{arm}_gap"] = abs(run.final["val_acc"] - run.final["test_acc"])
    ds = data["unshuffled"]
    # the labels in file order: every split's labels put back at their source rows
    codes = torch.cat([ds.train.y, ds.val.y, ds.test.y])[torch.argsort(
        torch.cat([ds.train.indices, ds.val.indices, ds.test.indices]))].numpy()
    runs_seen, expected = label_runs(codes)
    n["label_runs"], n["label_runs_random"] = float(runs_seen), expected
    k = ds.num_classes
    for split in ("train", "val", "test"):  # the class counts, as numbers of the answer
        for c, count in enumerate(_counts(getattr(ds, split), k)):
            n[f"{split}_class_{c}"] = float(count)
    n["rows"], n["classes"] = float(len(codes)), float(k)
    answer = _answer(n, lang)
    k_fig = prefixed(f"explain.{TOPIC}.fig", lang)
    fig, axes = figure(2)
    for ax, arm in zip(axes, ("unshuffled", "shuffled")):
        rows = runs[arm].epochs
        ax.plot([shown_epoch(i) for i in range(len(rows))], [r["val_acc"] for r in rows],
                label=k_fig("val"))
        ax.axhline(runs[arm].final["test_acc"], color="black", ls="--", label=k_fig("test"))
        ax.axvline(n[f"{arm}_best_epoch"], color="grey", ls=":", label=k_fig("chosen"))
        ax.set(title=k_fig("panel", arm=arm), xlabel=k_fig("epoch"), ylim=(-0.02, 1.02))
        ax.legend(fontsize=7)
    return Explanation(TOPIC, t(f"explain.{TOPIC}.question", lang), answer, n,
                       [(t(f"explain.{TOPIC}.fig.title", lang), png(fig))])


def _answer(n: dict[str, float], lang: str = "en") -> str:
    """The answer from the numbers alone (a pure function: the same numbers in every language)."""
    k = int(n["classes"])
    counts = {s: [int(n[f"{s}_class_{c}"]) for c in range(k)] for s in ("train", "val", "test")}
    pcts = {key: pct(v) for key, v in n.items() if key.endswith("_acc")}
    text = t(f"explain.{TOPIC}.result", lang, n=n, p=pcts, runs=n["label_runs"],
             rows=n["rows"], expected=n["label_runs_random"], train=counts["train"],
             val=counts["val"], test=counts["test"], gap_u=100 * n["unshuffled_gap"],
             gap_s=100 * n["shuffled_gap"])
    fair = "fair" if n["shuffled_gap"] < n["unshuffled_gap"] else "unfair"
    return text + t(f"explain.{TOPIC}.{fair}", lang) + t(f"explain.{TOPIC}.warns", lang)
