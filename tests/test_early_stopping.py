"""EarlyStopping: scripted loss lists for every stop reason, Prechelt's criteria against a
brute-force reading of the paper, exact weights restored, resume at every split point,
the shared decision under torch.distributed, and exact error text."""

import io
import json
import math
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import reglab as rl
from reglab.early_stopping import generalization_loss, training_progress


def run(es, losses, key="val_loss", extra=None):
    """Feed a scripted list; return the decisions up to and including the first stop."""
    decisions = []
    for i, v in enumerate(losses):
        metrics = {key: v, **({k: vals[i] for k, vals in extra.items()} if extra else {})}
        decisions.append(es.step(metrics))
        if decisions[-1]:
            break
    return decisions


def stop_epoch(decisions):
    return decisions.index(True) if True in decisions else None


# ---------------------------------------------------------------------------- bad input

P = "The '{}' parameter of {} must be {}. Got {} instead."
ES = "EarlyStopping"
BAD = [
    (dict(patience=-1), P.format("patience", ES, "an int in the range [0, inf) or None", "-1")),
    (dict(patience=2.0), P.format("patience", ES, "an int in the range [0, inf) or None", "2.0")),
    (dict(patience=True), P.format("patience", ES, "an int in the range [0, inf) or None", "True")),
    (dict(mode="up"), P.format("mode", ES, "one of {'min', 'max'}", "'up'")),
    (dict(min_delta=-1), P.format("min_delta", ES, "a float in the range [0, inf)", "-1")),
    (dict(min_delta=math.nan), P.format("min_delta", ES, "a float in the range [0, inf)", "nan")),
    (dict(min_delta="0.1"), P.format("min_delta", ES, "a float in the range [0, inf)", "'0.1'")),
    (dict(min_delta_mode="x"), P.format("min_delta_mode", ES, "one of {'abs', 'rel'}", "'x'")),
    (dict(monitor=""), P.format("monitor", ES, "a non-empty str", "''")),
    (dict(monitor=None), P.format("monitor", ES, "a non-empty str", "None")),
    (dict(baseline=math.nan), P.format("baseline", ES, "a float in the range (-inf, inf) or None",
                                       "nan")),
    (dict(start_from_epoch=-1), P.format("start_from_epoch", ES, "an int in the range [0, inf)",
                                         "-1")),
    (dict(restore_best="yes"), P.format("restore_best", ES, "a bool", "'yes'")),
    (dict(check_finite=1), P.format("check_finite", ES, "a bool", "1")),
    (dict(stopping_threshold="low"), P.format("stopping_threshold", ES,
                                              "a float in the range (-inf, inf) or None", "'low'")),
    (dict(divergence_threshold=math.inf), P.format("divergence_threshold", ES,
                                                   "a float in the range (-inf, inf) or None",
                                                   "inf")),
    (dict(stopping_threshold=0.1, divergence_threshold=0.05),
     P.format("divergence_threshold", ES, "greater than stopping_threshold=0.1 when mode='min'",
              "0.05")),
    (dict(mode="max", stopping_threshold=0.9, divergence_threshold=0.9),
     P.format("divergence_threshold", ES, "less than stopping_threshold=0.9 when mode='max'",
              "0.9")),
    (dict(criterion="GL"), P.format("criterion", ES, "None or a criterion (rl.GL, rl.PQ or rl.UP)",
                                    "'GL'")),
    (dict(mode="max", criterion=rl.GL(5.0)),
     P.format("criterion", ES, "None when mode='max' (Prechelt's criteria are defined on errors, "
              "to be minimized)", "GL(alpha=5.0)")),
]


@pytest.mark.parametrize("kwargs, message", BAD, ids=[str(k) for k, _ in BAD])
def test_every_parameter_is_checked_with_the_template(kwargs, message):
    with pytest.raises(rl.InvalidParameterError) as e:
        rl.EarlyStopping(**kwargs)
    assert str(e.value) == message


