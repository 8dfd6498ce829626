"""Penalties: a loss term ``pen(model)`` or a gradient hook ``pen.attach(optimizer)``.

Exactly the note's formulas (no 1/2 factor), over the selected parameters ``w``:

* ``L1(lam)``:                ``lam * sum |w|``
* ``L2(lam)``:                ``lam * sum w^2``
* ``ElasticNet(lam, r)``:     ``lam * (r * sum |w| + (1 - r) * sum w^2)``
* ``GroupLasso(lam)``:        ``lam * sum_rows ||row||_2``, rows = dim 0 of each weight after
  flattening the rest (one row per output neuron / filter)

Penalties add (``rl.L1(1e-4) + rl.L2(1e-3)``). Which parameters a penalty touches is one
mechanism, :func:`select`: by default every parameter with ``ndim >= 2`` (weights; biases and
normalization parameters are left alone).

Two ways to use a penalty, same numbers (float64 trajectories agree to ~1e-12):

* **Loss term** (readable, works with anything that differentiates the loss):
  ``loss = loss + pen(model)``. All selected parameters go through one custom autograd
  function (fused ``torch._foreach_*`` forward, no per-parameter graph), but it still costs a
  forward pass over the weights plus an autograd node.
* **Gradient hook** (the recommended fast path in a training loop): ``pen.attach(optimizer)``
  adds ``d pen / dw`` straight into each ``.grad`` as every ``optimizer.step()`` begins, with a
  few fused in-place calls and no graph (``pen.add_grad_(model)`` does the same by hand, after
  ``loss.backward()``). The penalty is then not part of ``loss``: log it with
  ``pen.value(model)``. Anything that reads the gradient between ``backward()`` and ``step()``
  (``clip_grad_norm_``, gradient logging) sees it *without* the penalty.

Example::

    pen = rl.L1(1e-4) + rl.L2(1e-3)
    loss = F.cross_entropy(model(x), y) + pen(model)     # loss term, or:
    handle = pen.attach(optimizer)                       # gradient hook; loss without pen
    pen.value(model)      # a float, for logging
    pen.describe(model)   # [{'name': '0.weight', 'shape': (64, 10), 'term': 'l1', ...}, ...]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Union

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from reglab import kernels as K
from reglab._validation import check_bool, check_float, fail
from reglab.schedules import Scheduled, Strength, check_strength

__all__ = ["Penalty", "L1", "L2", "ElasticNet", "GroupLasso", "select"]

Predicate = Callable[[str, Tensor], bool]
Selection = Union[None, tuple[Tensor, ...], Predicate]
Named = list[tuple[str, Tensor]]

_PARAMS_ALLOWED = "None, an iterable of tensors or a predicate (name, param) -> bool"


# --------------------------------------------------------------------------- selection


def check_params(owner: str, params: Any) -> Selection:
    """Validate a ``params=`` argument; iterables are materialized once (generators too)."""
    if params is None or (callable(params) and not isinstance(params, (Tensor, nn.Module))):
        return params
    if isinstance(params, (Tensor, str, bytes, nn.Module)) or not isinstance(params, Iterable):
        raise fail(owner, "params", _PARAMS_ALLOWED, params)
    tensors = tuple(params)
    for item in tensors:
        if not isinstance(item, Tensor):
            raise fail(owner, "params", _PARAMS_ALLOWED, item)
    return tensors


_MODEL_ALLOWED = "an nn.Module or (name, parameter) pairs such as model.named_parameters()"


def _named(model: Any, owner: str = "select") -> Named:
    """``model.named_parameters()``, or ``model`` itself if it already is ``(name, param)`` pairs."""
    if isinstance(model, nn.Module):
        return list(model.named_parameters())
    if isinstance(model, Tensor) or not hasattr(model, "__iter__"):  # pen(w): a common slip
        raise fail(owner, "model", _MODEL_ALLOWED, model)
    pairs = list(model)
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                and isinstance(pair[1], Tensor)):
            raise fail(owner, "model", _MODEL_ALLOWED, pair)
    return pairs


def _optimizer_named(optimizer: torch.optim.Optimizer) -> Named:
    """The optimizer's parameters as ``(name, param)`` pairs, named by position."""
    return [(f"param_groups[{g}][{i}]", p) for g, group in enumerate(optimizer.param_groups)
            for i, p in enumerate(group["params"])]


