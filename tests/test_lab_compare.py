"""compare's plan (arms, seeds, overrides) and its table (paired over the same seeds)."""

import math
import re

import pytest

from reglab import InvalidParameterError
from reglab.cli.options import default_text
from reglab.lab import arms
from reglab.lab.arms import ARMS, arm_changes, base_changes, settings, technique_of
from reglab.lab.compare import make_plan, summarize_arms
from reglab.lab.spec import RunSpec

BASE = RunSpec(data="digits", epochs=5, dropout=0.5, l2=1.0)  # base regularizers are ignored


def test_plan_is_one_run_per_arm_and_seed_with_only_the_arms_changes():
    jobs = make_plan(BASE, "image", list(ARMS), seeds=3)
    assert [j.run_id for j in jobs[:4]] == ["none-s0", "none-s1", "none-s2", "l1-s0"]
    assert len(jobs) == 24  # 8 arms (label_smoothing the addition) x 3 seeds
    none = [j.spec for j in jobs if j.arm == "none"]
    assert [s.seed for s in none] == [0, 1, 2]
    assert none[0].dropout == 0 and none[0].l2 == 0 and none[0].epochs == 5
    for j in jobs:
        changed = {k for k in RunSpec.keys() if getattr(j.spec, k) != getattr(none[0], k)}
        assert changed - {"seed"} == set(arm_changes("image")[j.arm])


def test_a_models_own_defaults_replace_the_kinds_for_that_model_only(monkeypatch):
    """[image.models.cnn.base] / [image.models.cnn.arms.all]: the CNN's base keys and arms; an
    arm without a table of its own, and every other model, keep the kind's."""
    monkeypatch.setitem(arms.MODEL_BASE["image"], "cnn", {"epochs": 7, "lr_schedule": "step"})
    monkeypatch.setitem(arms._MODEL_ARMS["image"], "cnn", {"all": {"dropout": 0.4, "patience": 3}})
    kind_base = arms.BASE["image"]
    assert base_changes("image") == kind_base and kind_base["epochs"] != 7
    assert base_changes("image", "cnn") == {**kind_base, "epochs": 7, "lr_schedule": "step",
                                            "model": "cnn"}
    assert base_changes("image", "linear") == {**kind_base, "model": "linear"}
    own, kinds = arm_changes("image", "cnn"), arm_changes("image")
    assert own["all"] == {"dropout": 0.4, "patience": 3} != kinds["all"]
    assert {a: c for a, c in own.items() if a != "all"} == {
        a: c for a, c in kinds.items() if a != "all"}
    assert arm_changes("image", "mlp") == kinds
    [job] = make_plan(RunSpec(data="digits", model="cnn"), "image", ["all"], seeds=1)
    assert (job.spec.dropout, job.spec.patience, job.spec.augment) == (0.4, 3, ())
    [job] = make_plan(RunSpec(data="digits"), "image", ["all"], seeds=1)
    assert job.spec.augment == kinds["all"]["augment"]
    # --help says where a model's default differs from its kind's
    assert default_text("epochs", "run").startswith(f"image {kind_base['epochs']} (cnn 7), ")
    assert "cnn" not in default_text("batch_size", "run")


def test_all_combines_l2_dropout_early_stopping_and_augmentation():
    # the l2 technique as an L2 loss term or as decoupled weight decay (TECHNIQUES["l2"])
    for kind in ("image", "signal", "tabular"):
        used = {technique_of(k) for k in arm_changes(kind)["all"]}
        assert {"l2", "dropout", "early_stopping", "augment"} <= used


@pytest.mark.parametrize("kind, model", [(k, m) for k in ("image", "signal", "tabular")
                                         for m in (None, "cnn")])
def test_all_adds_nothing_but_the_label_smoothing_arms_strength(kind, model):
    # stage 3 of scripts/select_defaults.py: the note's four techniques, and label smoothing
    # only at the strength its own arm was selected with (never an untested value), no L1
    arms = arm_changes(kind, model)
    used = {technique_of(k) for k in arms["all"]}
    assert used <= {"l2", "dropout", "early_stopping", "augment", "label_smoothing"}
    if "label_smoothing" in arms["all"]:
        assert arms["all"]["label_smoothing"] == arms["label_smoothing"]["label_smoothing"]


