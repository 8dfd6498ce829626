"""Early stopping: a small state machine that says when to stop training, and why.

One :meth:`EarlyStopping.step` call is one unit of patience: an epoch in the usual loop,
where the monitored metric is computed once per epoch on the validation set::

    es = rl.EarlyStopping(monitor="val_loss", patience=10)
    for epoch in range(epochs):
        train_loss = train_one_epoch(model, ...)
        val_loss = evaluate(model, ...)
        if es.step({"val_loss": val_loss, "train_loss": train_loss}, model):
            break
    es.restore(model)        # the best weights, whether it stopped early or not
    print(es.message)        # "Stopped at epoch 15: val_loss did not improve by more than 0 ..."

Besides patience, it stops on a non-finite score, on reaching ``stopping_threshold``, on
passing ``divergence_threshold``, or on one of Prechelt's criteria (:class:`GL`, :class:`PQ`,
:class:`UP`, in ``reglab.prechelt``; re-exported here). Under ``torch.distributed`` every
rank decides on the same numbers (the metrics' mean over ranks), so all keep the same best
epoch and stop together.

Reference: L. Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks of the
Trade, LNCS 1524, Springer, 1998, pp. 55-69.
"""

from __future__ import annotations

import copy
import enum
import inspect
import math
import numbers
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from reglab._epochs import shown_epoch
from reglab._validation import (
    InvalidParameterError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    fail,
)
from reglab.prechelt import (GL, PQ, UP, Criterion, _key, _num, generalization_loss,
                             training_progress)

__all__ = [
    "GL",
    "PQ",
    "UP",
    "Criterion",
    "EarlyStopping",
    "StopReason",
    "generalization_loss",
    "training_progress",
]

# doctest runs the examples of the criteria re-exported here too
__test__ = {"generalization_loss": generalization_loss, "training_progress": training_progress}

_OWNER = "EarlyStopping"
_STATE_VERSION = 1


class StopReason(str, enum.Enum):
    """Why an :class:`EarlyStopping` stopped. The values are lowercase strings."""

    PATIENCE = "patience"
    THRESHOLD = "threshold"
    DIVERGENCE = "divergence"
    NON_FINITE = "non_finite"
    CRITERION = "criterion"


# Codes for the distributed all-reduce: 0 = go on, i + 1 = stop for reason i.
_REASONS = list(StopReason)


# ----------------------------------------------------------------------------------------
# Distributed

def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _collective_device() -> torch.device:
    nccl = "nccl" in str(dist.get_backend()) and torch.cuda.is_available()
    return torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")


def _any_rank(code: int) -> int:
    """MAX of a small int over all ranks, so that a stop on any rank stops every rank.

    The identity when ``torch.distributed`` is not initialized. Every rank must call
    ``step`` the same number of times, as with any collective.
    """
    if not _distributed():
        return code
    flag = torch.tensor([code], dtype=torch.int32, device=_collective_device())
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item())


def _rank_mean(values: dict[str, float]) -> dict[str, float]:
    """The metrics every rank decides on: the mean over ranks (float64), so that every rank
    keeps the same best epoch, the same weights and makes the same decision.

    Values that are already the same on every rank (a metric the loop all-reduced itself)
    come back unchanged, bit for bit: one MAX all-reduce of ``(v, -v)`` tells; only when the
    ranks differ does a second (SUM) all-reduce average them. The identity without
    ``torch.distributed``.
    """
    if not _distributed():
        return values
    keys = list(values)
    v = torch.tensor([values[k] for k in keys], dtype=torch.float64,
                     device=_collective_device())
    spread = torch.cat([v, -v])
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    if torch.equal(spread[:len(keys)], -spread[len(keys):]):  # max == min: all ranks agree
        return values
    dist.all_reduce(v, op=dist.ReduceOp.SUM)
    v /= dist.get_world_size()
    return dict(zip(keys, v.tolist()))


def _cpu_copy(state: Mapping[str, Any]) -> dict[str, Any]:
    """Detached CPU clones of a state_dict's tensors (deep copies of anything else)."""
    return {k: v.detach().to("cpu", copy=True) if torch.is_tensor(v) else copy.deepcopy(v)
            for k, v in state.items()}


# ----------------------------------------------------------------------------------------
# The stopper

