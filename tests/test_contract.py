"""The contract of a run (reglab.train.contract): one rule for every backend.

Unit tests drive :class:`RunState` with scripted lists of metrics (as Lightning's tests drive
its early stopping with a plain list of losses). Then the same scripted failures, run by the
plain loop, the stacked engine and DDP (2 gloo processes), must end with the same reason text
and the same :class:`StopReason`.
"""

from __future__ import annotations

import math

import pytest
import torch

import reglab as rl
from lab_tiny import float64_copy, tiny
from reglab.lab import store
from reglab.lab.spec import RunSpec
from reglab.train.contract import (EPOCH_KEYS, FINAL_KEYS, SCORE_KEYS, RunState, StopReason,
                                   denormals_flushed, divergence, epoch_keys, epoch_row,
                                   final_keys)
from reglab.train.ddp import fit_distributed
from reglab.train.sequential import fit
from reglab.train.stacked import train_chunk


def _row(val_loss: float, data_loss: float = 0.5) -> dict[str, float]:
    return epoch_row(data_loss=data_loss, penalty=0.0, train_acc=0.5, val_loss=val_loss,
                     val_acc=0.5, sparsity=0.0, weight_norm=1.0, lr=0.1, seconds=0.0)


def _drive(run: RunState, val_losses, data_losses=None) -> list[bool]:
    """after_epoch on each scripted epoch until it says stop; the keep_now flags seen."""
    kept = []
    for e, v in enumerate(val_losses):
        stop = run.after_epoch(_row(v, 0.5 if data_losses is None else data_losses[e]))
        kept.append(run.keep_now)
        if stop:
            break
    return kept


SCORES = {"train_loss": 0.1, "train_acc": 0.9, "val_loss": 0.2, "val_acc": 0.8,
          "test_loss": 0.3, "test_acc": 0.75}


# -- the contract alone, on scripted metrics -----------------------------------------------

def test_the_store_columns_are_the_epoch_row():
    assert store.EPOCH_COLUMNS == EPOCH_KEYS
    assert tuple(_row(1.0)) == epoch_keys("classification")
    assert set(epoch_keys("classification")) | set(epoch_keys("regression")) == set(EPOCH_KEYS)
    assert final_keys("classification") == FINAL_KEYS
    with pytest.raises(ValueError, match="an epoch row has the keys"):
        epoch_row(data_loss=1.0)
    with pytest.raises(ValueError, match="an epoch row has the keys"):  # one task's keys only
        epoch_row(**_row(1.0), val_rmse=1.0, val_mae=1.0, val_r2=0.0)


def test_without_early_stopping_the_run_keeps_its_last_weights():
    run = RunState(3)
    assert _drive(run, [1.0, 0.5, 0.7, 0.1]) == [False, False, True]
    assert run.stop is StopReason.MAX_EPOCHS and run.status == "done"
    assert run.reason == "reached the maximum of 3 epochs"
    assert not run.restores_best and run.best_epoch == 2
    res = run.finish(SCORES, 0.0, 1.0, 5.0, {"w": torch.ones(1)})
    assert tuple(res.final) == FINAL_KEYS
    assert res.final["gap"] == 0.9 - 0.75
    assert (res.final["epochs_trained"], res.final["best_epoch"]) == (3, 2)
    assert res.state is not None and res.stop is StopReason.MAX_EPOCHS


def test_early_stop_keeps_the_best_epoch_and_says_why():
    run = RunState(10, rl.EarlyStopping(patience=2))
    # improvements at epochs 0 and 1 are kept; patience runs out at epoch 3
    assert _drive(run, [1.0, 0.8, 0.9, 0.85, 0.1]) == [True, True, False, False]
    assert run.stop is StopReason.EARLY_STOPPING
    assert run.reason == ("early stopping: Stopped at epoch 4: val_loss did not improve by more "
                          "than 0 for 2 epochs; best 0.8 at epoch 2.")
    assert run.restores_best and run.best_epoch == 1
    res = run.finish(SCORES, 0.0, 1.0, 1.0, {})
    assert (res.status, res.final["best_epoch"], res.final["epochs_trained"]) == ("done", 1, 4)


def test_reaching_the_maximum_with_early_stopping_restores_the_best():
    run = RunState(3, rl.EarlyStopping(patience=5))
    assert _drive(run, [1.0, 0.5, 0.7]) == [True, True, False]  # epoch 2 is not kept
    assert run.stop is StopReason.MAX_EPOCHS
    assert run.reason == "reached the maximum of 3 epochs; restored the best weights of epoch 2"
    assert run.best_epoch == 1