def _select(named: Named, params: Selection) -> Named:
    if params is None:
        return [(n, p) for n, p in named if p.ndim >= 2]
    if callable(params):
        return [(n, p) for n, p in named if params(n, p)]
    wanted = {id(p) for p in params}
    chosen = [(n, p) for n, p in named if id(p) in wanted]
    found = {id(p) for _, p in chosen}
    # Tensors given explicitly but not in the model are still selected, under a positional name.
    seen: set[int] = set()
    for i, p in enumerate(params):
        if id(p) not in found and id(p) not in seen:
            chosen.append((f"params[{i}]", p))
            seen.add(id(p))
    return chosen


def select(model: Any, params: Any = None, owner: str = "select") -> Named:
    """The one parameter selection used by every penalty and update rule.

    Args:
        model: an ``nn.Module`` (its ``named_parameters()``), or an iterable of
            ``(name, param)`` pairs.
        params: ``None`` (default: every parameter with ``ndim >= 2``, i.e. weights, not biases
            nor normalization parameters), an iterable of tensors (those, in model order;
            tensors not in the model are named ``params[i]``), or a predicate
            ``(name, param) -> bool``.
        owner: the name used in error messages.

    Returns:
        ``[(name, param), ...]`` in the model's order, without duplicates.

    Example::

        select(model, lambda name, p: name.startswith("0."))   # [('0.weight', ...), ('0.bias', ...)]
    """
    return _select(_named(model, owner), check_params(owner, params))


# --------------------------------------------------------------------------- fused computation
# The formulas are the kernels' (reglab.kernels); this part only groups the parameters so
# that each distinct coefficient costs one fused call.


def _by_coef(ws: list[Tensor], *columns: list[float]
             ) -> dict[tuple[float, ...], list[Tensor]]:
    """The params of each distinct nonzero coefficient tuple: one fused call per value
    (usually one)."""
    groups: dict[tuple[float, ...], list[Tensor]] = {}
    for w, *cs in zip(ws, *columns):
        if any(c != 0.0 for c in cs):
            groups.setdefault(tuple(cs), []).append(w)
    return groups


class _FusedPenalty(torch.autograd.Function):
    """``sum_i a_i |w_i|_1 + b_i |w_i|_2^2 + g_i sum_rows ||row||`` over all params at once.

    ``coef`` is ``(a, b, g)``: three lists of Python floats, one entry per param (0 = no term).
    Forward and backward are the kernels' value and gradient; no per-parameter graph.
    """

    @staticmethod
    def forward(ctx, coef, *ws):  # type: ignore[override]
        a = coef[0]
        # sign(w) of the L1 params: for the value (<w, sign w>, one dot) and, reused in
        # place, for the backward
        i1 = [i for i, c in enumerate(a) if c != 0.0]
        signs = dict(zip(i1, torch._foreach_sign([ws[i] for i in i1]))) if i1 else {}
        parts = []
        bias = coef[3]  # bias[i]: the index in ws of param i's group-lasso bias, or -1
        for i, (w, ca, cb, cg) in enumerate(zip(ws, *coef[:3])):
            if ca != 0.0:
                parts.append(K.l1_value(w, ca, sign=signs[i]))
            if cb != 0.0:
                parts.append(K.l2_value(w, cb))
            if cg != 0.0:
                parts.append(K.group_lasso_value(w, cg, ws[bias[i]] if bias[i] >= 0 else None))
        ctx.coef, ctx.signs = coef, signs
        ctx.save_for_backward(*ws)
        if not parts:
            return ws[0].new_zeros(()) if ws else torch.zeros(())
        return parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        ws = ctx.saved_tensors
        a, b, g, bias = ctx.coef
        # On CPU the scale is free to read; elsewhere .item() would sync, so scale at the end.
        c = grad_out.item() if grad_out.device.type == "cpu" else 1.0
        # The signs from forward become the gradient in place (no new memory); a second
        # backward (retain_graph=True) computes them again.
        signs, ctx.signs = ctx.signs, {}
        grads: list[Tensor | None] = [None] * len(ws)
        index = {id(w): i for i, w in enumerate(ws)}
        for (ca, cb), group in _by_coef(list(ws), a, b).items():
            ids = [index[id(w)] for w in group]
            kept = [signs[i] for i in ids if i in signs]
            out = K.l1_l2_grad(group, c * ca, c * cb,
                               kept if ca != 0.0 and len(kept) == len(ids) else None)
            for i, gr in zip(ids, out):
                grads[i] = gr
        for i, (w, cg) in enumerate(zip(ws, g)):
            if cg != 0.0:
                j = bias[i]
                gw, gb = K.group_lasso_grads(w, c * cg, ws[j] if j >= 0 else None)
                grads[i] = gw if grads[i] is None else grads[i].add_(gw)
                if gb is not None:
                    grads[j] = gb if grads[j] is None else grads[j].add_(gb)
        if grad_out.device.type != "cpu":
            torch._foreach_mul_([gr for gr in grads if gr is not None], grad_out)
        return (None, *grads)


