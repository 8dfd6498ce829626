"""Update rules attached to any ``torch.optim`` optimizer, and no-decay parameter groups.

With ``lr`` each param group's *current* learning rate (so LR schedulers keep working) and
``t = lr * lam``:

* ``ProximalL1(lam)``:           ``w <- sign(w) * max(|w| - t, 0)``  (exact zeros), after the step
* ``ProximalGroupLasso(lam)``:   ``g <- g * max(1 - t / ||g||, 0)``, ``g`` = a weight row and its
  bias entry (whole neurons exactly 0), after the step
* ``DecoupledWeightDecay(lam)``: ``w <- w - t * w``, applied as the optimizer step begins, after
  the gradient was taken and before the update, as ``torch.optim.AdamW`` does, so
  ``Adam(weight_decay=0)`` + ``DecoupledWeightDecay(lam)`` *is* ``AdamW(weight_decay=lam)``.
  Loshchilov & Hutter (2019).

The proximal steps make ``w_{k+1} = prox_{t * R}(w_k - lr * step_k)``: proximal gradient
descent (ISTA) for ``R = lam * sum|w|`` or the group lasso.

Example::

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    handle = rl.ProximalL1(1e-3).attach(opt)      # every opt.step() now soft-thresholds
    handle.remove()                                # and now it does not
    opt = torch.optim.AdamW(rl.param_groups(model, weight_decay=1e-2), lr=1e-3)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from reglab._validation import check_bool, check_float, fail
from reglab import kernels as K
from reglab.penalties import _select, bias_of, check_params
from reglab.schedules import Scheduled, Strength, check_strength

__all__ = ["ProximalL1", "ProximalGroupLasso", "DecoupledWeightDecay", "param_groups"]


class _UpdateRule(Scheduled):
    """Base: ``lam`` (number or schedule), a selection, ``attach`` and functional ``step``."""

    _when = "post"  # run after optimizer.step() ("post") or as it begins ("pre")

    def __init__(self, lam: Strength, params: Any = None):
        name = type(self).__name__
        self.lam = check_strength(name, "lam", lam, 0)
        self.params = check_params(name, params)

    def _apply(self, params: list[Tensor], t: float) -> None:
        """The update with threshold / decay ``t = lr * lam``, in place (a kernel: grad mode off)."""
        raise NotImplementedError

    def step(self, params: Iterable[Tensor], lr: float) -> None:
        """Apply the update once to exactly ``params`` (no selection) and count one step.

        Args:
            params: tensors updated in place.
            lr: learning rate; the threshold / decay is ``lr * lam``.
        """
        owner = f"{type(self).__name__}.step"
        lr = check_float(owner, "lr", lr, 0)
        if params is None or callable(params):
            raise fail(owner, "params", "an iterable of tensors", params)
        params = list(check_params(owner, params))
        with torch.no_grad():
            t = lr * self.value_of(self.lam)
            if params and t > 0:
                self._apply(params, t)
        self.advance()

    @property
    def when(self) -> str:
        """``"pre"``: the rule runs as ``optimizer.step()`` begins (the gradient taken, the
        update not yet made); ``"post"``: right after the update."""
        return self._when

    def attach(self, optimizer: torch.optim.Optimizer, model: nn.Module | None = None
               ) -> RemovableHandle:
        """Run the update at every ``optimizer.step()`` with each group's current lr.

        Args:
            optimizer: any ``torch.optim.Optimizer``.
            model: the model, for parameter names; required when ``params`` is a predicate.

        Returns:
            A handle; ``handle.remove()`` detaches the rule.
        """
        hook = self.hook(optimizer, model)
        if self._when == "pre":
            return optimizer.register_step_pre_hook(hook)
        return optimizer.register_step_post_hook(hook)

    def hook(self, optimizer: torch.optim.Optimizer, model: nn.Module | None = None
             ) -> Callable[[torch.optim.Optimizer, Any, Any], None]:
        """The function :meth:`attach` registers, ``hook(optimizer, args, kwargs)``: one update
        of the selected parameters with each group's current lr, counting one step.

        For a loop whose ``step(closure)`` runs the backward pass inside the step (Lightning),
        a ``"pre"`` rule (:attr:`when`) must run after the closure instead: call this hook
        there (``reglab.integrations.lightning.UpdateRules`` does).

        Args:
            optimizer: any ``torch.optim.Optimizer``.
            model: the model, for parameter names; required when ``params`` is a predicate.
        """
        owner = f"{type(self).__name__}.attach"
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise fail(owner, "optimizer", "a torch.optim.Optimizer", optimizer)
        if model is not None and not isinstance(model, nn.Module):
            raise fail(owner, "model", "None or an nn.Module", model)
        if callable(self.params) and model is None:
            raise fail(owner, "model", "an nn.Module when params is a predicate (it names the "
                       "parameters)", model)
        names = {id(p): n for n, p in model.named_parameters()} if model is not None else {}
        chosen = self._resolve(optimizer, names)

        def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            if len(chosen) != len(opt.param_groups):  # add_param_group was called since
                chosen[:] = self._resolve(opt, names)
            lam = self.value_of(self.lam)
            for group, params in zip(opt.param_groups, chosen):  # (the kernels turn grad off)
                t = float(group["lr"]) * lam
                if params and t > 0:
                    self._apply(params, t)
            self.advance()

        return hook

    def _resolve(self, optimizer: torch.optim.Optimizer, names: dict) -> list[list[Tensor]]:
        """The selected params of each param group, via the one selection mechanism."""
        out = []
        for g, group in enumerate(optimizer.param_groups):
            named = [(names.get(id(p), f"param_groups[{g}][{i}]"), p)
                     for i, p in enumerate(group["params"])]
            if callable(self.params):  # only parameters of the model have names to test
                named = [(n, p) for n, p in named if id(p) in names]
            wanted = _select(named, self.params)
            if isinstance(self.params, tuple):  # an explicit list: only what the group holds
                held = {id(p) for p in group["params"]}
                wanted = [(n, p) for n, p in wanted if id(p) in held]
            out.append([p for _, p in wanted])
        return out

    def state_dict(self) -> dict[str, Any]:
        """The schedule counters (plain ints), for resuming; see ``Scheduled.schedule_state``."""
        return self.schedule_state()

    def load_state_dict(self, state: Any) -> None:
        """Resume the schedule counters saved by :meth:`state_dict`."""
        self.load_schedule_state(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lam={self.lam!r})"


class ProximalL1(_UpdateRule):
    """Soft-thresholding after each step: ``w <- sign(w) * max(|w| - lr * lam, 0)``.

    The proximal operator of ``lam * sum|w|``: unlike an L1 loss term, it leaves weights at
    exactly 0 (feature selection, the note's 3.1). Runs after ``optimizer.step()``.

    Args:
        lam: strength >= 0, a number or a schedule (one schedule step per optimizer step).
        params: selection (see ``reglab.penalties.select``); default ``ndim >= 2``.

    Example::

        rl.ProximalL1(1e-3).attach(optimizer)
    """

    def _apply(self, params, t):
        K.soft_threshold_(params, t)


class ProximalGroupLasso(_UpdateRule):
    """Block soft-thresholding per group: ``g <- g * max(1 - lr * lam / ||g||, 0)``.

    The proximal operator of the group lasso ``lam * sum_groups ||g||_2``; a group is one row
    of a selected weight (dim 0: an output neuron / filter) and, with ``bias=True`` (the
    default), that neuron's bias entry, as in ``rl.GroupLasso``: whole neurons become exactly
    0, bias included, so a pruned neuron outputs 0. The bias (``prefix.bias`` of shape
    ``(out,)`` next to ``prefix.weight``) is found by name, so it needs ``attach(optimizer,
    model)``; without a model, and in :meth:`step` (which takes exactly the tensors given),
    groups are weight rows. The threshold uses the weight's param-group lr. Runs after
    ``optimizer.step()``.

    Args:
        lam: strength >= 0, a number or a schedule.
        params: selection (see ``reglab.penalties.select``); default ``ndim >= 2``.
        bias: put each row's bias entry in its group. Default True.

    Example::

        rl.ProximalGroupLasso(1e-2).attach(optimizer, model)
    """

    def __init__(self, lam: Strength, params: Any = None, bias: bool = True):
        super().__init__(lam, params)
        self.bias = check_bool("ProximalGroupLasso", "bias", bias)

    def _resolve(self, optimizer, names):
        chosen = super()._resolve(optimizer, names)
        if not (self.bias and names):
            return chosen
        by_name = {names[id(p)]: p for group in optimizer.param_groups for p in group["params"]
                   if id(p) in names}
        pairs = [[(w, bias_of(by_name, names.get(id(w), ""), w)) for w in params]
                 for params in chosen]
        paired = {id(b) for group in pairs for _, b in group if b is not None}
        # a selected bias counts once, in its neuron's group
        return [[(w, b) for w, b in group if id(w) not in paired] for group in pairs]

    def _apply(self, params, t):
        for item in params:  # tensors (step, rows only) or (weight, bias or None) pairs
            w, b = item if isinstance(item, tuple) else (item, None)
            K.group_soft_threshold_(w, t, b)

    def __repr__(self) -> str:
        return f"ProximalGroupLasso(lam={self.lam!r}{'' if self.bias else ', bias=False'})"


class DecoupledWeightDecay(_UpdateRule):
    """Decoupled weight decay ``w <- w - lr * lam * w``, for any optimizer.

    Applied as each step begins (an optimizer step pre-hook: the gradient is already taken),
    which is exactly what ``AdamW`` does, so ``Adam`` + this = ``AdamW``. Unlike an L2 loss
    term, the decay is not rescaled by Adam's adaptive denominators. Loshchilov & Hutter (2019).
    Attached to an optimizer that decays too (``weight_decay > 0`` in a param group, as
    ``AdamW`` has by default), it warns: the two decays would add up.

    Args:
        lam: strength >= 0, a number or a schedule.
        params: selection (see ``reglab.penalties.select``); default ``ndim >= 2``.

    Example::

        rl.DecoupledWeightDecay(1e-2).attach(torch.optim.Adam(model.parameters(), lr=1e-3))
    """

    _when = "pre"

    def hook(self, optimizer: torch.optim.Optimizer, model: nn.Module | None = None
             ) -> Callable[[torch.optim.Optimizer, Any, Any], None]:
        fn = super().hook(optimizer, model)
        own = [(g, float(group["weight_decay"])) for g, group in enumerate(optimizer.param_groups)
               if group["params"] and float(group.get("weight_decay") or 0.0) > 0.0]
        if own:  # e.g. AdamW's default 0.01: the two decays would add up, silently
            groups = ", ".join(f"param group {g} (weight_decay={wd:g})" for g, wd in own)
            warnings.warn(
                f"DecoupledWeightDecay: the {type(optimizer).__name__} it is attached to decays "
                f"too, {groups}; the two add up. Give the optimizer weight_decay=0 (AdamW's "
                f"default is 0.01) or let it decay alone.", UserWarning, stacklevel=3)
        return fn

    def _apply(self, params, t):
        K.decay_(params, t)


def param_groups(model: nn.Module, weight_decay: float,
                 no_decay: Iterable[str] | str | Callable[[str, Tensor], bool] | None = None
                 ) -> list[dict]:
    """Optimizer param groups with no decay on biases, norm parameters and ``no_decay`` names.

    Parameters with ``ndim <= 1`` (biases, BatchNorm/LayerNorm weights) and those matched by
    ``no_decay`` go to a group with ``weight_decay=0``; frozen parameters are left out.

    Args:
        model: the model.
        weight_decay: decay >= 0 for the other parameters.
        no_decay: None, a name substring or an iterable of them (a name matches if it
            contains one), or a predicate ``(name, param) -> bool``.

    Returns:
        ``[{"params": decayed, "weight_decay": weight_decay},
        {"params": not_decayed, "weight_decay": 0.0}]``.

    Example::

        opt = torch.optim.AdamW(rl.param_groups(model, 1e-2, no_decay=["embed"]), lr=1e-3)
    """
    if not isinstance(model, nn.Module):
        raise fail("param_groups", "model", "an nn.Module", model)
    wd = check_float("param_groups", "weight_decay", weight_decay, 0)
    skip = _no_decay_predicate(no_decay)
    decay, keep = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (keep if p.ndim <= 1 or skip(name, p) else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": keep, "weight_decay": 0.0}]


def _no_decay_predicate(no_decay: Any) -> Callable[[str, Tensor], bool]:
    allowed = "None, a string, an iterable of strings or a predicate (name, param) -> bool"
    if no_decay is None:
        return lambda name, p: False
    if callable(no_decay):
        return no_decay
    if isinstance(no_decay, str):
        no_decay = [no_decay]
    if not isinstance(no_decay, Iterable):
        raise fail("param_groups", "no_decay", allowed, no_decay)
    parts = list(no_decay)
    for part in parts:
        if not isinstance(part, str):
            raise fail("param_groups", "no_decay", allowed, part)
    return lambda name, p: any(part in name for part in parts)