class EarlyStopping:
    """Decide, once per epoch, whether to stop training; remember the best weights.

    A step improves when, for ``mode="min"``,
    ``score < best - min_delta`` (``min_delta_mode="abs"``) or
    ``score < best - min_delta * |best|`` (``"rel"``), and symmetrically for ``"max"``.
    ``step`` returns True (stop now) at the first of, in this order of precedence:

    * ``non_finite``: the score is NaN or infinite (``check_finite``; checked even during
      the first ``start_from_epoch`` epochs, because a broken run does not recover);
    * ``threshold``: the score reached ``stopping_threshold`` (good enough);
    * ``divergence``: the score is worse than ``divergence_threshold``;
    * ``criterion``: Prechelt's :class:`GL`, :class:`PQ` or :class:`UP` fired;
    * ``patience``: ``patience`` counted epochs in a row without improvement.

    Once stopped it stays stopped: further ``step`` calls return True and change nothing
    (``reset()`` starts over).

    Under ``torch.distributed`` each ``step`` first averages the metrics it reads over the
    ranks (metrics that are already equal everywhere are used as they are), so every rank
    keeps the same best epoch and the same weights, and :meth:`restore` loads the same epoch
    on every rank; the stop flag is then all-reduced (MAX) as a safeguard, so a rank whose
    state differs (a resumed rank) still stops with the others ("another rank stopped").
    Every rank must call ``step`` once per epoch.

    Args:
        monitor: metrics key to watch (default ``"val_loss"``).
        mode: ``"min"`` (losses, errors) or ``"max"`` (accuracies).
        patience: epochs without improvement before stopping, >= 0, or None to never stop
            for that reason (e.g. to let a ``criterion`` alone decide). Default 10.
        min_delta: smallest change that counts as an improvement, >= 0. Default 0.
        min_delta_mode: ``"abs"`` (in the metric's units) or ``"rel"`` (a fraction of |best|).
        baseline: a score to beat; until a score beats it, patience runs from the start.
            As in Keras, the best score below the baseline is still tracked (``best_*``) and
            its weights are what :meth:`restore` loads.
        start_from_epoch: epochs (step calls) at the start that count for nothing: no best,
            no patience, no criterion (a warm-up). Default 0.
        restore_best: keep a CPU copy of the best weights for :meth:`restore`. Default True.
        check_finite: stop on a NaN or infinite score. Default True.
        stopping_threshold: stop as soon as the score reaches this value.
        divergence_threshold: stop as soon as the score is worse than this value.
        criterion: ``rl.GL(alpha)``, ``rl.PQ(alpha, strip)`` or ``rl.UP(s, strip)``; only
            with ``mode="min"`` (they are defined on errors).

    Attributes:
        best_score, best_epoch: best score so far and the 0-based index of its step call
            (None before any score counted).
        stopped_epoch, reason, message: where and why it stopped (None, None and a status
            sentence while running). ``stopped_epoch`` is 0-based like ``best_epoch``; the
            message counts epochs from 1, as people do (Keras prints the same).

    Example::

        >>> es = rl.EarlyStopping(patience=2)
        >>> [es.step({"val_loss": v}) for v in [1.0, 0.8, 0.9, 0.85]]
        [False, False, False, True]
        >>> es.reason, es.best_score, es.best_epoch, es.stopped_epoch
        (<StopReason.PATIENCE: 'patience'>, 0.8, 1, 3)
        >>> print(es.message)  # doctest: +NORMALIZE_WHITESPACE
        Stopped at epoch 4: val_loss did not improve by more than 0 for 2 epochs;
        best 0.8 at epoch 2.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        patience: int | None = 10,
        min_delta: float = 0.0,
        min_delta_mode: str = "abs",
        baseline: float | None = None,
        start_from_epoch: int = 0,
        restore_best: bool = True,
        check_finite: bool = True,
        stopping_threshold: float | None = None,
        divergence_threshold: float | None = None,
        criterion: Criterion | None = None,
    ):
        self.monitor = _key(_OWNER, "monitor", monitor)
        self.mode = check_choice(_OWNER, "mode", mode, ("min", "max"))
        self.patience = _optional_int("patience", patience)
        self.min_delta = check_float(_OWNER, "min_delta", min_delta, 0)
        self.min_delta_mode = check_choice(_OWNER, "min_delta_mode", min_delta_mode,
                                           ("abs", "rel"))
        self.baseline = _optional_float("baseline", baseline)
        self.start_from_epoch = check_int(_OWNER, "start_from_epoch", start_from_epoch, 0)
        self.restore_best = check_bool(_OWNER, "restore_best", restore_best)
        self.check_finite = check_bool(_OWNER, "check_finite", check_finite)
        self.stopping_threshold = _optional_float("stopping_threshold", stopping_threshold)
        self.divergence_threshold = _optional_float("divergence_threshold", divergence_threshold)
        self._check_thresholds()
        self.criterion = self._check_criterion(criterion)
        self.reset()

    # -- validation -----------------------------------------------------------------------

    def _check_thresholds(self) -> None:
        stop, div = self.stopping_threshold, self.divergence_threshold
        if stop is None or div is None or self._better(stop, div):
            return
        side = "greater" if self.mode == "min" else "less"
        raise fail(_OWNER, "divergence_threshold",
                   f"{side} than stopping_threshold={stop!r} when mode={self.mode!r}", div)

    def _check_criterion(self, criterion: Any) -> Criterion | None:
        if criterion is not None and not isinstance(criterion, Criterion):
            raise fail(_OWNER, "criterion", "None or a criterion (rl.GL, rl.PQ or rl.UP)",
                       criterion)
        if criterion is not None and self.mode != "min":
            raise fail(_OWNER, "criterion", "None when mode='max' (Prechelt's criteria are "
                       "defined on errors, to be minimized)", criterion)
        return criterion

    # -- state ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything seen so far (keeps the settings)."""
        self._epoch = 0  # step calls so far; the next step call is epoch self._epoch
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0  # counted epochs since the last improvement
        self.stopped_epoch: int | None = None
        self.reason: StopReason | None = None
        self._stop_message = ""
        self._best_weights: dict[str, Any] | None = None
        self._criterion_state = self.criterion.init() if self.criterion else None

    @property
    def stopped(self) -> bool:
        """True once a step returned True."""
        return self.stopped_epoch is not None

    @property
    def message(self) -> str:
        """One sentence with the numbers: why it stopped, or where it stands."""
        if self.stopped:
            return self._stop_message
        if self._epoch == 0:
            return "Not stopped: no epochs seen yet."
        patience = "" if self.patience is None else f" (patience {self.patience})"
        return (f"Not stopped after {self._epoch} epochs{self._best_clause()}; {self.wait} "
                f"epochs without improvement{patience}.")

    # -- the decision ---------------------------------------------------------------------

    def step(self, metrics: Mapping[str, Any], model: nn.Module | None = None) -> bool:
        """Take one epoch's metrics; return True if training should stop now.

        One call is one unit of patience (one epoch in the usual loop). With ``model`` and
        ``restore_best``, a CPU copy of its ``state_dict`` is kept at each improvement.

        Args:
            metrics: a mapping with the ``monitor`` key (and a criterion's keys, e.g.
                ``"train_loss"`` for :class:`PQ`); values are numbers or 0-dim tensors.
            model: the model whose best weights to keep (optional).
        """
        if self.stopped:
            return True
        values = _rank_mean(self._read(metrics))
        epoch = self._epoch
        self._epoch += 1
        local = self._decide(epoch, values, model)
        code = _any_rank(0 if local is None else _REASONS.index(local[0]) + 1)
        if code and local is None:  # this rank would go on, but another one stopped
            reason = _REASONS[code - 1]
            local = reason, f"another rank stopped ({reason.value})"
        if code:
            self._stop(epoch, *local)
        return bool(code)

    def _read(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """The needed values as floats, all checked before any state changes."""
        if not isinstance(metrics, Mapping):
            raise fail(f"{_OWNER}.step", "metrics", "a mapping of metric names to numbers",
                       metrics)
        keys = (self.monitor, *(self.criterion.keys if self.criterion else ()))
        return {key: self._value(metrics, key) for key in keys}

    def _value(self, metrics: Mapping[str, Any], key: str) -> float:
        owner = f"{_OWNER}.step"
        if key not in metrics:
            raise InvalidParameterError(
                f"The 'metrics' parameter of {owner} must contain the key {key!r}. "
                f"Got keys {sorted(map(str, metrics))!r} instead.")
        try:
            value = float(metrics[key])
        except (TypeError, ValueError, RuntimeError):
            raise fail(owner, "metrics", f"a mapping whose {key!r} is a number",
                       metrics[key]) from None
        if self.criterion is not None and self.criterion.errors_only and value < 0:
            raise fail(owner, "metrics", f"a mapping whose {key!r} is a non-negative error for "
                       f"{self.criterion!r}", value)
        return value

    def _decide(self, epoch: int, values: dict[str, float], model: nn.Module | None
                ) -> tuple[StopReason, str] | None:
        """Update the state with one epoch; return (reason, clause) to stop, else None."""
        score = values[self.monitor]
        if self.check_finite and not math.isfinite(score):
            return StopReason.NON_FINITE, f"{self.monitor} is {score} (not finite)"
        if epoch < self.start_from_epoch:
            return None
        improved = self._improves(score, self.best_score)
        if improved:  # the best seen is tracked (and its weights kept) even below a baseline
            self.best_score, self.best_epoch = score, epoch
            if self.restore_best and model is not None:
                self._best_weights = _cpu_copy(model.state_dict())
        # patience restarts only on a score that beats the best so far and the baseline
        reset = improved and (self.baseline is None or self._improves(score, self.baseline))
        self.wait = 0 if reset else self.wait + 1
        if self.stopping_threshold is not None and not self._better(self.stopping_threshold,
                                                                    score):
            return StopReason.THRESHOLD, (f"{self.monitor} {_num(score)} reached the stopping "
                                          f"threshold {_num(self.stopping_threshold)}")
        if self.divergence_threshold is not None and self._better(self.divergence_threshold,
                                                                  score):
            return StopReason.DIVERGENCE, (f"{self.monitor} {_num(score)} is worse than the "
                                           f"divergence threshold "
                                           f"{_num(self.divergence_threshold)}")
        if self.criterion is not None:
            clause = self.criterion.update(self._criterion_state, score, values)
            if clause:
                return StopReason.CRITERION, clause
        if not reset and self.patience is not None and self.wait >= self.patience:
            return StopReason.PATIENCE, self._patience_clause()
        return None

    def _better(self, a: float, b: float) -> bool:
        """Strictly better in this mode (no min_delta)."""
        return a < b if self.mode == "min" else a > b

    def _improves(self, score: float, ref: float | None) -> bool:
        """``score`` better than ``ref`` by more than min_delta (any number beats None)."""
        if ref is None:
            return not math.isnan(score)
        if math.isinf(ref):  # only with check_finite=False; a relative delta would be nan
            return self._better(score, ref)
        delta = self.min_delta if self.min_delta_mode == "abs" else self.min_delta * abs(ref)
        return score < ref - delta if self.mode == "min" else score > ref + delta

    def _delta_text(self) -> str:
        if self.min_delta_mode == "rel":
            return f"{100 * self.min_delta:g}%"
        return f"{self.min_delta:g}"

    def _patience_clause(self) -> str:
        epochs = f"{self.wait} epoch{'s' if self.wait != 1 else ''}"
        if self.baseline is not None and not (self.best_score is not None
                                              and self._improves(self.best_score, self.baseline)):
            return (f"{self.monitor} did not beat the baseline {_num(self.baseline)} by more "
                    f"than {self._delta_text()} in {epochs}")
        return f"{self.monitor} did not improve by more than {self._delta_text()} for {epochs}"

    def _best_clause(self) -> str:
        if self.best_score is None:
            return "; no best score yet"
        return f"; best {_num(self.best_score)} at epoch {shown_epoch(self.best_epoch)}"

    def _stop(self, epoch: int, reason: StopReason, clause: str) -> None:
        self.stopped_epoch, self.reason = epoch, reason
        self._stop_message = (f"Stopped at epoch {shown_epoch(epoch)}: "
                              f"{clause}{self._best_clause()}.")

    # -- weights --------------------------------------------------------------------------

    def restore(self, model: nn.Module) -> bool:
        """Load the best weights seen into ``model``; return False if none were kept yet.

        Works whether training stopped early or ran to the end. Needs ``restore_best=True``
        and ``model`` passed to :meth:`step`.
        """
        if not self.restore_best:
            raise RuntimeError("EarlyStopping.restore needs restore_best=True; no weights "
                               "were kept.")
        if self._best_weights is None:
            return False
        model.load_state_dict(self._best_weights)
        return True

    # -- persistence ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: plain Python types, and tensors for the best weights.

        Safe for ``torch.save`` / ``torch.load(..., weights_only=True)``.
        """
        return {
            "version": _STATE_VERSION,
            "epoch": self._epoch,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "reason": None if self.reason is None else self.reason.value,
            "stop_message": self._stop_message,
            "criterion_state": copy.deepcopy(self._criterion_state),
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`; later decisions match an uninterrupted run."""
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise fail(f"{_OWNER}.load_state_dict", "state",
                       f"a dict from EarlyStopping.state_dict() (version {_STATE_VERSION})",
                       type(state).__name__ if not isinstance(state, Mapping) else
                       f"version {state.get('version')!r}")
        self._epoch, self.wait = int(state["epoch"]), int(state["wait"])
        self.best_score, self.best_epoch = state["best_score"], state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        self.reason = None if state["reason"] is None else StopReason(state["reason"])
        self._stop_message = state["stop_message"]
        crit = state["criterion_state"]
        if self.criterion is not None:  # a state saved without a criterion starts it fresh
            fresh = crit is None
            self._criterion_state = self.criterion.init() if fresh else copy.deepcopy(crit)
        weights = state["best_weights"]
        self._best_weights = None if weights is None else _cpu_copy(weights)

    def __repr__(self) -> str:
        params = list(inspect.signature(EarlyStopping.__init__).parameters.values())[1:]
        shown = [f"{p.name}={getattr(self, p.name)!r}" for p in params
                 if p.name in ("monitor", "mode", "patience") or getattr(self, p.name) != p.default]
        return f"EarlyStopping({', '.join(shown)})"


def _optional_float(name: str, value: Any) -> float | None:
    return None if value is None else check_float(_OWNER, name, value, extra=" or None")


def _optional_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise fail(_OWNER, name, "an int in the range [0, inf) or None", value)
    return int(value)
