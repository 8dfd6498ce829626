"""The training loop on tiny data: every arm runs, records its metrics, and does what it says."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from lab_tiny import tiny
from reglab.train.sequential import evaluate, fit, train_one_epoch
from reglab.train.models import build_model
from reglab.lab.spec import RunSpec

EPOCH_KEYS = {"data_loss", "penalty", "train_acc", "val_loss", "val_acc", "sparsity",
              "weight_norm", "lr", "seconds"}
FINAL_KEYS = {"train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "gap",
              "sparsity", "weight_norm", "epochs_trained", "best_epoch", "seconds"}
BASE = RunSpec(data="tiny", hidden=(16,), epochs=4, batch_size=8, seed=3)
ARMS = {
    "none": {},
    "l1": {"proximal_l1": 3.0},
    "l1_loss_term": {"l1": 1e-3},
    "l2": {"l2": 1e-2},
    "weight_decay": {"weight_decay": 0.5},
    "dropout": {"dropout": 0.3},
    "early_stopping": {"patience": 1},
    "augment": {"augment": ("rotate", "noise")},
    "mixup_cutmix": {"mixup": 0.2, "cutmix": 1.0},
    "all": {"l2": 1e-3, "dropout": 0.2, "patience": 2, "augment": ("translate",)},
}


@pytest.fixture(scope="module")
def data():
    return tiny("image")


@pytest.fixture(scope="module")
def results(data):
    return {arm: fit(BASE.replace(**ch), data) for arm, ch in ARMS.items()}


@pytest.mark.parametrize("arm", list(ARMS))
def test_every_arm_runs_and_records_every_metric(results, arm):
    r = results[arm]
    assert r.status == "done", r.reason
    assert 1 <= len(r.epochs) <= BASE.epochs
    for row in r.epochs:
        assert set(row) == EPOCH_KEYS
        assert all(math.isfinite(v) for v in row.values())
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["sparsity"] <= 1
    assert set(r.final) == FINAL_KEYS
    assert r.final["epochs_trained"] == len(r.epochs)
    assert r.final["gap"] == pytest.approx(r.final["train_acc"] - r.final["test_acc"])
    assert r.state is not None


def test_penalty_is_recorded_only_with_a_loss_term(results):
    assert all(row["penalty"] == 0 for row in results["none"].epochs)
    assert all(row["penalty"] > 0 for row in results["l2"].epochs)


def test_proximal_l1_gives_exact_zeros_and_the_others_do_not(results):
    assert results["l1"].final["sparsity"] > 0.2
    assert results["none"].final["sparsity"] == 0
    assert results["l2"].final["sparsity"] == 0


def test_l2_and_decay_shrink_the_weights_against_the_same_seed(results):
    assert results["l2"].final["weight_norm"] < results["none"].final["weight_norm"]
    assert results["weight_decay"].final["weight_norm"] < results["none"].final["weight_norm"]


def test_early_stopping_restores_the_best_epoch(data, results):
    r = results["early_stopping"]
    best = min(range(len(r.epochs)), key=lambda i: r.epochs[i]["val_loss"])
    assert r.final["best_epoch"] == best
    assert r.final["val_loss"] == pytest.approx(r.epochs[best]["val_loss"], rel=1e-5)


def test_test_metrics_come_from_the_returned_weights(data, results):
    r = results["none"]
    model = build_model(BASE, "image", (1, 8, 8), 3)
    model.load_state_dict(r.state)
    loss, acc = evaluate(model, data.test.X, data.test.y)
    assert (loss, acc) == pytest.approx((r.final["test_loss"], r.final["test_acc"]))


def test_same_spec_gives_identical_numbers(data, results):
    again = fit(BASE.replace(**ARMS["augment"]), data)
    strip = lambda rows: [{k: v for k, v in e.items() if k != "seconds"} for e in rows]  # noqa
    assert strip(again.epochs) == strip(results["augment"].epochs)


def test_huge_lr_ends_as_diverged_with_its_reason(data):
    r = fit(BASE.replace(optimizer="sgd", lr=1e12, epochs=5), data)
    assert r.status == "diverged"
    assert "non-finite" in r.reason and "epoch" in r.reason
    assert r.state is None and math.isnan(r.final["test_acc"])


def test_one_epoch_equals_a_hand_written_slicing_loop(data):
    """Reference: the plain loop users write by hand, same init, same permutation."""
    torch.manual_seed(0)
    model = build_model(BASE, "image", (1, 8, 8), 3)
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    X, y = data.train.X, data.train.y
    sums = train_one_epoch(model, X, y, opt, batch_size=8, num_classes=3,
                           generator=torch.Generator().manual_seed(7))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(7))
    total = 0.0
    for i in range(0, len(y), 8):
        idx = perm[i:i + 8]
        loss = F.cross_entropy(ref(X[idx]), y[idx])
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
        total += float(loss.detach()) * len(idx)
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)
    assert float(sums["data_loss"]) == pytest.approx(total / len(y), rel=1e-5)


@pytest.mark.parametrize("kind", ["signal", "tabular"])
def test_signal_and_tabular_runs(kind):
    aug = {"signal": ("shift", "noise"), "tabular": ("noise",)}[kind]
    r = fit(BASE.replace(augment=aug, l2=1e-3, patience=2), tiny(kind))
    assert r.status == "done" and len(r.epochs) >= 1