def _collect(terms: list[tuple]) -> tuple[list[Tensor], tuple[list, list, list, list]]:
    """One entry per parameter: ``ws`` and the columns ``(a, b, g, bias)`` of its l1, l2 and
    group coefficients (a parameter under several terms of one kind gets their sum) and the
    index in ``ws`` of the bias in its group-lasso groups (-1: none). A term is
    ``(kind, name, param, coef)``, and a group-lasso term may carry a fifth item, the bias."""
    index: dict[int, int] = {}
    ws: list[Tensor] = []
    coef: dict[str, list] = {"l1": [], "l2": [], "group_lasso": [], "bias": []}

    def slot(p: Tensor) -> int:
        if id(p) not in index:
            index[id(p)] = len(ws)
            ws.append(p)
            for name, column in coef.items():
                column.append(-1 if name == "bias" else 0.0)
        return index[id(p)]

    for kind, _, p, c, *bias in terms:
        i = slot(p)
        coef[kind][i] += c
        if bias and bias[0] is not None:
            coef["bias"][i] = slot(bias[0])
    a, b, g, bias_of = coef.values()
    return ws, (a, b, g, bias_of)


class _GradPlan:
    """``w.grad += a * sign(w) + 2 * b * w + g * row / ||row||`` for a fixed set of params and
    coefficients, worked out once: which params take part and their fused groups (one kernel
    call per distinct coefficient pair, usually one). ``attach``'s hook keeps one while the
    strengths and ``requires_grad`` flags it was made for stay the same, so a step does no
    Python bookkeeping beyond one comparison.
    """

    def __init__(self, ws: list[Tensor], coef: tuple[list, list, list, list],
                 strengths: tuple = ()):
        self.strengths, self.params = strengths, ws
        self.flags = [w.requires_grad for w in ws]
        live = [(w, ca, cb) for w, ca, cb in zip(ws, *coef[:2])
                if w.requires_grad and (ca != 0.0 or cb != 0.0)]
        self.groups = list(_by_coef([w for w, *_ in live], [t[1] for t in live],
                                    [t[2] for t in live]).items())
        bias = coef[3]  # bias[i]: the index in ws of param i's group-lasso bias, or -1
        self.group_lasso = [(w, cg, ws[bias[i]] if bias[i] >= 0 else None)
                            for i, (w, cg) in enumerate(zip(ws, coef[2]))
                            if cg != 0.0 and w.requires_grad]

    def current(self, strengths: tuple) -> bool:
        """Whether the plan still holds for these strengths and the params' flags now."""
        return strengths == self.strengths and self.flags == [w.requires_grad
                                                              for w in self.params]

    @K.without_grad
    def apply(self) -> None:
        for (ca, cb), group in self.groups:
            K.add_l1_l2_grad_(_grads(group), group, ca, cb)
        for w, cg, b in self.group_lasso:
            gw, gb = K.group_lasso_grads(w, cg, b)
            _grads([w])[0].add_(gw)
            if gb is not None and b.requires_grad:
                _grads([b])[0].add_(gb)


