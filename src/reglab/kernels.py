"""Regularizer math, written once: functional kernels over plain tensors.

Every formula of a weight regularizer lives here and nowhere else; ``rl.L1`` / ``rl.L2`` /
``rl.ElasticNet`` / ``rl.GroupLasso`` (loss term and gradient hook), ``rl.ProximalL1``,
``rl.ProximalGroupLasso``, ``rl.DecoupledWeightDecay`` and the stacked engine
(``reglab.train.stacked``) all call them.

A strength is a Python float, or a per-member tensor of shape ``(K, 1, 1)`` for stacked
weights ``(K, in, out)`` (member ``k`` gets strength ``s[k]``): the same kernel, the same
numbers per member (``tests/test_kernels.py`` checks float against tensor bit for bit).

* ``add_l1_l2_grad_``:      ``grad += l1 * sign(w) + 2 * l2 * w``  (L1 / L2 / elastic net);
  ``l1_l2_grad``: the same as new tensors
* ``l1_value``, ``l2_value``: ``l1 * sum |w|``, ``l2 * sum w^2``; ``l1_values``,
  ``l2_values``: the same for many tensors, one strength each
* ``group_lasso_grad(s)``, ``group_lasso_value``: ``lam * row / ||row||``, ``lam * sum ||row||``
  (a row may take its bias entry into its group: ``||row||`` is then ``||(row, b)||``)
* ``decay_``:               ``w <- w * (1 - t)``, ``t = lr * wd``  (decoupled weight decay)
* ``soft_threshold_``:      ``w <- sign(w) * max(|w| - t, 0)``, ``t = lr * lam``  (proximal L1)
* ``group_soft_threshold_``: ``row <- row * max(1 - t / ||row||, 0)``  (proximal group lasso)
* ``smooth_targets``:       ``t' = (1 - eps) t + eps / C``  (label smoothing of soft targets);
  ``cross_entropy``: the training loss with label smoothing, hard or soft targets
* ``bernoulli_``:           ``m <- 1`` with probability ``p``, else 0: every dropout mask's
  draw (one stream on every CPU)

Example::

    add_l1_l2_grad_([w.grad], [w], l1=1e-4, l2=1e-3)
    soft_threshold_(stacked_ws, t=(lr * lam).view(-1, 1, 1))   # per member
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Strength", "add_l1_l2_grad_", "l1_l2_grad", "l1_value", "l2_value",
           "l1_values", "l2_values",
           "group_lasso_grad", "group_lasso_grads", "group_lasso_value", "decay_", "bernoulli_",
           "soft_threshold_", "group_soft_threshold_", "smooth_targets", "cross_entropy",
           "weight_stats", "without_grad"]

Strength = Union[float, Tensor]  # a number, or (K, 1, 1): one per member of a stack
_EXACT = (torch.float32, torch.float64)  # dtypes whose arithmetic is their own (no wider opmath)


def _off(s: Strength) -> bool:
    return not isinstance(s, Tensor) and s == 0.0


def without_grad(fn):
    """``fn`` run with grad mode off, like ``@torch.no_grad()`` but for hot paths: that
    context costs ~1.5 us a call (six Python calls), as much as a small fused op; this one
    costs nothing when grad mode is already off and two C calls when it is on. The gradient
    hooks, the update rules and the stacked engine call the kernels once or more per step."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        if not torch.is_grad_enabled():
            return fn(*args, **kwargs)
        torch._C._set_grad_enabled(False)
        try:
            return fn(*args, **kwargs)
        finally:
            torch._C._set_grad_enabled(True)
    return run


# Elements per chunk for L1 on large CPU tensors: a chunk of w, .grad and sign(w) (3 x 256 KiB
# in float32) stays in this CPU's 2 MiB L2 cache, so w and .grad cross the memory bus once
# instead of three times (bench/penalty_overhead.py, bench/RESULTS.md: 1024 x 1024 weights, one
# thread, hot: 0.60 ms chunked, 1.13 ms unchunked foreach, 0.62 ms a torch.compile'd one-pass
# kernel, after 7-25 s of compiling; one read + write pass over w and .grad alone: 0.30 ms).
_CHUNK = 1 << 16


