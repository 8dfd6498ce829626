"""The contract of a run: what a run *is*, decided here once for every backend.

The plain loop (``sequential``), the stacked engine (``stacked``, one :class:`RunState` per
member) and DDP (``ddp``, the same state on every rank) compute; this module decides:

* the epoch row: :data:`EPOCH_KEYS` (the store's columns are derived from it);
* divergence: a non-finite training or validation loss ends the run, with one message;
* the early stop (``EarlyStopping.step`` on validation loss) and which weights the run keeps
  (the best epoch's when early stopping saw one, else the last), typed by :class:`StopReason`;
* the final metrics: :func:`final_keys` of the run's task (:data:`FINAL_KEYS` for
  classification), NaN scores for a run that is not done, the gap (:func:`gap`);
* the arithmetic: every backend trains under :func:`denormals_flushed` (subnormal floats
  are 0 on the CPU), so a run's numbers and its speed do not depend on the caller's setting.

Example::

    run = RunState(spec.epochs, make_early_stopping(spec))
    for epoch in range(spec.epochs):
        row = epoch_row(...)
        if run.after_epoch(row, model):
            break
    if run.restores_best:
        run.restore(model)
    result = run.finish(scores, sparsity, weight_norm, seconds, state)
"""

from __future__ import annotations

import contextlib
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from reglab._epochs import shown_epoch

__all__ = ["EPOCH_KEYS", "SCORE_KEYS", "FINAL_KEYS", "TASK_KEYS", "StopReason", "RunResult",
           "RunState", "epoch_row", "divergence", "epoch_keys", "score_keys", "final_keys",
           "gap", "denormals_flushed"]

# One row per epoch: mean data loss and penalty over the training batches, train accuracy
# (on the batches as seen), validation loss and accuracy, the weights' sparsity (fraction of
# exact zeros) and L2 norm, the learning rate and the epoch's seconds; for a regression run
# the validation RMSE, MAE (both in the target's units) and R^2 instead of the accuracies.
# A run's rows (and final metrics) hold its task's keys only; the store's columns are every
# key, and a key of the other task's is NULL there, empty in a CSV, absent when read back.
EPOCH_KEYS = ("data_loss", "penalty", "train_acc", "val_loss", "val_acc", "sparsity",
              "weight_norm", "lr", "seconds", "val_rmse", "val_mae", "val_r2")
# The epoch keys that only one task has (the rest are every run's).
TASK_KEYS = {"classification": ("train_acc", "val_acc"),
             "regression": ("val_rmse", "val_mae", "val_r2")}
# Scores of the kept weights on each split (NaN when the run is not done). The loss is the
# training objective's data term: cross-entropy, or the MSE of the standardized target.
SCORE_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
REGRESSION_SCORE_KEYS = tuple(f"{part}_{m}" for part in ("train", "val", "test")
                              for m in ("loss", "rmse", "mae", "r2"))
_RUN_KEYS = ("gap", "sparsity", "weight_norm", "epochs_trained", "best_epoch", "seconds")
FINAL_KEYS = (*SCORE_KEYS, *_RUN_KEYS)


def epoch_keys(task: str = "classification") -> tuple[str, ...]:
    """The epoch keys that apply to ``task`` (the others are NaN in its rows)."""
    other = [k for t, keys in TASK_KEYS.items() if t != task for k in keys]
    return tuple(k for k in EPOCH_KEYS if k not in other)


def score_keys(task: str = "classification") -> tuple[str, ...]:
    """The split scores of a ``task`` run: loss and accuracy, or loss, RMSE, MAE and R^2."""
    return REGRESSION_SCORE_KEYS if task == "regression" else SCORE_KEYS


def final_keys(task: str = "classification") -> tuple[str, ...]:
    """A ``task`` run's final metrics: exactly these keys (a key of the other task's is not
    there: read it with ``final.get(key, nan)``)."""
    return (*score_keys(task), *_RUN_KEYS)


def gap(final: Mapping[str, float], task: str = "classification") -> float:
    """The generalization gap, positive when the model does better on train than on test:
    ``train_acc - test_acc``, or for regression ``test_rmse - train_rmse`` (target units)."""
    if task == "regression":
        return final["test_rmse"] - final["train_rmse"]
    return final["train_acc"] - final["test_acc"]


class StopReason(enum.Enum):
    """Why a run ended (the run's, not ``EarlyStopping``'s own ``reglab.StopReason``)."""

    MAX_EPOCHS = "max_epochs"  # ran every epoch of the spec
    EARLY_STOPPING = "early_stopping"  # EarlyStopping said stop
    DIVERGED = "diverged"  # a loss became non-finite


@dataclass
class RunResult:
    """What one run produced: status, why it stopped, per-epoch and final metrics, weights."""

    status: str  # "done" or "diverged"
    reason: str
    epochs: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    state: dict[str, torch.Tensor] | None = None
    stop: StopReason | None = None


def epoch_row(**values: float) -> dict[str, float]:
    """One epoch's row: exactly one task's :func:`epoch_keys` (in that order) as floats."""
    if not any(set(values) == set(epoch_keys(t)) for t in TASK_KEYS):
        raise ValueError(f"an epoch row has the keys {epoch_keys()} (classification) or "
                         f"{epoch_keys('regression')} (regression); got {tuple(values)}")
    return {k: float(values[k]) for k in EPOCH_KEYS if k in values}


def divergence(row: Mapping[str, float], epoch: int) -> str | None:
    """The divergence rule: the message if the training or validation loss is not finite.

    ``epoch`` is the 0-based index of the row; the message counts from 1 (``shown_epoch``)."""
    for bad, key in (("training", "data_loss"), ("validation", "val_loss")):
        if not math.isfinite(row[key]):
            return (f"diverged: the {bad} loss became non-finite ({row[key]}) at epoch "
                    f"{shown_epoch(epoch)}")
    return None


