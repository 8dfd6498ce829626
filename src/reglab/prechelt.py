"""Prechelt's early-stopping criteria: GL, PQ and UP, and the quantities they are built on.

Pass one as ``rl.EarlyStopping(criterion=...)``. Each criterion is an immutable
configuration; its running state is a plain ``dict`` that the :class:`EarlyStopping` owns
and saves, so one criterion object may serve several stoppers.

Reference: L. Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks of the
Trade, LNCS 1524, Springer, 1998, pp. 55-69.

Example::

    es = rl.EarlyStopping(criterion=rl.GL(alpha=5.0), patience=None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reglab._validation import check_float, check_int, fail

__all__ = ["GL", "PQ", "UP", "Criterion", "generalization_loss", "training_progress"]


def _num(x: float) -> str:
    """A score as it appears in messages: 4 significant digits."""
    return f"{x:.4g}"


def _key(owner: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise fail(owner, name, "a non-empty str", value)
    return value


def generalization_loss(e_va: float, e_opt: float) -> float:
    """Prechelt's generalization loss in percent: ``GL(t) = 100 * (E_va(t) / E_opt(t) - 1)``.

    ``E_opt(t)`` is the lowest validation error up to epoch ``t``. With ``E_opt = 0`` the
    ratio is taken as 0 if ``E_va`` is 0 too, else infinite.

    Example::

        >>> generalization_loss(0.55, 0.5)
        10.000000000000009
    """
    if e_opt == 0.0:
        return 0.0 if e_va == 0.0 else math.inf
    return 100.0 * (e_va / e_opt - 1.0)


def training_progress(strip: list[float]) -> float:
    """Prechelt's training progress over a strip of ``k`` epochs, in per mille.

    ``P_k(t) = 1000 * (sum_{t'=t-k+1..t} E_tr(t') / (k * min_{t'=t-k+1..t} E_tr(t')) - 1)``:
    how much larger the strip's mean training error is than its minimum. Large while
    training error still falls fast, near 0 once it has flattened.

    Example::

        >>> training_progress([1.0, 1.0, 1.0])
        0.0
    """
    k, low = len(strip), min(strip)
    if low == 0.0:
        return 0.0 if sum(strip) == 0.0 else math.inf
    return 1000.0 * (sum(strip) / (k * low) - 1.0)


class Criterion:
    """A stopping criterion of Prechelt (1998); pass one as ``EarlyStopping(criterion=...)``.

    A criterion is an immutable configuration; its running state is a plain ``dict``
    (``init()``) that the :class:`EarlyStopping` owns, updates and saves in its
    ``state_dict``, so one criterion object may serve several stoppers.
    """

    keys: tuple[str, ...] = ()  # metrics it reads besides the monitored one
    errors_only: bool = True  # defined on errors (ratios), so values must be >= 0

    def init(self) -> dict[str, Any]:
        """A fresh state (plain Python types only)."""
        raise NotImplementedError

    def update(self, state: dict[str, Any], val: float, metrics: Mapping[str, float]) -> str | None:
        """Take one epoch's validation error; return why to stop (a clause), or None."""
        raise NotImplementedError


class GL(Criterion):
    """Stop at the first epoch whose generalization loss exceeds ``alpha`` percent.

    ``GL(t) = 100 * (E_va(t) / E_opt(t) - 1)``, ``E_opt(t) = min_{t' <= t} E_va(t')``;
    stop when ``GL(t) > alpha``. Checked every epoch.

    Args:
        alpha: threshold in percent, > 0 (Prechelt tries 1 to 5).

    Example::

        es = rl.EarlyStopping(criterion=rl.GL(alpha=5.0), patience=None)
    """

    def __init__(self, alpha: float):
        self.alpha = check_float("GL", "alpha", alpha, 0, low_open=True)

    def __repr__(self) -> str:
        return f"GL(alpha={self.alpha!r})"

    def init(self) -> dict[str, Any]:
        return {"e_opt": None}

    def update(self, state: dict[str, Any], val: float, metrics: Mapping[str, float]) -> str | None:
        state["e_opt"] = _lowest(state["e_opt"], val)
        gl = generalization_loss(val, state["e_opt"])
        if gl > self.alpha:
            return (f"generalization loss GL = {_num(gl)} exceeded alpha = {self.alpha:g} "
                    f"(validation error {_num(val)}, lowest {_num(state['e_opt'])})")
        return None