def _grads(ws: list[Tensor]) -> list[Tensor]:
    """Each param's ``.grad``; one with a nonzero term and no ``.grad`` gets zeros first, as a
    loss term would give it."""
    for w in ws:
        if w.grad is None:
            w.grad = torch.zeros_like(w)
    return [w.grad for w in ws]


# --------------------------------------------------------------------------- penalties


_VALUE = {"l1": K.l1_value, "l2": K.l2_value, "group_lasso": K.group_lasso_value}


class Penalty(Scheduled):
    """Base of all penalties: a sum of per-parameter terms ``coef * f(w)``.

    Subclasses implement :meth:`_terms` and :meth:`_strengths`. ``pen(model)`` is a 0-dim differentiable tensor;
    ``pen.value(model)`` a float for logging; ``pen.describe(model)`` the audit table.
    Each call made with autograd enabled counts one step for step-unit schedules.

    Two modes, same trajectory: the loss term ``loss + pen(model)`` (readable; needed when
    something else differentiates the loss, e.g. ``torch.autograd.grad`` or a penalty inside a
    larger objective) and the gradient hook ``pen.attach(optimizer)`` / ``pen.add_grad_(model)``
    (the fast path for a training loop; gradient clipping before ``step()`` then sees the
    gradient without the penalty). Use one of them, not both.
    """

    def __init__(self, params: Any = None):
        self.params = check_params(type(self).__name__, params)

    def _terms(self, model: Any, memo: dict) -> list[tuple[str, str, Tensor, float]]:
        """``[(kind, name, param, coef)]`` with ``kind`` in {"l1", "l2", "group_lasso"}."""
        raise NotImplementedError

    def _selected(self, model: Any, memo: dict) -> Named:
        # Summed penalties with the same selection share one walk over the model.
        # (Not memo.setdefault("named", _named(model)): that would walk the model every time.)
        key = id(self.params)
        if key not in memo:
            if "named" not in memo:
                memo["named"] = _named(model, type(self).__name__)
            memo[key] = _select(memo["named"], self.params)
        return memo[key]

    def _compute(self, model: Any) -> Tensor:
        ws, coef = _collect(self._terms(model, {}))
        return _FusedPenalty.apply(coef, *ws)

    def __call__(self, model: Any) -> Tensor:
        """The penalty as a 0-dim tensor, differentiable w.r.t. the selected parameters."""
        out = self._compute(model)
        if torch.is_grad_enabled():
            self.advance()
        return out

    def value(self, model: Any) -> float:
        """The current value as a float, without building a graph or advancing schedules."""
        with torch.no_grad():
            return float(self._compute(model))

    def add_grad_(self, model: Any) -> None:
        """Add ``d pen / dw`` into each selected parameter's ``.grad``, in place; count one step.

        The gradient-hook form of ``loss + pen(model)``: call it after ``loss.backward()`` and
        before ``optimizer.step()`` (or let :meth:`attach` do it). ``.grad`` gains
        ``lam * sign(w)`` (L1), ``2 * lam * w`` (L2), ``lam * row / ||row||`` (group lasso),
        in a few fused ``torch._foreach_*`` calls and without a graph; a selected parameter with
        ``.grad`` None gets one. Schedules advance as for one ``pen(model)`` call.

        Args:
            model: an ``nn.Module`` or ``(name, param)`` pairs, as for ``pen(model)``.

        Example::

            loss.backward(); pen.add_grad_(model); optimizer.step()
        """
        self._grad_step(model, {})

    def _grad_step(self, model: Any, memo: dict) -> None:
        """add_grad_ with a selection memo; attach's hook keeps one, so it never walks
        ``model``, and the memo keeps the last :class:`_GradPlan` with the strengths and
        ``requires_grad`` flags it was made for (a schedule or a frozen layer makes a new one).
        With the selection fixed by the memo, the terms depend on the strengths alone."""
        strengths = self._strengths()
        plan = memo.get("plan")
        if plan is None or not plan.current(strengths):
            plan = memo["plan"] = _GradPlan(*_collect(self._terms(model, memo)), strengths)
        plan.apply()
        self.advance()

    def _strengths(self) -> tuple:
        """The current hyperparameters :meth:`_terms` makes its coefficients of (numbers)."""
        raise NotImplementedError

    def attach(self, optimizer: torch.optim.Optimizer, model: nn.Module | None = None
               ) -> RemovableHandle:
        """Add the penalty's gradient as every ``optimizer.step()`` begins (a step pre-hook).

        The fast path: same trajectory as ``loss + pen(model)``, without the forward pass and
        autograd node. The selection is resolved here, once (``model``'s parameters, or else the
        optimizer's, in group order), so each step does no walk over the model. Caveats: the
        loss no longer contains the penalty (log ``pen.value(model)``); gradient clipping or
        inspection before ``step()`` sees the gradient without it; the gradient is added once
        per step, not once per ``backward()`` (with accumulation over k micro-batches this is
        ``pen`` added to the *summed* loss once); pre-hooks run in the order attached, so attach
        before ``DecoupledWeightDecay`` for it to see the un-decayed weights, as a loss term would.

        Args:
            optimizer: any ``torch.optim.Optimizer``.
            model: the model, for parameter names; required when ``params`` is a predicate.

        Returns:
            A handle; ``handle.remove()`` detaches the penalty.

        Example::

            handle = (rl.L1(1e-5) + rl.L2(1e-4)).attach(optimizer)
        """
        owner = f"{self._owner()}.attach"
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise fail(owner, "optimizer", "a torch.optim.Optimizer", optimizer)
        if model is not None and not isinstance(model, nn.Module):
            raise fail(owner, "model", "None or an nn.Module", model)
        if self._has_predicate() and model is None:
            raise fail(owner, "model", "an nn.Module when params is a predicate (it names the "
                       "parameters)", model)
        memo = {"named": _named(model) if model is not None else _optimizer_named(optimizer)}
        groups = len(optimizer.param_groups)

        def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            nonlocal memo, groups
            if model is None and len(opt.param_groups) != groups:  # add_param_group since
                memo, groups = {"named": _optimizer_named(opt)}, len(opt.param_groups)
            self._grad_step(model, memo)

        return optimizer.register_step_pre_hook(hook)

    def state_dict(self) -> dict[str, Any]:
        """The schedule counters (plain ints), for resuming; see ``Scheduled.schedule_state``."""
        return self.schedule_state()

    def load_state_dict(self, state: Any) -> None:
        """Resume the schedule counters saved by :meth:`state_dict`."""
        self.load_schedule_state(state)

    def _owner(self) -> str:
        return type(self).__name__

    def _has_predicate(self) -> bool:
        return callable(self.params)

    def describe(self, model: Any) -> list[dict]:
        """One row per (parameter, term): ``name, shape, term, lam, value``.

        ``lam`` is the term's current coefficient (for ElasticNet, ``lam * l1_ratio`` on the
        l1 row and ``lam * (1 - l1_ratio)`` on the l2 row); ``value`` is ``lam * f(w)``.
        """
        rows = []
        with torch.no_grad():
            for kind, name, p, coef, *bias in self._terms(model, {}):
                rows.append({"name": name, "shape": tuple(p.shape), "term": kind, "lam": coef,
                             "value": float(_VALUE[kind](p, coef, *bias))})
        return rows

    def __add__(self, other: Any) -> "Penalty":
        if not isinstance(other, Penalty):
            return NotImplemented
        return _SumPenalty(self, other)

    def __radd__(self, other: Any) -> "Penalty":
        # So that sum([pen_a, pen_b]) works: it starts from 0.
        if isinstance(other, (int, float)) and other == 0:
            return self
        return NotImplemented