def test_overrides_replace_a_strength_in_every_arm_that_uses_it():
    # l2 and weight_decay given together are one technique's strength, set together in every
    # arm that uses L2 (the all arm included: it used to keep weight_decay 0, issue 15)
    jobs = make_plan(BASE, "image", ["l2", "all", "dropout"], seeds=1,
                     overrides={"l2": 3e-3, "weight_decay": 0.1},
                     arm_specs={"dropout": {"dropout": 0.1}})
    spec = {j.arm: j.spec for j in jobs}
    assert spec["l2"].l2 == 3e-3 and spec["all"].l2 == 3e-3
    assert spec["l2"].weight_decay == 0.1 and spec["all"].weight_decay == 0.1
    assert spec["dropout"].dropout == 0.1


def _changes(jobs):
    none = next(j.spec for j in jobs if j.arm == "none")
    return {j.arm: {k: getattr(j.spec, k) for k in RunSpec.keys()
                    if getattr(j.spec, k) != getattr(none, k) and k != "seed"} for j in jobs}


# the image all arm's strengths other than L2's (a strength flag replaces its technique's)
_ALL_BUT_L2 = {k: v for k, v in arm_changes("image")["all"].items() if technique_of(k) != "l2"}


@pytest.mark.parametrize("overrides,arm,expected", [
    # a strength replaces its technique's strength in the arm, it does not add to it
    ({"l1": 1e-4}, "l1", {"l1": 1e-4}),                        # not {l1, proximal_l1: 0.1}
    ({"proximal_l1": 0.5}, "l1", {"proximal_l1": 0.5}),
    ({"weight_decay": 0.01}, "l2", {"weight_decay": 0.01}),    # not {l2: 1e-4, wd}
    ({"weight_decay": 0.01}, "all", {**_ALL_BUT_L2, "weight_decay": 0.01}),
    ({"l2": 1e-3}, "all", {**_ALL_BUT_L2, "l2": 1e-3}),
    ({"mixup": 0.2}, "augment", {**arm_changes("image")["augment"], "mixup": 0.2}),
    ({"patience": 3}, "early_stopping", {"patience": 3}),
])
def test_a_strength_flag_has_one_meaning(overrides, arm, expected):
    jobs = make_plan(BASE, "image", ["none", arm], seeds=1, overrides=overrides)
    assert _changes(jobs)[arm] == expected


def test_custom_arms_are_new_arms_and_tables_replace_the_techniques_they_name():
    tables = {"l2_big": {"l2": 1e-2, "dropout": 0.4}, "l1": {"l1": 1e-3}}
    jobs = make_plan(BASE, "image", ["none", "l1", "l2_big"], seeds=2, arm_specs=tables,
                     overrides={"dropout": 0.1})
    assert [j.run_id for j in jobs] == ["none-s0", "none-s1", "l1-s0", "l1-s1", "l2_big-s0",
                                        "l2_big-s1"]
    ch = _changes(jobs)
    assert ch["l2_big"] == {"l2": 1e-2, "dropout": 0.4}   # its table wins over --dropout
    assert ch["l1"] == {"l1": 1e-3}                       # the default proximal step is gone
    with pytest.raises(InvalidParameterError, match=re.escape(
            "The 'arms' parameter of compare must be arm names of lowercase letters, digits "
            "and '_'. Got 'L2-big' instead.")):
        make_plan(BASE, "image", ["none"], 1, arm_specs={"L2-big": {"l2": 1.0}})