BAD_CRITERIA = [
    (lambda: rl.GL(0), P.format("alpha", "GL", "a float in the range (0, inf)", "0")),
    (lambda: rl.GL(-1.0), P.format("alpha", "GL", "a float in the range (0, inf)", "-1.0")),
    (lambda: rl.PQ(0.0), P.format("alpha", "PQ", "a float in the range (0, inf)", "0.0")),
    (lambda: rl.PQ(1.0, strip=0), P.format("strip", "PQ", "an int in the range [1, inf)", "0")),
    (lambda: rl.PQ(1.0, train_key=""), P.format("train_key", "PQ", "a non-empty str", "''")),
    (lambda: rl.UP(0), P.format("s", "UP", "an int in the range [1, inf)", "0")),
    (lambda: rl.UP(1.5), P.format("s", "UP", "an int in the range [1, inf)", "1.5")),
    (lambda: rl.UP(2, strip=0), P.format("strip", "UP", "an int in the range [1, inf)", "0")),
]


@pytest.mark.parametrize("build, message", BAD_CRITERIA, ids=[m[4:30] for _, m in BAD_CRITERIA])
def test_criteria_parameters_are_checked(build, message):
    with pytest.raises(rl.InvalidParameterError) as e:
        build()
    assert str(e.value) == message


def test_missing_monitor_key_names_it_and_lists_the_keys_received():
    es = rl.EarlyStopping()
    with pytest.raises(rl.InvalidParameterError) as e:
        es.step({"loss": 1.0, "acc": 0.5})
    assert str(e.value) == ("The 'metrics' parameter of EarlyStopping.step must contain the key "
                            "'val_loss'. Got keys ['acc', 'loss'] instead.")
    assert es.message == "Not stopped: no epochs seen yet."  # the failed call counted nothing


def test_bad_metric_values_are_rejected_before_any_state_changes():
    es = rl.EarlyStopping(criterion=rl.PQ(1.0))
    with pytest.raises(rl.InvalidParameterError, match=r"contain the key 'train_loss'\. Got keys "
                       r"\['val_loss'\] instead\.$"):
        es.step({"val_loss": 1.0})
    with pytest.raises(rl.InvalidParameterError) as e:
        es.step({"val_loss": "high", "train_loss": 1.0})
    assert str(e.value) == ("The 'metrics' parameter of EarlyStopping.step must be a mapping "
                            "whose 'val_loss' is a number. Got 'high' instead.")
    with pytest.raises(rl.InvalidParameterError) as e:
        es.step({"val_loss": 1.0, "train_loss": -0.5})
    assert str(e.value) == ("The 'metrics' parameter of EarlyStopping.step must be a mapping "
                            "whose 'train_loss' is a non-negative error for PQ(alpha=1.0, "
                            "strip=5, train_key='train_loss'). Got -0.5 instead.")
    with pytest.raises(rl.InvalidParameterError, match=r"must be a mapping of metric names to "
                       r"numbers\. Got 0\.5 instead\.$"):
        es.step(0.5)
    assert es.state_dict()["epoch"] == 0 and es.state_dict()["criterion_state"]["n"] == 0


def test_stop_reason_values_are_lowercase_strings():
    assert [r.value for r in rl.StopReason] == ["patience", "threshold", "divergence",
                                                 "non_finite", "criterion"]


# ---------------------------------------------------------------------- scripted lists