class _SumPenalty(Penalty):
    """``a + b``: the terms of both; each keeps its own selection and schedule counters."""

    def __init__(self, *parts: Penalty):
        self.params = None
        self.parts: list[Penalty] = []
        for part in parts:
            self.parts.extend(part.parts if isinstance(part, _SumPenalty) else [part])

    def _terms(self, model, memo):
        return [t for part in self.parts for t in part._terms(model, memo)]

    def _strengths(self):
        out: tuple = ()
        for part in self.parts:
            out += part._strengths()
        return out

    def advance(self, steps: int = 1) -> None:
        super().advance(steps)
        for part in self.parts:
            part.advance(steps)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        for part in self.parts:
            part.set_epoch(epoch)

    def _scheduled_children(self):
        return self.parts

    def _owner(self) -> str:
        return "Penalty"

    def _has_predicate(self) -> bool:
        return any(part._has_predicate() for part in self.parts)

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.parts)


class _Single(Penalty):
    """A penalty with one strength ``lam`` (a number or a schedule) and one kind of term."""

    kind = ""

    def __init__(self, lam: Strength, params: Any = None):
        super().__init__(params)
        self.lam = check_strength(type(self).__name__, "lam", lam, 0)

    def _terms(self, model, memo):
        lam = self.value_of(self.lam)
        return [(self.kind, n, p, lam) for n, p in self._selected(model, memo)]

    def _strengths(self):
        return (self.value_of(self.lam),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lam={self.lam!r})"


