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
from reglab.data import DataWarning
from reglab.data._prepare import label_runs
from reglab.lab.spec import RunSpec
from reglab.report.explain._shared import QUESTIONS, Explanation, figure, pct, png
from reglab.train.sequential import fit

__all__ = ["measure"]

TOPIC = "shuffle"


def _counts(split, k: int) -> list[int]:
    return [int((split.y == c).sum()) for c in range(k)]


def measure(seed: int, quick: bool) -> Explanation:
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
        n[f"{arm}_best_epoch"] = float(run.final["best_epoch"]) + 1  # as people count
        n[f"{arm}_gap"] = abs(run.final["val_acc"] - run.final["test_acc"])
    ds = data["unshuffled"]
    # the labels in file order: every split's labels put back at their source rows
    codes = torch.cat([ds.train.y, ds.val.y, ds.test.y])[torch.argsort(
        torch.cat([ds.train.indices, ds.val.indices, ds.test.indices]))].numpy()
    runs_seen, expected = label_runs(codes)
    n["label_runs"], n["label_runs_random"] = float(runs_seen), expected
    k = ds.num_classes
    counts = {s: _counts(getattr(ds, s), k) for s in ("train", "val", "test")}
    answer = (
        f"Wine lists its rows by class ({runs_seen} label runs over {len(codes)} rows; about "
        f"{expected:.0f} in random order). Split in file order, train holds classes "
        f"{counts['train']}, validation {counts['val']} and test {counts['test']}: early "
        f"stopping chose epoch {n['unshuffled_best_epoch']:.0f} on a validation accuracy of "
        f"{pct(n['unshuffled_val_acc'])}, while the test accuracy is "
        f"{pct(n['unshuffled_test_acc'])}, {100 * n['unshuffled_gap']:.1f} points apart. "
        f"The same model on a shuffled, stratified split: validation "
        f"{pct(n['shuffled_val_acc'])} at epoch {n['shuffled_best_epoch']:.0f}, test "
        f"{pct(n['shuffled_test_acc'])}, {100 * n['shuffled_gap']:.1f} points apart. "
        + ("Shuffling made the validation score a fair estimate of the test score."
           if n["shuffled_gap"] < n["unshuffled_gap"] else
           "Here shuffling did not bring the two closer; rerun with another seed.")
        + " reglab warns when labels come in long runs and the split does not shuffle.")
    fig, axes = figure(2)
    for ax, arm in zip(axes, ("unshuffled", "shuffled")):
        rows = runs[arm].epochs
        ax.plot([r["val_acc"] for r in rows], label="validation accuracy")
        ax.axhline(runs[arm].final["test_acc"], color="black", ls="--", label="test accuracy")
        ax.axvline(n[f"{arm}_best_epoch"] - 1, color="grey", ls=":", label="chosen epoch")
        ax.set(title=f"wine, {arm} split", xlabel="epoch (0-based)", ylim=(-0.02, 1.02))
        ax.legend(fontsize=7)
    return Explanation(TOPIC, QUESTIONS[TOPIC], answer, n,
                       [("validation estimate vs test, unshuffled and shuffled", png(fig))])