@pytest.mark.parametrize("losses, patience, expected_stop, best_epoch", [
    ([1.0, 0.9, 0.8, 0.7], 1, None, 3),                 # always improving
    ([1.0, 1.1, 1.2, 1.3], 3, 3, 0),                    # worse from the start
    ([1.0, 1.1, 0.9, 1.0, 1.0, 1.0], 3, 5, 2),          # an improvement resets the count
    ([1.0, 1.0, 1.0], 2, 2, 0),                         # equal is not better (min_delta 0)
    ([1.0, 0.5, 0.6], 0, 2, 1),                         # patience 0: first non-improvement
    ([5, 4, 3, 4, 5, 6, 7, 8, 9, 1], 6, 8, 2),          # the late 1 comes too late
])
def test_patience_on_scripted_losses(losses, patience, expected_stop, best_epoch):
    es = rl.EarlyStopping(patience=patience)
    decisions = run(es, losses)
    assert stop_epoch(decisions) == expected_stop
    assert es.stopped_epoch == expected_stop
    assert es.best_epoch == best_epoch and es.best_score == losses[best_epoch]
    assert es.reason == (None if expected_stop is None else rl.StopReason.PATIENCE)


def test_patience_message_matches_the_documented_example():
    losses = [0.9, 0.7, 0.5, 0.45, 0.4123] + [0.5] * 10
    es = rl.EarlyStopping(patience=10)
    assert stop_epoch(run(es, losses)) == 14
    assert es.message == ("Stopped at epoch 15: val_loss did not improve by more than 0 for 10 "
                          "epochs; best 0.4123 at epoch 5.")


def test_running_message_and_no_stop_means_none():
    es = rl.EarlyStopping(patience=5)
    run(es, [1.0, 0.5, 0.7])
    assert (es.stopped_epoch, es.reason, es.stopped) == (None, None, False)
    assert es.message == ("Not stopped after 3 epochs; best 0.5 at epoch 2; 1 epochs without "
                          "improvement (patience 5).")


def test_min_delta_abs_is_strict():
    # best 1.0, delta 0.25: 0.75 is exactly best - delta, not an improvement; 0.7 is.
    es = rl.EarlyStopping(patience=3, min_delta=0.25)
    assert run(es, [1.0, 0.75, 0.8, 0.7, 0.5, 0.46, 0.46]) == [False] * 6 + [True]
    assert (es.best_epoch, es.best_score) == (3, 0.7)
    assert es.message == ("Stopped at epoch 7: val_loss did not improve by more than 0.25 for 3 "
                          "epochs; best 0.7 at epoch 4.")
    plain = rl.EarlyStopping(patience=3)
    assert stop_epoch(run(plain, [1.0, 0.75, 0.8, 0.7, 0.5, 0.46, 0.46])) is None


def test_min_delta_rel_is_a_fraction_of_best():
    # best 2.0, rel 0.25: must go below 1.5 (strictly); later best 1.0 must go below 0.75.
    es = rl.EarlyStopping(patience=3, min_delta=0.25, min_delta_mode="rel")
    assert stop_epoch(run(es, [2.0, 1.6, 1.5, 1.0, 0.8, 0.76, 0.75])) == 6
    assert (es.best_epoch, es.best_score) == (3, 1.0)
    assert es.message == ("Stopped at epoch 7: val_loss did not improve by more than 25% for 3 "
                          "epochs; best 1 at epoch 4.")


def test_min_delta_rel_uses_abs_best_for_negative_scores_in_max_mode():
    # best -2.0, rel 0.5: must exceed -2 + 0.5 * 2 = -1 (not -2 * 1.5 = -3).
    es = rl.EarlyStopping(mode="max", monitor="score", patience=2, min_delta=0.5,
                          min_delta_mode="rel")
    assert stop_epoch(run(es, [-2.0, -1.5, -1.0, -0.5], key="score")) == 2
    assert es.best_score == -2.0


def test_mode_max_on_accuracies():
    es = rl.EarlyStopping(monitor="val_acc", mode="max", patience=2)
    assert stop_epoch(run(es, [0.5, 0.6, 0.6, 0.55, 0.9], key="val_acc")) == 3
    assert (es.best_score, es.best_epoch) == (0.6, 1)
    assert es.message == ("Stopped at epoch 4: val_acc did not improve by more than 0 for 2 "
                          "epochs; best 0.6 at epoch 2.")