@pytest.mark.parametrize("data_loss, val_loss, text", [
    (math.nan, 0.5, "diverged: the training loss became non-finite (nan) at epoch 3"),
    (0.5, math.inf, "diverged: the validation loss became non-finite (inf) at epoch 3"),
    (math.inf, math.nan, "diverged: the training loss became non-finite (inf) at epoch 3"),
])
def test_a_non_finite_loss_diverges_with_one_message(data_loss, val_loss, text):
    es = rl.EarlyStopping(patience=1)
    run = RunState(10, es)
    kept = _drive(run, [1.0, 0.9, val_loss, 0.1], [0.5, 0.5, data_loss, 0.5])
    assert kept == [True, True, True]  # the diverged weights are the run's (for their stats)
    assert run.stop is StopReason.DIVERGED and run.status == "diverged"
    assert run.reason == text == divergence(run.epochs[-1], 2)
    assert es.best_epoch == 1 and not run.restores_best and run.best_epoch == 2
    res = run.finish(SCORES, 0.25, 3.0, 1.0, {"w": torch.ones(1)})
    assert res.state is None and res.stop is StopReason.DIVERGED
    assert all(math.isnan(res.final[k]) for k in (*SCORE_KEYS, "gap"))
    assert (res.final["sparsity"], res.final["weight_norm"]) == (0.25, 3.0)


def test_divergence_wins_over_the_early_stop_and_the_epoch_limit():
    run = RunState(1, rl.EarlyStopping(patience=0))
    assert run.after_epoch(_row(math.nan)) and run.stop is StopReason.DIVERGED


# -- the same scripted failures through every backend --------------------------------------



BASE = RunSpec(data="tiny", model="mlp", hidden=(8,), batch_size=16)
SCRIPTED = {  # spec, the stop every backend must report, the start of its reason
    "diverges": (BASE.replace(optimizer="sgd", lr=1e200, epochs=4), StopReason.DIVERGED,
                 "diverged: the training loss became non-finite"),
    "stops_early": (BASE.replace(optimizer="adam", lr=0.3, epochs=12, patience=1),
                    StopReason.EARLY_STOPPING, "early stopping: Stopped at epoch"),
}


def _reference(case: str):
    spec, stop, start = SCRIPTED[case]
    data = float64_copy(tiny("tabular", n=48, seed=0))
    seq = fit(spec, data)
    assert seq.reason.startswith(start), seq.reason
    assert seq.stop is stop
    return spec, data, seq


def _same_end(res, seq) -> None:
    assert (res.status, res.stop, res.reason) == (seq.status, seq.stop, seq.reason)
    assert res.final["best_epoch"] == seq.final["best_epoch"]
    assert res.final["epochs_trained"] == seq.final["epochs_trained"]


@pytest.mark.parametrize("case", list(SCRIPTED))
def test_the_stacked_engine_ends_a_run_as_the_loop_does(float64, case):
    spec, data, seq = _reference(case)
    # alone, and as one member among others that run on (its own state, its own end)
    other = BASE.replace(optimizer=spec.optimizer, lr=0.05, epochs=spec.epochs, seed=5)
    for res in (train_chunk([spec], [data])[0], train_chunk([other, spec], [data] * 2)[1]):
        _same_end(res, seq)


@pytest.mark.slow  # ~10 s per case on 2 busy cores: two spawned processes import torch
@pytest.mark.parametrize("case", list(SCRIPTED))
def test_ddp_ends_a_run_as_the_loop_does(float64, case):
    spec, data, seq = _reference(case)
    torch.set_default_dtype(torch.float32)  # the ranks take float64 from the data
    _same_end(fit_distributed(spec, data, nproc=2, timeout=120), seq)


def test_training_flushes_subnormals_and_restores_the_callers_setting():
    """Inside every backend's training a subnormal float32 is 0 (FTZ/DAZ); before and after,
    the caller's setting holds, whichever it was."""
    sub = torch.tensor(1e-39, dtype=torch.float32)  # subnormal: below finfo.tiny
    assert 0 < sub.item() < torch.finfo(torch.float32).tiny
    seen = []

    @denormals_flushed()
    def train():
        seen.append(sub.mul(1.0).item())
        with denormals_flushed():  # nested: still flushed after the inner one ends
            pass
        seen.append(sub.mul(1.0).item())

    train()
    assert seen == [0.0, 0.0]
    assert sub.mul(1.0).item() > 0  # the default (off) is back
    torch.set_flush_denormal(True)
    try:
        train()
        assert sub.mul(1.0).item() == 0.0  # a caller's own "on" is kept
    finally:
        torch.set_flush_denormal(False)
    data, spec = tiny("image", n=32), RunSpec(hidden=(8,), epochs=2, seed=0)
    inside = []
    fit(spec, data, on_epoch=lambda epoch, row: inside.append(sub.mul(1.0).item()))
    train_chunk([spec, spec.replace(seed=1)], [data, data],
                on_epoch=lambda k, epoch, row: inside.append(sub.mul(1.0).item()))
    assert inside == [0.0] * 6 and sub.mul(1.0).item() > 0