def test_a_grid_gives_one_arm_per_value_in_place_of_its_owner_arm():
    jobs = make_plan(BASE, "image", ["none", "l2", "all"], seeds=1,
                     grids={"l2": [("1e-4", 1e-4), ("1e-3", 1e-3)],
                            "dropout": [("0.1", 0.1), ("0.5", 0.5)]})
    ch = _changes(jobs)
    assert list(ch) == ["none", "l2-1e-4", "l2-1e-3", "all", "dropout-0.1", "dropout-0.5"]
    assert ch["l2-1e-4"] == {"l2": 1e-4} and ch["l2-1e-3"] == {"l2": 1e-3}
    assert ch["dropout-0.5"] == {"dropout": 0.5}
    assert ch["all"] == arm_changes("image")["all"]  # a grid has no one value
    with pytest.raises(InvalidParameterError, match="without repeats"):
        make_plan(BASE, "image", ["none", "l2"], 1, grids={"l2": [("1e-4", 1e-4)] * 2})


@pytest.mark.parametrize("spec,text", [
    ({}, "-"),
    ({"l2": 1e-4, "dropout": 0.3}, "l2=1e-4, dropout=0.3"),
    ({"l2": 1e-3 / 3, "patience": 5, "augment": ["shift"]}, "l2=3.33e-4, patience=5, "
                                                            "augment=shift"),
    ({"proximal_l1": 1.0, "weight_decay": 3e-3}, "weight_decay=3e-3, proximal_l1=1"),
    ({"augment": ["noise", "rotate"], "augment_strength": 2.0}, "augment=noise+rotate, "
                                                                 "augment_strength=2"),
    ({"augment_strength": 2.0}, "-"),   # nothing to scale
])
def test_settings_show_an_arms_strengths(spec, text):
    assert settings(spec) == text


def test_settings_show_the_other_keys_an_arm_changes_from_the_baseline():
    base = {"epochs": 40, "lr": 1e-3, "seed": 0, "l2": 0.0, "hidden": [256, 256]}
    long = {**base, "epochs": 100, "seed": 2, "l2": 1e-3, "hidden": [64]}
    assert settings(long, base) == "epochs=100, hidden=64, l2=1e-3"
    assert settings(base, base) == "-"


@pytest.mark.parametrize("arms,match", [(["none", "l3"], "Got 'l3' instead"),
                                        ([], "a non-empty list"),
                                        (["l2", "l2"], "without repeats")])
def test_bad_arms_are_refused(arms, match):
    with pytest.raises(InvalidParameterError, match=match):
        make_plan(BASE, "image", arms, seeds=1)


def _run(arm, seed, acc, loss=0.1, status="done"):
    final = {"test_acc": acc, "test_loss": loss, "gap": 0.01, "sparsity": 0.0,
             "weight_norm": 1.0, "epochs_trained": 5, "seconds": 1.0}
    return {"arm": arm, "seed": seed, "status": status, "final": final}


def test_table_pairs_by_seed_and_only_claims_supported_effects():
    runs = [_run("none", s, a) for s, a in enumerate([0.90, 0.80, 0.85])]
    runs += [_run("l2", s, a) for s, a in enumerate([0.92, 0.82, 0.87])]      # +2 every seed
    runs += [_run("dropout", s, a) for s, a in enumerate([0.95, 0.78, 0.86])]  # noisy
    runs += [_run("l1", 0, 0.5), _run("l1", 1, math.nan, status="diverged")]
    rows = {r.arm: r for r in summarize_arms(runs)}
    assert rows["none"].verdict == "baseline" and rows["none"].test_acc.n == 3
    assert rows["l2"].d_acc.mean == pytest.approx(0.02)
    assert rows["l2"].verdict.startswith("accuracy: helps")
    assert rows["dropout"].verdict.startswith("accuracy: no measurable effect at n=3")
    assert rows["l1"].n_done == 1 and rows["l1"].n_diverged == 1
    assert rows["l1"].verdict.startswith("accuracy: not enough paired seeds (n=1)")