def _single_doc(summary: str, grad: str, example: str) -> str:
    """The docstring of a plain one-strength penalty (L1, L2), so that their shared part is
    written once: ``summary``, the two modes (``grad``: what the hook adds to ``.grad``),
    Args and the ``example`` call (``L1(1e-4)``)."""
    return f"""{summary}

    Modes, same trajectory: loss term ``loss + pen(model)`` (readable) or gradient hook
    ``pen.attach(optimizer)`` (fast path; adds ``{grad}`` to ``.grad``
    as each step begins, so clipping before the step does not see it).

    Args:
        lam: strength >= 0, a number or a schedule.
        params: selection (see :func:`select`); default every parameter with ``ndim >= 2``.

    Example::

        loss = loss + rl.{example}(model)      # or: rl.{example}.attach(optimizer)
    """


class L1(_Single):
    __doc__ = _single_doc(
        "Lasso penalty ``lam * sum |w|``: drives weights toward exact zeros (the seed, 3.1).",
        "lam * sign(w)", "L1(1e-4)")

    kind = "l1"


class L2(_Single):
    __doc__ = _single_doc(
        "Ridge penalty ``lam * sum w^2`` (no 1/2: SGD ``weight_decay=wd`` equals ``L2(wd / 2)``).",
        "2 * lam * w", "L2(1e-3)")

    kind = "l2"


def bias_of(by_name: dict[str, Tensor], name: str, w: Tensor) -> Tensor | None:
    """The bias in the same group as weight ``name``'s rows: ``prefix.bias`` of shape
    ``(w.shape[0],)`` next to ``prefix.weight`` (nn.Linear, nn.Conv*), else None.

    ``by_name``: the model's parameters by name (``dict(model.named_parameters())``).
    """
    if not name.endswith("weight") or w.ndim < 2:
        return None
    b = by_name.get(name[: -len("weight")] + "bias")
    return b if b is not None and b.shape == (w.shape[0],) else None