class PQ(Criterion):
    """Stop at the first end of a strip where the quotient ``GL(t) / P_k(t)`` exceeds ``alpha``.

    ``GL`` as in :class:`GL`; ``P_k(t) = 1000 * (sum E_tr / (k * min E_tr) - 1)`` over the
    last ``k = strip`` epochs' training errors, read from ``metrics[train_key]``. Checked only
    at the end of each strip (every ``strip`` counted epochs). Stops when the loss of
    generalization outweighs the progress still made on the training set.

    Args:
        alpha: threshold, > 0 (Prechelt tries 0.5 to 3).
        strip: strip length ``k`` in epochs, >= 1 (default 5, as in the paper).
        train_key: metrics key of the training error (default ``"train_loss"``).

    Example::

        es = rl.EarlyStopping(criterion=rl.PQ(alpha=0.5), patience=None)
        es.step({"val_loss": 0.31, "train_loss": 0.12})
    """

    def __init__(self, alpha: float, strip: int = 5, train_key: str = "train_loss"):
        self.alpha = check_float("PQ", "alpha", alpha, 0, low_open=True)
        self.strip = check_int("PQ", "strip", strip, 1)
        self.train_key = _key("PQ", "train_key", train_key)
        self.keys = (self.train_key,)

    def __repr__(self) -> str:
        return f"PQ(alpha={self.alpha!r}, strip={self.strip}, train_key={self.train_key!r})"

    def init(self) -> dict[str, Any]:
        return {"n": 0, "e_opt": None, "train": []}

    def update(self, state: dict[str, Any], val: float, metrics: Mapping[str, float]) -> str | None:
        k = self.strip
        state["n"] += 1
        state["e_opt"] = _lowest(state["e_opt"], val)
        state["train"] = (state["train"] + [float(metrics[self.train_key])])[-k:]
        if state["n"] % k:
            return None
        gl = generalization_loss(val, state["e_opt"])
        p = training_progress(state["train"])
        quotient = 0.0 if gl == 0.0 else (math.inf if p == 0.0 else gl / p)
        if quotient > self.alpha:
            return (f"GL/P_{k} = {_num(quotient)} exceeded alpha = {self.alpha:g} "
                    f"(GL = {_num(gl)}, P_{k} = {_num(p)})")
        return None


class UP(Criterion):
    """Stop when the validation error rose in ``s`` successive strips.

    At the end of each strip of ``k = strip`` epochs, compare ``E_va(t)`` with ``E_va(t - k)``;
    stop after ``s`` increases in a row (Prechelt's ``UP_s``). Works on any scale, so values
    need not be positive.

    Args:
        s: number of successive strips with an increase, >= 1.
        strip: strip length ``k`` in epochs, >= 1 (default 5).

    Example::

        es = rl.EarlyStopping(criterion=rl.UP(s=3), patience=None)
    """

    errors_only = False

    def __init__(self, s: int, strip: int = 5):
        self.s = check_int("UP", "s", s, 1)
        self.strip = check_int("UP", "strip", strip, 1)

    def __repr__(self) -> str:
        return f"UP(s={self.s}, strip={self.strip})"

    def init(self) -> dict[str, Any]:
        return {"n": 0, "ends": [], "ups": 0}

    def update(self, state: dict[str, Any], val: float, metrics: Mapping[str, float]) -> str | None:
        state["n"] += 1
        if state["n"] % self.strip:
            return None
        ends = state["ends"]
        state["ups"] = state["ups"] + 1 if ends and val > ends[-1] else 0
        state["ends"] = (ends + [val])[-(self.s + 1):]  # enough to quote in the message
        if state["ups"] >= self.s:
            path = " -> ".join(_num(v) for v in state["ends"])
            return (f"validation error rose in {self.s} successive strips of {self.strip} "
                    f"epochs ({path})")
        return None


def _lowest(current: float | None, val: float) -> float:
    return val if current is None or val < current else current
