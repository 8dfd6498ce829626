"""Batch mixing with soft targets: Mixup, CutMix, and the soft-target cross-entropy.

Each sample ``i`` is mixed with a random other sample ``j`` of the batch, with its own
weight ``lam_i ~ Beta(alpha, alpha)``; the target becomes the same mixture of one-hot rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reglab._validation import InvalidParameterError, check_choice, check_float, check_int, fail
from reglab.augment import functional as AF
from reglab.augment._base import _gen_device, check_input, partner, rand
from reglab.schedules import Scheduled, Strength, check_strength

__all__ = ["Mixup", "CutMix", "soft_cross_entropy", "soft_targets"]


def beta(alpha: float, n: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """``n`` draws of ``Beta(alpha, alpha)`` in ``like``'s dtype and device.

    torch's Beta sampler takes no generator, so one int64 is drawn from ``generator`` (or
    torch's global one) to seed numpy's: the same seed still gives the same weights.
    """
    dev = _gen_device(generator, like.device)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=dev).item())
    lam = np.random.default_rng(seed).beta(alpha, alpha, size=n)
    return torch.as_tensor(lam, dtype=like.dtype, device=like.device)


def soft_targets(y: torch.Tensor, num_classes: int, owner: str = "soft_targets") -> torch.Tensor:
    """Class indices ``(B,)`` -> one-hot float rows ``(B, K)``; soft rows ``(B, K)`` pass through."""
    if y.ndim == 1 and not y.is_floating_point():
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise fail(owner, "y", f"class indices in [0, {num_classes - 1}]",
                       f"labels in [{int(y.min())}, {int(y.max())}]")
        return F.one_hot(y, num_classes).float()
    if y.ndim == 2 and y.is_floating_point() and y.shape[1] == num_classes:
        return y
    raise InvalidParameterError(
        f"The 'y' parameter of {owner} must be int64 class indices (B,) or float soft targets "
        f"(B, {num_classes}). Got a {y.dtype} tensor of shape {tuple(y.shape)} instead.")


class _Mix(Scheduled):
    """Shared by Mixup and CutMix: validation, generator, strength and the mixed targets."""

    ndims: tuple[int, ...] = ()
    shape_text = "(B, ...)"

    def __init__(self, alpha: float, p: float, seed: int | None, strength: Strength):
        name = type(self).__name__
        self.alpha = check_float(name, "alpha", alpha, 0, low_open=True)
        self.p = check_float(name, "p", p, 0, 1)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise fail(name, "seed", "an int or None", seed)
        self.seed = seed
        self.strength = check_strength(name, "strength", strength, 0)
        self._generators: dict[str, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=key).manual_seed(self.seed)
        return self._generators[key]

    def _weights(self, x, generator, strength) -> torch.Tensor:
        """``lam`` per sample: ``1 - min(s, 1) * (1 - Beta)``, and 1 where not applied (p)."""
        lam = 1.0 - min(strength, 1.0) * (1.0 - beta(self.alpha, x.shape[0], generator, x))
        if self.p < 1.0:
            lam = torch.where(rand((x.shape[0],), generator, x) < self.p, lam, torch.ones_like(lam))
        return lam

    def __call__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_mixed, y_soft)``: new tensors; ``y_soft`` is float ``(B, K)``, rows sum to 1."""
        name = type(self).__name__
        check_input(name, x, self.ndims, self.shape_text)
        k = check_int(name, "num_classes", num_classes, 1)
        target = soft_targets(y, k, name).to(device=x.device, dtype=x.dtype)
        if target.shape[0] != x.shape[0]:
            raise fail(name, "y", f"{x.shape[0]} labels, one per sample of x",
                       f"{target.shape[0]} labels")
        gen = generator if generator is not None else self._generator(x.device)
        s = self.value_of(self.strength)
        self.advance(1)
        j = partner((x.shape[0],), gen, x.device)
        x_mixed, lam = self.mix(x, x[j], self._weights(x, gen, s), gen)
        lam = lam[:, None]
        return x_mixed, lam * target + (1.0 - lam) * target[j]

    def _repr_args(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "p": self.p, "seed": self.seed}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._repr_args().items())
        return f"{type(self).__name__}({inner})"