class GroupLasso(_Single):
    """Group lasso ``lam * sum_groups ||group||_2``: zeroes whole output neurons / filters.

    A group is one row of a selected weight (dim 0, the rest flattened: a Linear weight
    (out, in) has ``out`` groups, a Conv2d weight (out, in, kh, kw) one per filter) **and**,
    with ``bias=True`` (the default), that neuron's bias entry: ``||(w_row, b)||_2``. So a
    neuron driven to zero outputs exactly 0, not a constant. The bias is the parameter named
    like the weight with ``bias`` for ``weight`` (``0.weight`` -> ``0.bias``) of shape
    ``(out,)``; it is found by name, so with ``attach(optimizer)`` without a model (positional
    names) the groups are weight rows only. ``bias=False``: weight rows only, Yuan & Lin's
    groups on the weights. At a zero group the gradient is the subgradient 0. Yuan & Lin (2006).

    Modes, same trajectory: loss term ``loss + pen(model)`` (readable) or gradient hook
    ``pen.attach(optimizer)`` (fast path; adds ``lam * w_row / ||group||`` to the weight's
    ``.grad`` and ``lam * b / ||group||`` to the bias's as each step begins, so clipping
    before the step does not see it).

    Args:
        lam: strength >= 0, a number or a schedule.
        params: selection (see :func:`select`); default every parameter with ``ndim >= 2``.
        bias: put each row's bias entry in its group. Default True.

    Example::

        loss = loss + rl.GroupLasso(1e-3)(model)   # or: .attach(optimizer, model)
    """

    kind = "group_lasso"

    def __init__(self, lam: Strength, params: Any = None, bias: bool = True):
        super().__init__(lam, params)
        self.bias = check_bool("GroupLasso", "bias", bias)

    def _terms(self, model, memo):
        lam = self.value_of(self.lam)
        selected = self._selected(model, memo)
        if not self.bias:
            return [(self.kind, n, p, lam) for n, p in selected]
        key = ("bias", id(self.params))
        if key not in memo:  # the pairing, once per selection memo (attach keeps one)
            by_name = dict(memo["named"])
            pairs = [(n, p, bias_of(by_name, n, p)) for n, p in selected]
            paired = {id(b) for _, _, b in pairs if b is not None}
            # a selected bias counts once, in its neuron's group
            memo[key] = [t for t in pairs if id(t[1]) not in paired]
        return [(self.kind, n, p, lam, b) for n, p, b in memo[key]]

    def __repr__(self) -> str:
        return f"GroupLasso(lam={self.lam!r}{'' if self.bias else ', bias=False'})"


class ElasticNet(Penalty):
    """Elastic net ``lam * (l1_ratio * sum |w| + (1 - l1_ratio) * sum w^2)``. Zou & Hastie (2005).

    Modes, same trajectory: loss term ``loss + pen(model)`` (readable) or gradient hook
    ``pen.attach(optimizer)`` (fast path; adds
    ``lam * (l1_ratio * sign(w) + 2 * (1 - l1_ratio) * w)`` to ``.grad`` as each step begins,
    so clipping before the step does not see it).

    Args:
        lam: strength >= 0, a number or a schedule.
        l1_ratio: share of L1 in [0, 1] (1 = L1, 0 = L2).
        params: selection (see :func:`select`); default every parameter with ``ndim >= 2``.

    Example::

        loss = loss + rl.ElasticNet(1e-3, l1_ratio=0.5)(model)   # or: .attach(optimizer)
    """

    def __init__(self, lam: Strength, l1_ratio: float, params: Any = None):
        super().__init__(params)
        self.lam = check_strength("ElasticNet", "lam", lam, 0)
        self.l1_ratio = check_float("ElasticNet", "l1_ratio", l1_ratio, 0, 1)

    def _terms(self, model, memo):
        lam, r = self.value_of(self.lam), self.l1_ratio
        selected = self._selected(model, memo)
        return ([("l1", n, p, lam * r) for n, p in selected]
                + [("l2", n, p, lam * (1 - r)) for n, p in selected])

    def _strengths(self):
        return (self.value_of(self.lam), self.l1_ratio)

    def __repr__(self) -> str:
        return f"ElasticNet(lam={self.lam!r}, l1_ratio={self.l1_ratio!r})"