def test_verdicts_are_holm_adjusted_over_the_compare_and_keep_the_raw_interval():
    from scipy import stats

    from reglab.lab.compare import intervals_note
    base_acc, base_loss = [0.90, 0.80, 0.85], [0.30, 0.40, 0.35]
    runs = [_run("none", s, a, l) for s, (a, l) in enumerate(zip(base_acc, base_loss))]
    l2_acc = [a + d for a, d in zip(base_acc, [0.02, 0.03, 0.025])]     # raw p = 0.013
    noisy = [[0.01, -0.02, 0.005], [-0.01, 0.03, 0.0], [0.02, -0.01, -0.015]]
    runs += [_run("l2", s, a, l + n) for s, (a, l, n) in
             enumerate(zip(l2_acc, base_loss, noisy[0]))]
    for arm, dd in (("dropout", noisy[1]), ("l1", noisy[2])):
        runs += [_run(arm, s, a + d, l - d) for s, (a, l, d) in
                 enumerate(zip(base_acc, base_loss, dd))]
    rows = {r.arm: r for r in summarize_arms(runs)}
    l2 = rows["l2"]
    p = stats.ttest_rel(l2_acc, base_acc).pvalue
    assert l2.d_acc_raw.p == pytest.approx(p) and l2.d_acc_raw.low > 0  # raw: it would help
    assert l2.comparisons == 6 and l2.d_acc.p == pytest.approx(6 * p)  # smallest of six
    assert l2.d_acc.confidence == pytest.approx(1 - 0.05 / 6) and l2.d_acc.low < 0
    assert l2.verdict == "accuracy: no measurable effect at n=3; loss: no measurable effect at n=3"
    assert l2.effects == ("unclear", "unclear")
    assert l2.min_effect_loss == pytest.approx(0.0035)
    assert intervals_note(list(rows.values())) == (
        "95% t intervals, Holm-adjusted over 6 comparisons (each at the level of its Holm "
        "step); a verdict needs the interval to exclude 0 and the mean to exceed the minimum "
        "effect: 0.5 accuracy points, 1% of none's test loss (0.0035)")


def test_a_tiny_deterministic_difference_is_below_the_minimum_effect():
    """--l2 1e-9: the same +1e-6 test loss on every seed no longer reads "hurts"."""
    runs = [_run("none", s, a, l) for s, (a, l) in enumerate(zip([0.9, 0.8], [0.3, 0.4]))]
    runs += [_run("l2", s, a, l + 1e-6) for s, (a, l) in enumerate(zip([0.9, 0.8], [0.3, 0.4]))]
    [_, l2] = summarize_arms(runs)
    assert (l2.d_loss.low, l2.d_loss.high) == pytest.approx((1e-6, 1e-6))
    assert l2.verdict == ("accuracy: no measurable effect (below the minimum effect of 0.5 "
                          "points); loss: no measurable effect (below the minimum effect of "
                          "0.0035 = 1% of none's test loss)")
    runs += [_run("dropout", s, a + 0.01, l - 0.01)
             for s, (a, l) in enumerate(zip([0.9, 0.8], [0.3, 0.4]))]
    assert summarize_arms(runs)[2].verdict == "accuracy: helps; loss: helps"


def test_the_intervals_note_without_a_family_to_adjust():
    from reglab.lab.compare import intervals_note
    one = [_run("none", 0, 0.9), _run("l2", 0, 0.92)]
    assert intervals_note(summarize_arms(one)).startswith(
        "no intervals (fewer than 2 paired seeds per arm); a verdict needs")
    two = [_run("none", s, 0.9 + 0.01 * s, 0.1) for s in range(2)]
    two += [_run("l2", s, 0.92 + 0.02 * s, 0.1) for s in range(2)]  # loss identical: p = 1
    rows = summarize_arms(two)
    assert rows[1].comparisons == 2


def test_table_rows_carry_each_arms_settings_and_a_grid_arm_its_techniques_seed_row():
    runs = [{**_run("none", 0, 0.9), "spec": {"l2": 0.0}},
            {**_run("l2-1e-3", 0, 0.9), "spec": {"l2": 1e-3}}]
    rows = {r.arm: r for r in summarize_arms(runs)}
    assert rows["none"].settings == "-" and rows["l2-1e-3"].settings == "l2=1e-3"
    assert rows["l2-1e-3"].note_says[0] == "small weights"