def _chunked(g: Tensor, w: Tensor) -> bool:
    """Whether ``g += l1 * sign(w) + ...`` goes chunk by chunk: a large, contiguous CPU pair."""
    return (w.numel() > _CHUNK and w.device.type == "cpu" and w.is_contiguous()
            and g.is_contiguous())  # (numel first: small tensors go no further)


def _add_l1_l2_chunked_(g: Tensor, w: Tensor, l1: float, l2: float) -> None:
    """``g += l1 * sign(w)``, then ``g += 2 * l2 * w``, one cache-sized chunk at a time: the
    same operations in the same order as the fused path, so the same numbers."""
    scratch = torch.empty(_CHUNK, dtype=w.dtype)  # sign(w) of one chunk, reused
    for wc, gc in zip(w.view(-1).split(_CHUNK), g.view(-1).split(_CHUNK)):
        sign = torch.sign(wc, out=scratch if wc.numel() == _CHUNK else scratch[:wc.numel()])
        gc.add_(sign, alpha=l1)
        if l2 != 0.0:
            gc.add_(wc, alpha=2.0 * l2)


@without_grad
def add_l1_l2_grad_(grads: Sequence[Tensor], ws: Sequence[Tensor], l1: Strength = 0.0,
                    l2: Strength = 0.0) -> None:
    """``grads[i] += l1 * sign(ws[i]) + 2 * l2 * ws[i]``, in place: d/dw of the L1 + L2 terms.

    The L1 term is added first, then the L2 term, for every element. Float strengths: one
    fused ``torch._foreach_*`` call per term, except L1 on large contiguous CPU tensors, done
    in cache-sized chunks (same operations, same numbers); tensor strengths ``(K, 1, 1)``: one
    multiply-add per tensor and term.

    Args:
        grads: the gradients to add to (same shapes as ``ws``).
        ws: the weights.
        l1, l2: strengths, floats or (K, 1, 1) tensors (0: the term is skipped).
    """
    if not ws or (_off(l1) and _off(l2)):
        return
    grads, ws = list(grads), list(ws)
    rest_g, rest_w = grads, ws  # the pairs whose L2 term is still to add
    if isinstance(l1, Tensor):
        for g, w in zip(grads, ws):
            g.addcmul_(torch.sign(w), l1)
    elif l1 != 0.0:
        rest_g, rest_w = [], []
        for g, w in zip(grads, ws):
            if w.numel() > _CHUNK and not isinstance(l2, Tensor) and _chunked(g, w):
                _add_l1_l2_chunked_(g, w, l1, l2)  # both terms, chunk by chunk
            else:
                rest_g.append(g)
                rest_w.append(w)
        if rest_w:
            torch._foreach_add_(rest_g, torch._foreach_sign(rest_w), alpha=l1)
    if isinstance(l2, Tensor):
        for g, w in zip(grads, ws):
            g.addcmul_(w, 2 * l2)
    elif l2 != 0.0 and rest_w:
        torch._foreach_add_(rest_g, rest_w, alpha=2.0 * l2)


@without_grad
def l1_l2_grad(ws: Sequence[Tensor], l1: float = 0.0, l2: float = 0.0,
               signs: list[Tensor] | None = None) -> list[Tensor]:
    """``l1 * sign(w) + 2 * l2 * w`` as new tensors (float strengths): the loss term's backward.

    The same numbers as :func:`add_l1_l2_grad_` onto zeros, bit for bit (``0 + x = x``;
    tests/test_kernels.py), without the pass that writes the zeros. ``signs``: ``sign(w)``
    already computed (by :func:`l1_value`'s caller); they become the result, in place.
    """
    ws = list(ws)
    if l1 == 0.0:
        return torch._foreach_mul(ws, 2.0 * l2)
    out = torch._foreach_sign(ws) if signs is None else signs
    torch._foreach_mul_(out, l1)  # exact: +-l1 or 0
    if l2 != 0.0:
        torch._foreach_add_(out, ws, alpha=2.0 * l2)
    return out