def test_baseline_never_beaten_runs_patience_from_the_start():
    es = rl.EarlyStopping(patience=3, baseline=0.5)
    assert run(es, [0.6, 0.5, 0.52, 0.1]) == [False, False, True]
    # Keras: the best seen is tracked even though it never beat the baseline
    assert (es.best_score, es.best_epoch, es.reason) == (0.5, 1, rl.StopReason.PATIENCE)
    assert es.message == ("Stopped at epoch 3: val_loss did not beat the baseline 0.5 by more "
                          "than 0 in 3 epochs; best 0.5 at epoch 2.")


def test_baseline_never_beaten_still_restores_the_best_weights():
    model = nn.Linear(1, 1, bias=False)
    es = rl.EarlyStopping(patience=3, baseline=0.1)
    for epoch, v in enumerate([0.6, 0.3, 0.4, 0.5]):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        if es.step({"val_loss": v}, model):
            break
    assert (es.stopped_epoch, es.best_score, es.best_epoch) == (2, 0.3, 1)
    assert es.restore(model) and model.weight.item() == 1.0


def test_baseline_beaten_then_patience_as_usual():
    es = rl.EarlyStopping(patience=3, baseline=0.5)
    assert stop_epoch(run(es, [0.6, 0.4, 0.45, 0.45, 0.45, 0.1])) == 4
    assert (es.best_score, es.best_epoch) == (0.4, 1)
    without = rl.EarlyStopping(patience=3)
    assert stop_epoch(run(without, [0.6, 0.4, 0.45, 0.45, 0.45, 0.1])) == 4
    assert stop_epoch(run(rl.EarlyStopping(patience=3), [0.6, 0.55, 0.52])) is None


def test_start_from_epoch_ignores_the_warm_up():
    es = rl.EarlyStopping(patience=1, start_from_epoch=2)
    assert run(es, [0.1, 0.2, 0.5, 0.6]) == [False, False, False, True]
    assert (es.best_epoch, es.best_score) == (2, 0.5)  # 0.1 in the warm-up does not count
    assert es.message == ("Stopped at epoch 4: val_loss did not improve by more than 0 for 1 "
                          "epoch; best 0.5 at epoch 3.")


def test_non_finite_stops_even_in_the_warm_up():
    es = rl.EarlyStopping(start_from_epoch=5)
    assert run(es, [1.0, math.inf]) == [False, True]
    assert (es.reason, es.best_score) == (rl.StopReason.NON_FINITE, None)
    assert es.message == "Stopped at epoch 2: val_loss is inf (not finite); no best score yet."


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite(bad):
    es = rl.EarlyStopping(patience=10)
    assert run(es, [1.0, 0.5, bad, 0.1]) == [False, False, True]
    assert (es.reason, es.stopped_epoch, es.best_score) == (rl.StopReason.NON_FINITE, 2, 0.5)
    assert es.message == (f"Stopped at epoch 3: val_loss is {bad} (not finite); best 0.5 at "
                          f"epoch 2.")


def test_check_finite_off_treats_nan_as_no_improvement():
    es = rl.EarlyStopping(patience=2, check_finite=False)
    assert run(es, [1.0, math.nan, math.nan]) == [False, False, True]
    assert es.reason == rl.StopReason.PATIENCE and es.best_score == 1.0


def test_check_finite_off_recovers_from_an_infinite_best():
    es = rl.EarlyStopping(patience=1, check_finite=False, min_delta=0.1, min_delta_mode="rel")
    assert run(es, [math.inf, 2.0, 1.9, 1.7]) == [False, False, True]
    assert (es.best_score, es.best_epoch) == (2.0, 1)


def test_stopping_threshold_reached_counts_as_best():
    es = rl.EarlyStopping(stopping_threshold=0.2)
    assert run(es, [1.0, 0.5, 0.2, 0.1]) == [False, False, True]
    assert (es.reason, es.best_score, es.best_epoch) == (rl.StopReason.THRESHOLD, 0.2, 2)
    assert es.message == ("Stopped at epoch 3: val_loss 0.2 reached the stopping threshold 0.2; "
                          "best 0.2 at epoch 3.")
    acc = rl.EarlyStopping(monitor="acc", mode="max", stopping_threshold=0.95)
    assert stop_epoch(run(acc, [0.5, 0.94, 0.96], key="acc")) == 2


