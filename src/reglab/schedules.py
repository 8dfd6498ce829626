"""Strength schedules: one small API for every regularization strength.

A strength (a penalty's ``lam``, a proximal or decoupled ``lam``, a dropout ``drop``, an
augmentation ``strength``) is a number or a :class:`Schedule`. A schedule is a pure
function of a counter ``t``: optimizer steps (``unit="step"``, the default) or epochs
(``unit="epoch"``).

Who advances the counters:

* the step counter of a penalty advances on each call made with autograd enabled (one
  training step); of an attached update rule, on each ``optimizer.step()``; of a dropout
  module, on each forward pass in training mode;
* the epoch counter is set by the training loop: ``rl.schedules.set_epoch(epoch, model, pen)``.

Example::

    pen = rl.L2(rl.schedules.warmup(1e-3, steps=500))   # 0 -> 1e-3 over 500 steps
    drop = rl.Dropout(drop=rl.schedules.linear(0.0, 0.5, steps=20, unit="epoch"))
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

from reglab._validation import _in_range, _interval, check_choice, check_float, check_int, fail

__all__ = [
    "Schedule",
    "Scheduled",
    "constant",
    "cosine",
    "linear",
    "set_epoch",
    "step",
    "warmup",
    "check_strength",
    "lr_factor",
    "LR_SCHEDULES",
    "module_states",
    "load_module_states",
]

Strength = Union[float, "Schedule"]


class Schedule:
    """A strength as a function of ``t`` (steps or epochs). Build one with the factories below."""

    def __init__(self, fn: Callable[[int], float], low: float, high: float, unit: str, name: str):
        self._fn = fn
        self.low, self.high = low, high  # the range of values it takes, for validation
        self.unit = check_choice("Schedule", "unit", unit, ("step", "epoch"))
        self._name = name

    def __call__(self, t: int) -> float:
        return float(self._fn(max(int(t), 0)))

    def __repr__(self) -> str:
        return self._name


def constant(value: float, unit: str = "step") -> Schedule:
    """``value`` at every ``t``."""
    v = check_float("constant", "value", value)
    return Schedule(lambda t: v, v, v, unit, f"constant({v!r})")


def linear(start: float, end: float, steps: int, unit: str = "step") -> Schedule:
    """``start + (end - start) * min(t / steps, 1)``."""
    a, b = check_float("linear", "start", start), check_float("linear", "end", end)
    n = check_int("linear", "steps", steps, 1)
    lo, hi = min(a, b), max(a, b)

    def fn(t: int) -> float:
        f = min(t / n, 1.0)
        # (1 - f) a + f b hits both ends exactly; a + (b - a) f can miss b by an ulp.
        return min(max((1.0 - f) * a + f * b, lo), hi)

    return Schedule(fn, lo, hi, unit, f"linear({a!r}, {b!r}, steps={n}, unit={unit!r})")


def cosine(start: float, end: float, steps: int, unit: str = "step") -> Schedule:
    """``end + (start - end) * (1 + cos(pi * min(t / steps, 1))) / 2``."""
    a, b = check_float("cosine", "start", start), check_float("cosine", "end", end)
    n = check_int("cosine", "steps", steps, 1)
    lo, hi = min(a, b), max(a, b)

    def fn(t: int) -> float:
        w = 0.5 * (1.0 + math.cos(math.pi * min(t / n, 1.0)))
        return min(max(w * a + (1.0 - w) * b, lo), hi)  # exact at both ends, never outside

    return Schedule(fn, lo, hi, unit, f"cosine({a!r}, {b!r}, steps={n}, unit={unit!r})")


def step(values: Sequence[float], boundaries: Sequence[int], unit: str = "step") -> Schedule:
    """Piecewise constant: ``values[i]`` for ``boundaries[i-1] <= t < boundaries[i]``.

    ``len(values)`` must be ``len(boundaries) + 1``; boundaries strictly increasing.
    """
    vals = [check_float("step", "values", v) for v in values]
    bounds = [check_int("step", "boundaries", b, 1) for b in boundaries]
    if len(vals) != len(bounds) + 1:
        raise fail("step", "values", f"a list of len(boundaries) + 1 = {len(bounds) + 1} floats",
                   list(values))
    if any(b1 >= b2 for b1, b2 in zip(bounds, bounds[1:])):
        raise fail("step", "boundaries", "a strictly increasing list of ints", list(boundaries))
    return Schedule(lambda t: vals[bisect.bisect_right(bounds, t)], min(vals), max(vals), unit,
                    f"step({vals!r}, {bounds!r}, unit={unit!r})")


def warmup(target: Strength, steps: int, unit: str = "step") -> Schedule:
    """Linear ramp from 0 to ``target`` over ``steps``, then ``target`` (a number or a schedule,
    evaluated at the same ``t``)."""
    n = check_int("warmup", "steps", steps, 1)
    if isinstance(target, Schedule):
        inner = target
        fn = lambda t: inner(t) * min(t / n, 1.0)  # noqa: E731
        return Schedule(fn, min(0.0, inner.low), max(0.0, inner.high), inner.unit,
                        f"warmup({inner!r}, steps={n})")
    v = check_float("warmup", "target", target)
    return Schedule(lambda t: v * min(t / n, 1.0), min(0.0, v), max(0.0, v), unit,
                    f"warmup({v!r}, steps={n}, unit={unit!r})")


LR_SCHEDULES = ("constant", "cosine", "step")


def lr_factor(schedule: str, warmup: float, total_steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier of optimizer step ``t`` (0-based) of a ``total_steps`` run.

    ``w = round(warmup * total_steps)`` warmup steps ramp linearly, ``(t + 1) / w`` (so the
    first step does not waste itself at lr 0), then over the ``T = total_steps - w`` main
    steps, ``u = t - w``:

    * "constant": 1;
    * "cosine": ``(1 + cos(pi u / T)) / 2``, from 1 down toward 0 (:func:`cosine`);
    * "step": 1, then 0.1 from ``u = T / 2``, 0.01 from ``u = 3T / 4`` (:func:`step`).

    Args:
        schedule: "constant", "cosine" or "step".
        warmup: the fraction of the run that warms up, in [0, 1).
        total_steps: the run's optimizer steps (epochs x batches per epoch), >= 1.

    Example::

        f = lr_factor("cosine", 0.1, total_steps=1000)
        lr_at_step_500 = 1e-3 * f(500)
    """
    schedule = check_choice("lr_factor", "schedule", schedule, LR_SCHEDULES)
    frac = check_float("lr_factor", "warmup", warmup, 0.0, 1.0, high_open=True)
    total = check_int("lr_factor", "total_steps", total_steps, 1)
    w = min(int(round(frac * total)), total - 1)
    main_steps = total - w
    if schedule == "cosine":
        main: Callable[[int], float] = cosine(1.0, 0.0, steps=main_steps)
    elif schedule == "step":
        half = max(1, round(main_steps / 2))
        main = step([1.0, 0.1, 0.01], [half, max(half + 1, round(3 * main_steps / 4))])
    else:
        main = lambda u: 1.0  # noqa: E731 - exactly 1.0: lr * 1.0 == lr, today's numbers
    if w == 0:
        return main
    ramp = linear(0.0, 1.0, steps=w)
    return lambda t: ramp(t + 1) if t < w else main(t - w)