def _norm(w: Tensor, ord: int, s: Strength) -> Tensor:
    """``||w||_ord``: of the whole tensor (float strength) or per member (K,) (tensor)."""
    flat = w.flatten(1) if isinstance(s, Tensor) else w.reshape(-1)
    return torch.linalg.vector_norm(flat, ord, dim=-1)


def _scale(s: Strength) -> Strength:
    return s.reshape(-1) if isinstance(s, Tensor) else s  # (K, 1, 1) -> (K,)


def l1_value(w: Tensor, lam: Strength, sign: Tensor | None = None) -> Tensor:
    """``lam * sum |w|``: 0-dim for a float ``lam``, (K,) per member for a (K, 1, 1) one.

    With ``sign = sign(w)`` given (a float ``lam``), ``sum |w| = <w, sign(w)>``: one BLAS dot,
    for a caller that needs the signs anyway (the loss term keeps them for its backward).
    """
    if sign is not None:
        return lam * torch.dot(w.reshape(-1), sign.reshape(-1))
    return _scale(lam) * _norm(w, 1, lam)


def l2_value(w: Tensor, lam: Strength) -> Tensor:
    """``lam * sum w^2``: 0-dim for a float ``lam``, (K,) per member for a (K, 1, 1) one."""
    return _scale(lam) * _norm(w, 2, lam).square()


def _norms(ws: Sequence[Tensor], ord: int) -> Tensor:
    """``||ws[i]||_ord`` of each (non-empty list of) tensor(s), (N,): one fused pass."""
    return torch.stack(torch._foreach_norm([w.reshape(-1) for w in ws], ord))


def l1_values(ws: Sequence[Tensor], lams: Tensor) -> Tensor:
    """``lams[i] * sum |ws[i]|`` for each tensor, (N,) (``lams``: one strength per tensor):
    what ``l1_value(ws[i], float(lams[i]))`` gives, bit for bit, from one fused norm (the
    stacked engine's members that share no strength tensor)."""
    return lams * _norms(ws, 1)


def l2_values(ws: Sequence[Tensor], lams: Tensor) -> Tensor:
    """``lams[i] * sum ws[i]^2`` for each tensor, (N,): ``l2_value`` of each, bit for bit."""
    return lams * _norms(ws, 2).square()


def _row_norms(w: Tensor, s: Strength, bias: Tensor | None = None) -> Tensor:
    """``||row||_2`` per row, kept for broadcasting: rows are dim 0 of ``w`` (float strength)
    or dim 1 of a stacked ``w`` (K, R, ...) (tensor strength); a row is all the rest, and with
    ``bias`` (R,) or (K, R) also the row's bias entry: ``sqrt(||row||^2 + b^2)``."""
    first = 2 if isinstance(s, Tensor) else 1
    if w.ndim <= first:  # one number per row: its norm is its absolute value
        norms = w.abs()
    else:
        norms = torch.linalg.vector_norm(w, dim=tuple(range(first, w.ndim)), keepdim=True)
    if bias is None:
        return norms
    return torch.hypot(norms, bias.reshape(norms.shape))


def group_lasso_value(w: Tensor, lam: Strength, bias: Tensor | None = None) -> Tensor:
    """``lam * sum_rows ||row||_2``; rows = dim 0 (one per output neuron / filter), or dim 1
    of stacked (K, R, ...) weights with a (K, 1, 1) ``lam``: then (K,) per member. With
    ``bias``, a row's group is its weights and its bias entry."""
    norms = _row_norms(w, lam, bias)
    return _scale(lam) * (norms.flatten(1).sum(1) if isinstance(lam, Tensor) else norms.sum())