class Mixup(_Mix):
    """Mixup (Zhang et al. 2018, arXiv:1710.09412): ``x_i' = lam_i x_i + (1 - lam_i) x_j``.

    ``lam_i ~ Beta(alpha, alpha)`` per sample, ``j`` a random other sample; the target is
    ``lam_i onehot(y_i) + (1 - lam_i) onehot(y_j)``. ``strength`` ``s`` shrinks the mixing
    to ``lam = 1 - min(s, 1) (1 - Beta)`` (0 = identity).

    Args:
        alpha: Beta concentration, > 0 (0.2 is common; 1 gives uniform weights).
        p: per-sample probability of mixing, default 1.
        seed: seed of its own generator, or None for torch's global one.
        strength: number >= 0 or a schedule (advances once per call).

    Example::

        xb, yb_soft = Mixup(alpha=0.2)(xb, yb, num_classes=10)
        loss = soft_cross_entropy(model(xb), yb_soft)
    """

    def __init__(self, alpha: float = 0.2, p: float = 1.0, seed: int | None = None,
                 strength: Strength = 1.0):
        super().__init__(alpha, p, seed, strength)

    def mix(self, x, other, lam, generator):
        w = lam.view(-1, *([1] * (x.ndim - 1)))
        return w * x + (1.0 - w) * other, lam


class CutMix(_Mix):
    """CutMix (Yun et al. 2019, arXiv:1905.04899): paste a box of a random other sample.

    Images ``(B, C, H, W)``: box of area ``(1 - lam_i) H W`` (sides ``sqrt(1 - lam_i)`` of
    the image's), centre uniform, clipped to the image; signals ``(B, C, L)``: a segment of
    length ``(1 - lam_i) L``. The label weight is recomputed from the pasted area, so
    ``y_soft[i, y_j]`` is exactly the fraction of pixels that came from sample ``j``.

    Args:
        alpha: Beta concentration, > 0 (1.0 in the paper).
        p: per-sample probability of mixing, default 1.
        seed: seed of its own generator, or None for torch's global one.
        strength: number >= 0 or a schedule; shrinks the box (0 = identity).

    Example::

        xb, yb_soft = CutMix(alpha=1.0)(xb, yb, num_classes=10)
    """

    ndims = (3, 4)
    shape_text = "(B, C, H, W) or (B, C, L)"

    def __init__(self, alpha: float = 1.0, p: float = 1.0, seed: int | None = None,
                 strength: Strength = 1.0):
        super().__init__(alpha, p, seed, strength)

    def mix(self, x, other, lam, generator):
        if x.ndim == 4:
            h, w = x.shape[-2:]
            side = (1.0 - lam).sqrt()  # box sides are this fraction of the image's
            top, height = _segment(h, side * h, generator, x)
            left, width = _segment(w, side * w, generator, x)
            mask = AF.box_mask((h, w), top, left, height, width)[:, None]  # (B, 1, H, W)
        else:
            n = x.shape[-1]
            start, size = _segment(n, (1.0 - lam) * n, generator, x)
            pos = torch.arange(n, device=x.device)
            mask = ((pos >= start[:, None]) & (pos < (start + size)[:, None]))[:, None]  # (B, 1, L)
        pasted = mask.flatten(1).to(x.dtype).mean(1)  # the exact label weight of the partner
        return torch.where(mask, other, x), 1.0 - pasted


def _segment(n: int, length: torch.Tensor, generator, like) -> tuple[torch.Tensor, torch.Tensor]:
    """A segment of about ``length`` cells centred uniformly in ``[0, n)``, clipped: (start, size)."""
    centre = (rand(tuple(length.shape), generator, like) * n).floor()
    start = (centre - length / 2).round().clamp(0, n)
    stop = (centre + length / 2).round().clamp(0, n)
    return start.long(), (stop - start).long()


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                       reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy with soft targets: ``-sum_k t_k log softmax(z)_k``, averaged over the batch.

    Int64 class indices are accepted too (then it is ``F.cross_entropy``).

    Args:
        logits: ``(B, K)``.
        target: float ``(B, K)`` rows summing to 1, or int64 ``(B,)``.
        reduction: "mean" (default), "sum" or "none".

    Example::

        loss = soft_cross_entropy(model(xb), yb_soft)
    """
    check_choice("soft_cross_entropy", "reduction", reduction, ("mean", "sum", "none"))
    if not target.is_floating_point():
        return F.cross_entropy(logits, target, reduction=reduction)
    loss = -(target * F.log_softmax(logits, dim=-1)).sum(-1)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