def test_divergence_threshold_is_strict():
    es = rl.EarlyStopping(divergence_threshold=2.0)
    assert run(es, [1.0, 1.5, 2.0, 2.5]) == [False, False, False, True]
    assert es.reason == rl.StopReason.DIVERGENCE
    assert es.message == ("Stopped at epoch 4: val_loss 2.5 is worse than the divergence "
                          "threshold 2; best 1 at epoch 1.")
    acc = rl.EarlyStopping(monitor="acc", mode="max", divergence_threshold=0.3)
    assert stop_epoch(run(acc, [0.5, 0.3, 0.2], key="acc")) == 2


def test_precedence_non_finite_then_threshold_then_divergence_then_patience():
    es = rl.EarlyStopping(patience=0, stopping_threshold=0.5, divergence_threshold=3.0)
    assert stop_epoch(run(es, [1.0, 0.4])) == 1 and es.reason == rl.StopReason.THRESHOLD
    es = rl.EarlyStopping(patience=0, divergence_threshold=3.0)
    assert stop_epoch(run(es, [1.0, 4.0])) == 1 and es.reason == rl.StopReason.DIVERGENCE


def test_stopped_stays_stopped_and_changes_nothing():
    es = rl.EarlyStopping(patience=1)
    run(es, [1.0, 2.0])
    before = es.state_dict()
    assert es.step({"val_loss": 0.0}) is True and es.step({}) is True
    assert es.state_dict() == before
    es.reset()
    assert es.stopped_epoch is None and es.step({"val_loss": 0.0}) is False


def test_tensor_values_are_accepted():
    es = rl.EarlyStopping(patience=1)
    assert run(es, [torch.tensor(1.0), torch.tensor(2.0, dtype=torch.float64)]) == [False, True]
    assert isinstance(es.best_score, float)


def test_patience_none_never_stops_for_lack_of_improvement():
    es = rl.EarlyStopping(patience=None)
    assert stop_epoch(run(es, [1.0] + [2.0] * 200)) is None


# ------------------------------------------------------------------ Prechelt's criteria

def test_formulas_match_the_paper_on_hand_worked_numbers():
    assert generalization_loss(0.55, 0.5) == pytest.approx(10.0, rel=1e-12)
    assert generalization_loss(0.5, 0.5) == 0.0
    assert generalization_loss(0.0, 0.0) == 0.0 and generalization_loss(0.1, 0.0) == math.inf
    # strip [1.1, 1.0, 1.2]: sum 3.3 / (3 * 1.0) = 1.1 -> 100 per mille
    assert training_progress([1.1, 1.0, 1.2]) == pytest.approx(100.0, rel=1e-12)
    assert training_progress([0.3] * 5) == 0.0


def ref_gl(va, alpha):
    for t in range(len(va)):
        if 100 * (va[t] / min(va[: t + 1]) - 1) > alpha:
            return t
    return None


def ref_pq(va, tr, alpha, k):
    for t in range(k - 1, len(va), k):  # ends of strips: epochs k-1, 2k-1, ... (0-based)
        gl = 100 * (va[t] / min(va[: t + 1]) - 1)
        window = tr[t - k + 1: t + 1]
        p = 1000 * (sum(window) / (k * min(window)) - 1)
        if gl / p > alpha:
            return t
    return None


def ref_up(va, s, k):
    def up(s, t):  # the paper's recursion: UP_s at t iff UP_{s-1} at t-k and E(t) > E(t-k)
        return t - k >= 0 and va[t] > va[t - k] and (s == 1 or up(s - 1, t - k))
    return next((t for t in range(k - 1, len(va), k) if up(s, t)), None)