def group_lasso_grads(w: Tensor, lam: Strength, bias: Tensor | None = None
                      ) -> tuple[Tensor, Tensor | None]:
    """``d/dw`` and ``d/db`` of ``lam * sum_rows ||(row, b)||``: ``lam * row / ||(row, b)||``
    and ``lam * b / ||(row, b)||`` (the subgradient 0 on a zero group), new tensors; the bias
    gradient is None without ``bias``."""
    norms = _row_norms(w, lam, bias)
    scale = torch.where(norms > 0, norms.reciprocal(), 0.0) * lam  # 1/0 = inf masked, unused
    return w * scale, None if bias is None else bias * scale.reshape(bias.shape)


def group_lasso_grad(w: Tensor, lam: Strength) -> Tensor:
    """``d/dw lam * sum_rows ||row||`` = ``lam * row / ||row||`` (the subgradient 0 on a zero
    row), a new tensor shaped like ``w``; rows as in :func:`group_lasso_value`."""
    return group_lasso_grads(w, lam)[0]


@without_grad
def weight_stats(ws: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Per member (dim 0 of each tensor): the fraction of exact zeros in ``ws`` and their L2
    norm ``sqrt(sum w^2)``, both float64 tensors of shape (K,). One model's weights: unsqueeze
    each to a member axis of 1.

    ``count_nonzero`` (no boolean mask) and one fused ``vector_norm(dtype=float64)`` (no
    separate copy, square and sum passes): 4 ms instead of 12 ms per epoch for six
    64-512-512-10 members; the norm agrees with ``sqrt(sum(w.double() ** 2))`` to ~1e-14
    relative.
    """
    total = sum(w[0].numel() for w in ws)
    zeros = sum(w[0].numel() - torch.count_nonzero(w, dim=tuple(range(1, w.ndim))) for w in ws)
    norm = torch.sqrt(sum(torch.linalg.vector_norm(w, dim=tuple(range(1, w.ndim)),
                                                   dtype=torch.float64).square() for w in ws))
    return zeros.double() / max(total, 1), norm


@without_grad
def decay_(ws: Sequence[Tensor], t: Strength) -> None:
    """Decoupled weight decay ``w <- w * (1 - t)``, ``t = lr * wd``, in place (Loshchilov &
    Hutter, 2019). ``t``: a float or (K, 1, 1) per member."""
    ws = list(ws)
    if not ws:
        return
    if isinstance(t, Tensor):
        torch._foreach_mul_(ws, [1.0 - t] * len(ws))
        return
    d = ws[0].dtype
    if d in _EXACT and ws[0].device.type == "cpu" and all(w.dtype is d for w in ws):
        # the same product as with the Python number (rounded once to w's dtype), through
        # the 0-dim tensor overload: 3.9 us against 11.5 us for three small CPU tensors
        torch._foreach_mul_(ws, _factor(1.0 - t, d))
    else:
        torch._foreach_mul_(ws, 1.0 - t)


def bernoulli_(out: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """``out <- 1`` with probability ``p``, else 0, in place (the dropout mask's draw);
    returns ``out``. ``generator``: None draws from the global RNG.

    On the CPU the draw is ``rand(float64) < p``, element by element in row-major order.
    That is, bit for bit and with the generator left in the same state, what PyTorch's own
    ``out.bernoulli_(p)`` draws on an AMD (any non-Intel) CPU; on an Intel CPU PyTorch draws
    it from MKL instead, seeded by one number of the generator, so the same seed gave other
    masks, and other results, on the other vendor's machines. Here every CPU draws the same
    masks, 1.4-2x faster than PyTorch's per-element default (``bench/dropout_mask.py``). On
    other devices it is PyTorch's ``bernoulli_``.
    """
    if out.device.type != "cpu":
        return out.bernoulli_(p, generator=generator)
    u = torch.rand(out.shape, dtype=torch.float64, device="cpu", generator=generator)
    return torch.lt(u, p, out=out)


_FACTORS: dict[tuple[float, torch.dtype], Tensor] = {}


def _factor(value: float, dtype: torch.dtype) -> Tensor:
    """``value`` as a 0-dim CPU tensor of ``dtype``, made once per (value, dtype) and kept: a
    decay at a constant lr multiplies by the same factor every step, and making the tensor
    costs ~2.5 us, a quarter of the decay hook. Only a plain tensor is kept (not one made
    under inference mode or while torch.compile traces): read-only, it is never written."""
    key = (value, dtype)
    s = _FACTORS.get(key)
    if s is None:
        s = torch.scalar_tensor(value, dtype=dtype, device="cpu")
        if type(s) is Tensor and not s.is_inference():
            if len(_FACTORS) >= 16:  # a schedule changes the factor every step: keep few
                _FACTORS.clear()
            _FACTORS[key] = s
    return s


@without_grad
def soft_threshold_(ws: Sequence[Tensor], t: Strength) -> None:
    """Proximal L1: ``w <- sign(w) * max(|w| - t, 0)``, in place; exact zeros where |w| <= t.

    A float ``t`` uses ``softshrink`` (one pass, in place); a (K, 1, 1) ``t`` the same
    operator written as ``w - clamp(w, -t, t)``: both round ``w -+ t`` once and give exactly
    0 for ``|w| <= t``, so the numbers are the same bit for bit (tests/test_kernels.py).
    """
    for w in ws:
        if isinstance(t, Tensor):
            w.sub_(torch.clamp(w, -t, t))
        else:
            F.softshrink(w, t, out=w)  # (a builtin: 1.5 us a call less than torch.ops.aten)


@without_grad
def group_soft_threshold_(w: Tensor, t: Strength, bias: Tensor | None = None) -> None:
    """Proximal group lasso: ``row <- row * max(1 - t / ||row||, 0)``, in place; whole rows
    become exactly 0. Rows as in :func:`group_lasso_value`; ``t = lr * lam``, float or
    (K, 1, 1). With ``bias``, the group is the row and its bias entry: both are scaled by
    ``max(1 - t / ||(row, b)||, 0)``, so a dead neuron outputs exactly 0."""
    # A zero group gives t / 0 = inf -> 1 - inf clamps to 0: the group stays 0.
    factor = (1.0 - t / _row_norms(w, t, bias)).clamp_min_(0.0)
    w.mul_(factor)
    if bias is not None:
        bias.mul_(factor.reshape(bias.shape))


def smooth_targets(target: Tensor, eps: Strength, num_classes: int) -> Tensor:
    """Label smoothing of soft targets ``(..., C)``: ``t' = (1 - eps) t + eps / C``.

    For one-hot ``t`` this is the target of ``F.cross_entropy(label_smoothing=eps)``; for
    mixup / cutmix targets it smooths the mixed distribution (still summing to 1).
    ``eps``: a float, or ``(K, 1, 1)`` per member of a stack of ``(K, B, C)`` targets.
    """
    return target * (1.0 - eps) + eps / num_classes


def cross_entropy(logits: Tensor, target: Tensor, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Tensor:
    """The training loss: cross-entropy with label smoothing ``eps`` (Szegedy et al. 2016).

    Hard targets ``(N,)``: ``F.cross_entropy(label_smoothing=eps)``; soft targets ``(N, C)``
    (mixup / cutmix): plain cross-entropy against :func:`smooth_targets`. ``eps = 0`` is
    plain cross-entropy, exactly. Validation and test losses do not use it: they stay plain
    cross-entropy, so they measure the same thing with and without smoothing.
    """
    if target.ndim == logits.ndim - 1:  # class indices
        return F.cross_entropy(logits, target, label_smoothing=label_smoothing,
                               reduction=reduction)
    if label_smoothing:
        target = smooth_targets(target, label_smoothing, logits.shape[-1])
    return F.cross_entropy(logits, target, reduction=reduction)
