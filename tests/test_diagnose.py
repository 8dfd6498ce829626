"""Each diagnosis on scripted numbers, checked by its exact text.

Three seeds per arm; ``none`` has test accuracy 0.90 / 0.91 / 0.92 and test loss 0.30 /
0.31 / 0.32 (so the loss's minimum effect, 1% of its mean, is 0.0031). The Holm family is
every arm's accuracy and loss against ``none``.
"""

from __future__ import annotations

import re

import pytest

from reglab.lab.stats import PairedDifference
from reglab.report import diagnose as dg


def _hist(train, val):
    return [{"data_loss": t, "val_loss": v} for t, v in zip(train, val)]


OVER = _hist([1 / (e + 1) for e in range(20)], [0.5 + abs(e - 6) * 0.05 for e in range(20)])
GOOD = _hist([1 / (e + 1) for e in range(20)], [1 / (e + 1) + 0.1 for e in range(20)])


def _run(arm, seed, spec=None, **final):
    base = {"train_acc": 1.0, "test_acc": 0.90 + 0.01 * seed, "test_loss": 0.30 + 0.01 * seed,
            "weight_norm": 10.0, "gap": 0.1}
    return {"id": f"{arm}-s{seed}", "arm": arm, "seed": seed, "status": "done", "reason": "",
            "spec": {"epochs": 20, "lr": 1e-3, **(spec or {})}, "final": {**base, **final}}


def scripted_experiment():
    """(runs, histories, label check) of the scripted compare the diagnoses are read from
    (test_i18n renders the same one in every language)."""
    runs, hist = [], {}
    for s in range(3):
        acc, loss = 0.90 + 0.01 * s, 0.30 + 0.01 * s
        runs += [
            _run("none", s),
            # --l2 1e-9: accuracy identical, loss +1e-6 on every seed (a point interval)
            _run("l2", s, {"l2": 1e-9}, test_loss=loss + 1e-6, weight_norm=10.0 + 0.01 * s),
            # tiny means, wide intervals, weights 20% smaller
            _run("l1", s, {"l1": 1e-5}, test_acc=acc + [0.003, -0.004, 0.002][s],
                 test_loss=loss + [0.002, -0.003, 0.0][s], weight_norm=8.0),
            _run("dropout", s, {"dropout": 0.8}, train_acc=0.70 + 0.01 * s, test_acc=0.8,
                 test_loss=0.5),
            _run("early_stopping", s, {"patience": 20}),
            _run("augment", s, {"augment": ["flip"]}, test_acc=acc + 0.02, test_loss=loss - 0.02,
                 gap=0.05)]
        hist.update({f"{a}-s{s}": (OVER if a == "none" else GOOD)
                     for a in ("none", "l2", "l1", "dropout", "early_stopping", "augment")})
    runs.append({**_run("l2", 3, {"l2": 1e-9}), "status": "diverged",
                 "reason": "diverged: the training loss became non-finite (nan) at epoch 2"})
    check = {"clean_accuracy": 0.95, "rows": [
        {"name": "flip", "drop": 0.3, "limit": 0.05, "flagged": True}]}
    return runs, hist, check


@pytest.fixture(scope="module")
def found():
    runs, hist, check = scripted_experiment()
    return dg.diagnose(runs, hist, label_check=check)


def _one(found, arm, rule):
    [f] = [f for f in found[arm] if f.rule == rule]
    return f


def test_rules_per_arm(found):
    assert {arm: [f.rule for f in fs] for arm, fs in found.items()} == {
        "none": ["overfitting"], "l2": ["diverged", "no-effect"], "l1": ["no-effect"],
        "dropout": ["underfitting"], "early_stopping": ["cannot-fire"],
        "augment": ["label-safety"]}
    for fs in found.values():
        for f in fs:
            assert not re.search(r"-0\.0+\b(?!\d)", f.text + f.advice), f.text  # no "-0.00"


def test_overfitting_text(found):
    f = _one(found, "none", "overfitting")
    assert (f.level, f.text, f.advice) == (
        "warning",
        "Overfitting: validation loss rose 130% above its minimum (0.500 at epoch 7, mean over "
        "3/3 seeds) to 1.150, while training loss kept falling (0.143 → 0.050).",
        "Stop near epoch 7 (early stopping on validation loss, e.g. --patience 10) or "
        "regularize harder (L2, dropout, augmentation).")


def test_no_effect_below_the_minimum_effect_text(found):
    """--l2 1e-9 used to get "ok" (loss "+0.000 [+0.000, +0.000] ... hurts")."""
    f = _one(found, "l2", "no-effect")
    assert (f.level, f.text, f.advice) == (
        "warning",
        "No measurable effect: test accuracy +0.00 points [+0.00, +0.00] and test loss +0.0000 "
        "[+0.0000, +0.0000] against none (mean [Holm-adjusted interval], as in the table), "
        "inside the minimum effect (0.5 points; 1% of none's test loss = 0.0031); weight norm "
        "10.0 against 10.0 (+0.1%), n=3.",
        "Strengthen it: raise l2 (now 1e-09, try 1e-08).")
    assert f.numbers["negligible"] == 1.0