def curves(seed, n=80):
    """A U-shaped validation error and a falling training error, with noise; all positive."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    va = 0.3 + 0.5 * np.exp(-t / 8) + 0.004 * np.maximum(t - 25, 0) + 0.02 * rng.random(n)
    tr = 0.05 + 0.7 * np.exp(-t / 10) + 0.01 * rng.random(n)
    return va.tolist(), tr.tolist()


@pytest.mark.parametrize("seed", range(8))
def test_gl_stops_where_the_paper_says(seed):
    va, _ = curves(seed)
    for alpha in (1.0, 3.0, 5.0):
        es = rl.EarlyStopping(criterion=rl.GL(alpha), patience=None)
        assert stop_epoch(run(es, va)) == ref_gl(va, alpha), alpha


@pytest.mark.parametrize("seed", range(8))
def test_pq_stops_where_the_paper_says(seed):
    va, tr = curves(seed)
    for alpha, k in ((0.5, 5), (1.0, 5), (2.0, 3)):
        es = rl.EarlyStopping(criterion=rl.PQ(alpha, strip=k), patience=None)
        assert stop_epoch(run(es, va, extra={"train_loss": tr})) == ref_pq(va, tr, alpha, k)


@pytest.mark.parametrize("seed", range(8))
def test_up_stops_where_the_paper_says(seed):
    va, _ = curves(seed)
    for s, k in ((1, 5), (2, 5), (3, 3), (2, 1)):
        es = rl.EarlyStopping(criterion=rl.UP(s, strip=k), patience=None)
        assert stop_epoch(run(es, va)) == ref_up(va, s, k), (s, k)


def test_reference_curves_do_stop_somewhere():
    # Guard for the three tests above: they compare real stops, not None == None.
    va, tr = curves(0)
    assert ref_gl(va, 5.0) is not None and ref_pq(va, tr, 1.0, 5) is not None
    assert ref_up(va, 2, 5) is not None


def test_criterion_messages():
    es = rl.EarlyStopping(criterion=rl.GL(5.0), patience=None)
    assert run(es, [1.0, 0.5, 0.52, 0.53]) == [False, False, False, True]
    assert es.reason == rl.StopReason.CRITERION
    assert es.message == ("Stopped at epoch 4: generalization loss GL = 6 exceeded alpha = 5 "
                          "(validation error 0.53, lowest 0.5); best 0.5 at epoch 2.")
    es = rl.EarlyStopping(criterion=rl.UP(2, strip=2), patience=None)
    assert stop_epoch(run(es, [1.0, 0.5, 0.6, 0.7, 0.8, 0.9])) == 5
    assert es.message == ("Stopped at epoch 6: validation error rose in 2 successive strips of 2 "
                          "epochs (0.5 -> 0.7 -> 0.9); best 0.5 at epoch 2.")
    es = rl.EarlyStopping(criterion=rl.PQ(0.5, strip=2, train_key="tr"), patience=None)
    # epoch 3: GL = 100 * (0.6 / 0.5 - 1) = 20; P_2 = 1000 * (2.2 / 2 - 1) = 100; 20/100 = 0.2
    # epoch 5: GL = 100 * (0.6 / 0.5 - 1) = 20; P_2 = 1000 * (2.02 / 2 - 1) = 10; 20/10 = 2
    assert stop_epoch(run(es, [1.0, 0.5, 0.55, 0.6, 0.6, 0.6],
                          extra={"tr": [3.0, 2.0, 1.2, 1.0, 1.02, 1.0]})) == 5
    assert es.message == ("Stopped at epoch 6: GL/P_2 = 2 exceeded alpha = 0.5 (GL = 20, "
                          "P_2 = 10); best 0.5 at epoch 2.")


def test_criteria_count_from_start_from_epoch():
    va, _ = curves(3)
    es = rl.EarlyStopping(criterion=rl.UP(2, strip=4), patience=None, start_from_epoch=7)
    expected = ref_up(va[7:], 2, 4)
    assert expected is not None and stop_epoch(run(es, va)) == expected + 7


def test_patience_still_applies_next_to_a_criterion():
    es = rl.EarlyStopping(criterion=rl.GL(50.0), patience=2)
    assert stop_epoch(run(es, [1.0, 1.01, 1.02])) == 2 and es.reason == rl.StopReason.PATIENCE


# ------------------------------------------------------------------------ best weights

def scripted_training(es, losses, model):
    """Set every weight to the epoch index, then step: the best weights are identifiable."""
    for epoch, v in enumerate(losses):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(epoch))
            model[1].running_mean.fill_(10.0 + epoch)  # buffers travel with the weights
        if es.step({"val_loss": v}, model):
            return epoch
    return None


def small_model():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_restore_best_loads_the_exact_best_weights():
    model = small_model()
    es = rl.EarlyStopping(patience=2)
    assert scripted_training(es, [0.9, 0.4, 0.6, 0.5, 0.7], model) == 3
    assert all(torch.all(p == 3.0) for p in model.parameters())
    assert es.restore(model) is True
    for name, p in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        # best epoch 1: parameters were 1.0, running_mean 11.0; running_var was never touched
        expected = 11.0 if name.endswith("running_mean") else 1.0
        assert torch.equal(p, torch.full_like(p, expected)), name


def test_best_copy_is_a_detached_cpu_clone():
    model = small_model()
    es = rl.EarlyStopping(patience=5)
    es.step({"val_loss": 1.0}, model)
    with torch.no_grad():
        model[0].weight.add_(1.0)  # an in-place update after the copy must not reach it
    saved = es.state_dict()["best_weights"]
    assert saved["0.weight"].device.type == "cpu" and not saved["0.weight"].requires_grad
    assert saved["0.weight"].data_ptr() != model[0].weight.data_ptr()
    assert torch.equal(saved["0.weight"] + 1.0, model[0].weight.detach())


def test_restore_after_training_ran_to_the_end():
    model = small_model()
    es = rl.EarlyStopping(patience=10)
    assert scripted_training(es, [0.9, 0.3, 0.6], model) is None
    es.restore(model)
    assert torch.all(model[0].weight == 1.0)


def test_restore_without_weights():
    model = small_model()
    assert rl.EarlyStopping().restore(model) is False  # nothing kept yet: model untouched
    with pytest.raises(RuntimeError, match="restore_best=True"):
        rl.EarlyStopping(restore_best=False).restore(model)
    es = rl.EarlyStopping(restore_best=False)
    es.step({"val_loss": 1.0}, model)
    assert es.state_dict()["best_weights"] is None


# ------------------------------------------------------------------------------ resume

RESUME_CASES = [
    dict(patience=3),
    dict(patience=2, min_delta=0.05, min_delta_mode="rel", baseline=0.95),
    dict(patience=4, start_from_epoch=3),
    dict(patience=None, criterion=rl.GL(3.0)),
    dict(patience=None, criterion=rl.PQ(0.1, strip=3)),
    dict(patience=None, criterion=rl.UP(2, strip=2)),
    dict(patience=20, stopping_threshold=0.33, divergence_threshold=5.0),
]


def roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("kwargs", RESUME_CASES, ids=str)
def test_resume_at_every_split_point_gives_the_same_decisions(kwargs):
    va, tr = curves(5, n=40)
    metrics = [{"val_loss": v, "train_loss": t} for v, t in zip(va, tr)]
    model = nn.Linear(2, 1)

    def go(es, items, start):
        out = []
        for i, m in enumerate(items, start):
            with torch.no_grad():
                model.weight.fill_(float(i))
            out.append(es.step(m, model))
        return out

    whole = rl.EarlyStopping(**kwargs)
    reference = go(whole, metrics, 0)
    assert True in reference  # each case really stops, so the comparison means something
    for split in range(len(metrics) + 1):
        first = rl.EarlyStopping(**kwargs)
        head = go(first, metrics[:split], 0)
        resumed = rl.EarlyStopping(**kwargs)
        resumed.load_state_dict(roundtrip(first.state_dict()))
        decisions = head + go(resumed, metrics[split:], split)
        assert decisions == reference, split
        assert (resumed.best_score, resumed.best_epoch, resumed.stopped_epoch, resumed.reason,
                resumed.message) == (whole.best_score, whole.best_epoch, whole.stopped_epoch,
                                     whole.reason, whole.message), split
        resumed.restore(model)
        assert torch.all(model.weight == float(whole.best_epoch)), split


def test_state_dict_holds_plain_types_and_tensors_only():
    es = rl.EarlyStopping(criterion=rl.PQ(1.0), patience=1)
    es.step({"val_loss": 1.0, "train_loss": 1.0}, nn.Linear(2, 1))
    es.step({"val_loss": 2.0, "train_loss": 0.9})

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return x is None or isinstance(x, (bool, int, float, str, torch.Tensor))
    state = es.state_dict()
    assert plain(state) and state["reason"] == "patience"
    with pytest.raises(rl.InvalidParameterError, match=r"^The 'state' parameter of "
                       r"EarlyStopping\.load_state_dict must be a dict from "
                       r"EarlyStopping\.state_dict\(\) \(version 1\)\. Got 'version 7' instead\.$"):
        rl.EarlyStopping().load_state_dict({**state, "version": 7})


# ------------------------------------------------------------------------- distributed

WORKER = textwrap.dedent("""
    import datetime, json, os
    import torch
    import torch.distributed as dist
    from torch import nn
    import reglab as rl
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=30))
    rank = dist.get_rank()
    # Alone, rank 0's best is epoch 1 and rank 1's epoch 2; their means (1.0, 0.75, 0.5,
    # 0.875, 0.875, exact in binary) have the best at epoch 2 and stop at epoch 4.
    losses = [1.0, 0.5, 0.75, 0.75, 0.75, 0.75] if rank == 0 else [1.0, 1.0, 0.25, 1.0, 1.0, 1.0]
    model = nn.Linear(1, 1, bias=False)
    es = rl.EarlyStopping(patience=2)
    decisions = []
    for epoch, v in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        decisions.append(es.step({"val_loss": v}, model))
        if decisions[-1]:
            break
    es.restore(model)
    print(json.dumps({"rank": rank, "decisions": decisions, "stopped_epoch": es.stopped_epoch,
                      "best": [es.best_score, es.best_epoch], "restored": model.weight.item(),
                      "reason": es.reason and es.reason.value, "message": es.message}))
    dist.destroy_process_group()
""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(60)
def test_every_rank_keeps_the_same_best_epoch_and_stops_together():
    alone = rl.EarlyStopping(patience=2)
    assert stop_epoch(run(alone, [1.0, 0.5, 0.75, 0.75, 0.75, 0.75])) == 3  # rank 0 by itself
    assert alone.best_epoch == 1
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
           "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], env={**env, "RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=50)
        finally:
            p.kill()
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    r0, r1 = sorted(outs, key=lambda o: o["rank"])
    assert r0["decisions"] == r1["decisions"] == [False, False, False, False, True]
    assert r0["stopped_epoch"] == r1["stopped_epoch"] == 4
    assert r0["best"] == r1["best"] == [0.5, 2]
    assert r0["restored"] == r1["restored"] == 2.0  # the same epoch's weights on every rank
    assert r0["reason"] == r1["reason"] == "patience"
    assert r0["message"] == r1["message"] == ("Stopped at epoch 5: val_loss did not improve by "
                                              "more than 0 for 2 epochs; best 0.5 at epoch 3.")


def test_docstring_examples_run():
    import doctest

    import reglab.early_stopping as module
    result = doctest.testmod(module, extraglobs={"rl": rl})
    assert result.attempted >= 6 and result.failed == 0