class RunState:
    """One run's progress and outcome; every backend calls it once per epoch.

    Args:
        max_epochs: the spec's epochs.
        stopper: an ``rl.EarlyStopping`` on validation loss, or None.
        task: "classification" or "regression" (which final keys the run has).

    Attributes:
        epochs: the rows so far. stop: a :class:`StopReason` once ended, else None.
        reason: one sentence, why it ended. keep_now: after :meth:`after_epoch`, whether the
            current weights are (for now) the ones the run keeps, for a backend that keeps
            its own copy instead of passing the model (the stacked engine).
    """

    def __init__(self, max_epochs: int, stopper: Any = None, task: str = "classification"):
        self.max_epochs, self.stopper, self.task = int(max_epochs), stopper, task
        self.epochs: list[dict[str, float]] = []
        self.stop: StopReason | None = None
        self.reason = ""
        self.keep_now = False

    @property
    def status(self) -> str:
        return "diverged" if self.stop is StopReason.DIVERGED else "done"

    @property
    def ended(self) -> bool:
        return self.stop is not None

    def after_epoch(self, row: Mapping[str, float], model: nn.Module | None = None) -> bool:
        """Record one epoch's row; return True when the run ends now.

        In order: divergence, then the early stop, then the epoch limit. ``model``, when given,
        is what EarlyStopping copies at each improvement (the loop, DDP).
        """
        epoch = len(self.epochs)
        self.epochs.append(dict(row))
        self.keep_now = False
        message = divergence(row, epoch)
        if message is not None:
            return self._end(StopReason.DIVERGED, message)
        es = self.stopper
        if es is not None:
            stop = es.step({"val_loss": row["val_loss"], "val_acc": row.get("val_acc", math.nan),
                            "train_loss": row["data_loss"]}, model)
            self.keep_now = es.best_epoch == epoch  # improved now
            if stop:
                return self._end(StopReason.EARLY_STOPPING, f"early stopping: {es.message}")
        if len(self.epochs) >= self.max_epochs:
            return self._end(StopReason.MAX_EPOCHS, self._limit_reason())
        return False

    def _limit_reason(self) -> str:
        reason = f"reached the maximum of {self.max_epochs} epochs"
        if self.restores_best:
            reason += f"; restored the best weights of epoch {shown_epoch(self.best_epoch)}"
        return reason

    def _end(self, stop: StopReason, reason: str) -> bool:
        self.stop, self.reason = stop, reason
        if not self.restores_best:  # the last weights are the run's
            self.keep_now = True
        return True

    @property
    def restores_best(self) -> bool:
        """The restore decision: a run that is not diverged keeps early stopping's best
        weights when it saw a best epoch; otherwise the run keeps its last weights."""
        es = self.stopper
        return self.status == "done" and es is not None and es.best_epoch is not None

    @property
    def best_epoch(self) -> int:
        """The epoch whose weights the run keeps (0-based, as stored; reasons show it 1-based)."""
        return int(self.stopper.best_epoch) if self.restores_best else len(self.epochs) - 1

    def restore(self, model: nn.Module) -> None:
        """Load the kept weights into ``model`` (EarlyStopping's copy; no-op when last)."""
        if self.restores_best:
            self.stopper.restore(model)

    def finish(self, scores: Mapping[str, float] | None, sparsity: float, weight_norm: float,
               seconds: float, state: dict[str, torch.Tensor] | None) -> RunResult:
        """The RunResult: final metrics (NaN scores unless done), weights only when done.

        Args:
            scores: :func:`score_keys` of the kept weights (None, or ignored, if not done).
            sparsity, weight_norm: of the kept weights.
            seconds: the run's wall time.
            state: the kept weights (dropped unless done).
        """
        if self.stop is None:  # no epoch asked to end it (max_epochs 0): it ran them all
            self._end(StopReason.MAX_EPOCHS, self._limit_reason())
        done = self.status == "done"
        final = {k: float(scores[k]) if done else math.nan for k in score_keys(self.task)}
        final["gap"] = gap(final, self.task)
        final.update(sparsity=sparsity, weight_norm=weight_norm,
                     epochs_trained=len(self.epochs), best_epoch=self.best_epoch,
                     seconds=seconds)
        return RunResult(self.status, self.reason, self.epochs, final,
                         state if done else None, self.stop)


def _flushing() -> bool:
    """Whether this thread treats subnormal floats as 0 now (torch has no getter)."""
    return torch.tensor(1e-39, dtype=torch.float32).mul(1.0).item() == 0.0


@contextlib.contextmanager
def denormals_flushed():
    """Train with subnormal floats flushed to 0 on the CPU (x86 FTZ/DAZ through
    ``torch.set_flush_denormal``; a no-op where the CPU cannot), restoring the caller's
    setting after; also a decorator.

    Why: weights of units that no longer get a data gradient decay towards 0 under an L2
    term or weight decay, through the subnormal range (< 1.2e-38 in float32), and a CPU GEMM
    with subnormal operands takes its slow path: a (3, 128, 512) x (3, 512, 512) ``baddbmm``
    with 30% subnormal weights took 245 ms against 1.4 ms (180x) here, and the mnist1d
    ``all`` arm slowed from 0.2 to ~1 s per member-epoch late in its 200 epochs. Flushed,
    such a value is exactly 0, where it was decaying to. Every backend
    (``fit``, the stacked engine, DDP) trains under it, so results do not depend on the
    caller's setting.
    """
    before = _flushing()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