def check_strength(owner: str, name: str, value: Any, low: float | None = None,
                   high: float | None = None, *, low_open: bool = False,
                   high_open: bool = False) -> Strength:
    """Validate a strength: a number in the interval, or a schedule whose values stay in it."""
    if isinstance(value, Schedule):
        span = _interval(low, high, low_open, high_open)
        for end in (value.low, value.high):
            if not (math.isfinite(end) and _in_range(end, low, high, low_open, high_open)):
                raise fail(owner, name, f"a float in the range {span} or a schedule within it",
                           value, hint=f" The schedule reaches {end!r}, outside {span}.")
        return value
    return check_float(owner, name, value, low, high, low_open=low_open, high_open=high_open,
                       extra=" or a schedule")


class Scheduled:
    """Mixin for objects whose strengths may be schedules: holds the step and epoch counters."""

    _step_count: int = 0
    _epoch: int = 0

    def value_of(self, strength: Strength) -> float:
        """The current value of a strength (a number, or a schedule at this object's counter)."""
        if isinstance(strength, Schedule):
            return strength(self._step_count if strength.unit == "step" else self._epoch)
        return float(strength)

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` optimizer steps (called by the object itself; see the module doc)."""
        self._step_count += steps

    def set_epoch(self, epoch: int) -> None:
        self._epoch = int(epoch)

    def schedule_state(self) -> dict[str, int]:
        """The schedule counters, ``{"step": n, "epoch": e}`` (plain ints; a sum of penalties
        keeps one pair per part, under ``"parts"``)."""
        state: dict[str, Any] = {"step": int(self._step_count), "epoch": int(self._epoch)}
        children = self._scheduled_children()
        if children:
            state["parts"] = [c.schedule_state() for c in children]
        return state

    def load_schedule_state(self, state: Mapping[str, Any]) -> None:
        """Resume the counters from :meth:`schedule_state`; a strength then takes the value it
        had when the state was saved."""
        owner = f"{type(self).__name__}.load_schedule_state"
        allowed = "a dict from schedule_state() with int 'step' and 'epoch' >= 0"
        if not isinstance(state, Mapping) or not {"step", "epoch"} <= set(state):
            raise fail(owner, "state", allowed, state)
        children = self._scheduled_children()
        parts = state.get("parts", [])
        if len(parts) != len(children):
            raise fail(owner, "state", f"{allowed} and {len(children)} 'parts'", state)
        self._step_count = check_int(owner, "step", state["step"], 0)
        self._epoch = check_int(owner, "epoch", state["epoch"], 0)
        for child, part in zip(children, parts):
            child.load_schedule_state(part)

    def _scheduled_children(self) -> Sequence["Scheduled"]:
        return ()


def set_epoch(epoch: int, *objects: Any) -> None:
    """Set the epoch counter of every scheduled object in ``objects`` (modules are walked)."""
    epoch = check_int("set_epoch", "epoch", epoch, 0)
    stack = list(objects)
    while stack:
        obj = stack.pop()
        if hasattr(obj, "modules") and callable(obj.modules):
            stack.extend(m for m in obj.modules() if isinstance(m, Scheduled) and m is not obj)
        if isinstance(obj, Scheduled):
            obj.set_epoch(epoch)
            stack.extend(obj._scheduled_children())


def module_states(model: Any) -> dict[str, dict[str, int]]:
    """The schedule counters of every scheduled module in ``model`` (dropout layers), by module
    name: plain ints, to save next to the weights (``model.state_dict()`` stays tensors only, so
    safetensors can save it).

    Example::

        states = rl.schedules.module_states(model)   # {"2": {"step": 120, "epoch": 3}}
        rl.schedules.load_module_states(model, states)
    """
    return {name: m.schedule_state() for name, m in model.named_modules()
            if isinstance(m, Scheduled)}


def load_module_states(model: Any, states: Mapping[str, Mapping[str, Any]]) -> None:
    """Resume the counters saved by :func:`module_states`; the module names must match."""
    mods = {name: m for name, m in model.named_modules() if isinstance(m, Scheduled)}
    if not isinstance(states, Mapping) or set(states) != set(mods):
        raise fail("load_module_states", "states",
                   f"a dict from module_states() with the keys {sorted(mods)!r}", states)
    for name, state in states.items():
        mods[name].load_schedule_state(state)