def test_no_effect_too_few_seeds_text_for_l1(found):
    """The same rule for l1 as for augmentation, though its weights moved 20%."""
    f = _one(found, "l1", "no-effect")
    assert (f.text, f.advice) == (
        "No measurable effect at n=3: test accuracy +0.03 points [-2.14, +2.20] and test loss "
        "-0.0003 [-0.0148, +0.0141] against none (mean [Holm-adjusted interval], as in the "
        "table); the means are below the minimum effect (0.5 points; 1% of none's test loss = "
        "0.0031) but the intervals cannot rule out a larger effect; weight norm 8.0 against "
        "10.0 (-20.0%).",
        "Strengthen it: raise l1 (now 1e-05, try 0.0001); or run more seeds (--seeds) to "
        "measure an effect of this size.")
    assert f.numbers["negligible"] == 0.0


def test_underfitting_text(found):
    f = _one(found, "dropout", "underfitting")
    assert (f.text, f.advice) == (
        "Underfitting: training accuracy 71.0% against 100.0% without regularization (-29.0 "
        "points, 95% CI [-31.48, -26.52], n=3) and test accuracy not better (-11.00 points).",
        "Weaken it: lower the drop rate (now 0.8, try 0.4).")


def test_cannot_fire_text(found):
    f = _one(found, "early_stopping", "cannot-fire")
    assert (f.level, f.text, f.advice) == (
        "warning",
        "Early stopping cannot fire: patience 20 >= epochs 20, so no run can go 20 epochs "
        "without improvement before it ends. This arm trains every epoch and only restores the "
        "best epoch's weights (a checkpoint chosen on validation loss), which is not early "
        "stopping.",
        "Use a patience below the epochs (e.g. --patience 5) or train longer (--epochs above "
        "20).")


@pytest.mark.parametrize("patience, epochs, fires", [(19, 20, False), (20, 20, True),
                                                      (50, 20, True), (0, 20, False)])
def test_cannot_fire_boundary(patience, epochs, fires):
    assert (dg.cannot_fire({"patience": patience, "epochs": epochs}) is not None) == fires


def test_diverged_and_label_safety_texts(found):
    f = _one(found, "l2", "diverged")
    assert (f.text, f.advice) == (
        "run l2-s3 (seed 3) diverged: diverged: the training loss became non-finite (nan) at "
        "epoch 2.",
        "Lower the learning rate (now 0.001) or the strengths of this arm; the other seeds' "
        "numbers stand without it.")
    f = _one(found, "augment", "label-safety")
    assert (f.level, f.text, f.advice) == (
        "warning",
        "Augmentation changes what samples are: flip (accuracy drop 30.0 points > limit 5.0) on "
        "a quick model with clean accuracy 95.0%.",
        "Drop the flagged transform(s) for this data: they teach wrong patterns.")


def test_label_safe_and_ok_texts():
    runs = [_run("none", 0), _run("augment", 0, {"augment": ["rotate"]}, gap=-0.00001,
                                  test_acc=0.93)]
    check = {"clean_accuracy": 0.95, "rows": [
        {"name": "rotate", "drop": -0.0001, "limit": 0.05, "flagged": False}]}
    found = dg.diagnose(runs, {}, label_check=check)
    assert [(f.rule, f.level, f.text) for f in found["augment"]] == [
        ("label-safety", "ok", "Label-safe: no transform flagged (accuracy drop in points: "
                               "rotate +0.0)."),
        ("ok", "ok", "No pitfall detected; train-test gap 0.0 points.")]


def test_a_clear_effect_is_not_no_effect(found):
    assert not any(f.rule == "no-effect" for f in found["augment"])  # +2 points on every seed


def test_no_effect_rule_on_numbers():
    pd = lambda m, lo, hi: PairedDifference(m, lo, hi, 3)  # noqa: E731
    norms = ([10.0] * 3, [10.0] * 3)
    # both intervals inside the minimum effects: negligible
    got = dg.no_effect(pd(0.001, -0.002, 0.004), pd(0.0, -0.001, 0.001), 0.003, *norms)
    assert got["negligible"] == 1.0 and got["d_norm_rel"] == 0.0
    # accuracy mean 0.6 points > 0.5 with an interval containing 0: too few seeds, not "no effect"
    assert dg.no_effect(pd(0.006, -0.01, 0.022), pd(0.0, -0.001, 0.001), 0.003, *norms) is None
    # the loss clearly lower (helps): an effect
    assert dg.no_effect(pd(0.0, -0.002, 0.002), pd(-0.02, -0.03, -0.01), 0.003, *norms) is None
    # no loss measured (n = 0): accuracy alone decides
    none = PairedDifference(float("nan"), float("-inf"), float("inf"), 0)
    assert dg.no_effect(pd(0.001, -0.002, 0.004), none, float("nan"), *norms) is not None
    # one seed: |d| within the minimum effect
    one = lambda m: PairedDifference(m, float("-inf"), float("inf"), 1)  # noqa: E731
    assert dg.no_effect(one(0.002), none, float("nan"), [10.0], [10.0]) is not None
    assert dg.no_effect(one(0.02), none, float("nan"), [10.0], [10.0]) is None


def test_no_effect_with_one_seed_text():
    runs = [_run("none", 0), _run("dropout", 0, {"dropout": 0.1}, test_acc=0.902)]
    [f] = dg.diagnose(runs, {})["dropout"]
    assert (f.text, f.advice) == (
        "No measurable effect at n=1: test accuracy +0.20 points and test loss +0.0000 against "
        "none (one seed: no interval); the differences are below the minimum effect (0.5 "
        "points; 1% of none's test loss = 0.0030); weight norm 10.0 against 10.0 (+0.0%).",
        "Strengthen it: raise the drop rate (now 0.1); and run more seeds (--seeds) to know.")
