"""Image transforms for batches ``(B, C, H, W)``: rotation, flips, zoom, translation, cutout.

Geometry is one matrix per sample and one ``grid_sample`` per batch
(:func:`reglab.augment.functional.warp`); the parameters are
drawn here, from the caller's generator, so a seed reproduces them.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from reglab._validation import check_choice, check_float, fail
from reglab.augment import functional as AF
from reglab.augment._base import Transform, check_input, rand, uniform

__all__ = ["RandomRotation", "HorizontalFlip", "VerticalFlip", "RandomScale", "RandomTranslate",
           "RandomErasing"]

_PADDING = ("zeros", "border", "reflection")


class _Image(Transform):
    ndims = (4,)
    shape_text = "(B, C, H, W)"


class _Affine(_Image):
    """A geometric transform given by one 3x3 matrix per sample (``matrix``).

    Alone it resamples once; inside a :class:`~reglab.augment.Compose`, a run of them with one
    padding mode is fused: the matrices are multiplied and the batch is resampled once
    (``apply_fused``), so rotate + translate + scale cost one warp, not three, and the image
    is interpolated once instead of three times.
    """

    padding_mode = "zeros"

    def __init__(self, p: float = 1.0, padding_mode: str = "zeros"):
        super().__init__(p)
        self.padding_mode = check_choice(type(self).__name__, "padding_mode", padding_mode,
                                         _PADDING)

    def matrix(self, x: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def apply(self, x, **params):
        return AF.warp(x, self.matrix(x, **params), self.padding_mode)

    def fusion_key(self):
        return ("affine", self.padding_mode)

    @staticmethod
    def apply_fused(run: list, x: torch.Tensor, generator, strength: float) -> torch.Tensor:
        """``run[-1](... run[0](x))`` with one resampling: the same draws, in the same order,
        as applying them one by one (parameters, then the per-sample coin when p < 1)."""
        total = _Affine._total(run, x, generator, strength)
        return x.clone() if total is None else AF.warp(x, total, run[0].padding_mode)

    @staticmethod
    def apply_fused_each(runs: list, xs: torch.Tensor, generators: list,
                         strengths: list[float]) -> torch.Tensor:
        """``torch.stack([apply_fused(r, x, g, s) for ...])`` over a stack ``xs`` (M, B, C, H, W),
        each run drawing from its own generator exactly what ``apply_fused`` draws, in the
        same order, with the matrices of all M batches built in one pass per transform and
        all of them resampled in one ``warp``: the same numbers bit for bit (per sample the
        same arithmetic; the 3x3 products and inverses and ``grid_sample`` work sample by
        sample; cosines are taken batch by batch, see ``AF.matrix_from_trig``), at a fraction
        of M separate calls' cost (the stacked engine's augmented members).

        Runs of different transforms, or a transform that does nothing for one of them at
        its strength, take the matrices run by run (still one warp)."""
        uniform_runs = len({tuple(type(t) for t in r) for r in runs}) == 1
        acting = xs.shape[1] > 0 and all(
            t.probability(check_float(type(t).__name__, "strength", s, 0)) > 0
            for r, s in zip(runs, strengths) for t in r)
        if uniform_runs and acting:
            total = _Affine._totals_each(runs, xs, generators, strengths)
            return AF.warp(xs.flatten(0, 1), total, runs[0][0].padding_mode).view_as(xs)
        totals = [_Affine._total(r, x, g, s) for r, x, g, s in zip(runs, xs, generators, strengths)]
        moved = [i for i, m in enumerate(totals) if m is not None]
        out = xs.clone()
        if moved:
            chosen = xs[moved] if len(moved) < len(xs) else xs
            warped = AF.warp(chosen.flatten(0, 1), torch.cat([totals[i] for i in moved]),
                             runs[0][0].padding_mode).view_as(chosen)
            if len(moved) < len(xs):
                out[moved] = warped
            else:
                out = warped
        return out

    @staticmethod
    def _totals_each(runs: list, xs: torch.Tensor, generators: list,
                     strengths: list[float]) -> torch.Tensor:
        """The composed matrices ``(M * B, 3, 3)`` of runs of the same transforms, every one
        of which acts: per transform, each run's draws, then one ``matrix_each``."""
        b = xs.shape[1]
        like = xs[0, :1].expand(len(runs) * b, *xs.shape[2:])  # shape, dtype, device only
        total = None
        for j, head in enumerate(runs[0]):
            drawn = [r[j]._draw(x, g, s) for r, x, g, s in zip(runs, xs, generators, strengths)]
            m = head.matrix_each(like, [params for params, _ in drawn])
            if any(skip is not None for _, skip in drawn):
                none = torch.zeros(b, dtype=torch.bool, device=xs.device)
                m = _skip(m, torch.cat([none if skip is None else skip for _, skip in drawn]))
            total = m if total is None else m @ total  # later transforms act on the output
        return total

    @staticmethod
    def _total(run: list, x: torch.Tensor, generator, strength: float) -> torch.Tensor | None:
        """The run's composed per-sample matrix (None when none of it acts at this strength)."""
        total = None
        for t in run:
            m = t.draw_matrix(x, generator, strength)
            if m is not None:
                total = m if total is None else m @ total  # later transforms act on the output
        return total

    def draw_matrix(self, x: torch.Tensor, generator, strength: float) -> torch.Tensor | None:
        """This transform's per-sample matrices (identity where a sample's coin says skip),
        or None when it does nothing at this strength; draws exactly what ``__call__`` draws."""
        drawn = self._draw(x, generator, strength)
        if drawn is None:
            return None
        params, skip = drawn
        m = self.matrix(x, **params)
        return m if skip is None else _skip(m, skip)

    def _draw(self, x: torch.Tensor, generator, strength: float
              ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None] | None:
        """The parameters, then (when p < 1) the per-sample coin ``skip`` (B,): what
        ``__call__`` draws, in its order; None when nothing acts at this strength."""
        owner = type(self).__name__
        check_input(owner, x, self.ndims, self.shape_text)
        strength = check_float(owner, "strength", strength, 0)
        p = self.probability(strength)
        if p == 0.0 or x.shape[0] == 0:
            return None
        params = self.sample(x, generator, strength)
        skip = rand((x.shape[0],), generator, x) >= p if p < 1.0 else None
        return params, skip

    def matrix_each(self, like: torch.Tensor, params: list[dict[str, torch.Tensor]]
                    ) -> torch.Tensor:
        """The matrices of several batches' parameters in one pass: ``like`` has their total
        batch size (only its shape, dtype and device are used)."""
        return self.matrix(like, **{k: torch.cat([p[k] for p in params]) for k in params[0]})


def _skip(m: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``m`` with the identity where ``skip`` (B,) is True."""
    eye = torch.eye(3, dtype=m.dtype, device=m.device).expand_as(m)
    return torch.where(skip.view(-1, 1, 1), eye, m)


class RandomRotation(_Affine):
    """Rotate each image by its own angle ``a ~ U[-s*degrees, s*degrees]`` (``s`` = strength).

    Args:
        degrees: largest angle, in [0, 180].
        p: per-sample probability, default 1.
        padding_mode: fill for pixels rotated in from outside: "zeros", "border", "reflection".

    Example::

        RandomRotation(10)(x, generator=torch.Generator().manual_seed(0))
    """

    magnitude = "degrees"

    def __init__(self, degrees: float, p: float = 1.0, padding_mode: str = "zeros"):
        super().__init__(p, padding_mode)
        self.degrees = check_float("RandomRotation", "degrees", degrees, 0, 180)

    def sample(self, x, generator, strength):
        d = strength * self.degrees
        return {"angle": uniform((x.shape[0],), -d, d, generator, x)}

    def matrix(self, x, angle):
        return AF.affine_matrix(x, angle=angle)

    def matrix_each(self, like, params):
        rads = [torch.deg2rad(p["angle"].to(like)) for p in params]  # cosines batch by batch
        return AF.matrix_from_trig(like, torch.cat([torch.cos(r) for r in rads]),
                                   torch.cat([torch.sin(r) for r in rads]))

    def _repr_args(self) -> dict[str, Any]:
        return {"degrees": self.degrees}


class _Flip(_Image):
    """Flip with probability ``p * min(s, 1)``: a flip has no magnitude, so strength scales p."""

    def __init__(self, p: float = 0.5):
        super().__init__(p)

    def probability(self, strength: float) -> float:
        return self.p * min(strength, 1.0)

    def sample(self, x, generator, strength):
        return {}


class HorizontalFlip(_Flip):
    """Mirror left-right, each sample with probability ``p * min(strength, 1)`` (default p 0.5).

    Example::

        HorizontalFlip(p=0.5)(x)
    """

    def apply(self, x):
        return AF.hflip(x)


class VerticalFlip(_Flip):
    """Mirror top-bottom, each sample with probability ``p * min(strength, 1)`` (default p 0.5).

    Example::

        VerticalFlip(p=0.5)(x)
    """

    def apply(self, x):
        return AF.vflip(x)


class RandomScale(_Affine):
    """Zoom each image about its centre by ``z = u ** s``, ``u ~ U[low, high]`` (``s`` = strength).

    ``z > 1`` enlarges the content (zoom in), ``z < 1`` shrinks it; at ``s = 0``, ``z = 1``.

    Args:
        low, high: range of the zoom factor at strength 1, ``0 < low <= high``.
        p: per-sample probability, default 1.
        padding_mode: fill for pixels from outside when zooming out.

    Example::

        RandomScale(0.9, 1.1)(x)
    """

    def __init__(self, low: float = 0.9, high: float = 1.1, p: float = 1.0,
                 padding_mode: str = "zeros"):
        super().__init__(p, padding_mode)
        self.low = check_float("RandomScale", "low", low, 0, low_open=True)
        self.high = check_float("RandomScale", "high", high, 0, low_open=True)
        if self.high < self.low:
            raise fail("RandomScale", "high", f"a float >= low ({self.low:g})", high)

    def probability(self, strength: float) -> float:
        trivial = self.low == self.high == 1.0
        return self.p if strength > 0 and not trivial else 0.0

    def sample(self, x, generator, strength):
        u = uniform((x.shape[0],), self.low, self.high, generator, x)
        return {"scale": u ** strength}

    def matrix(self, x, scale):
        return AF.affine_matrix(x, scale=scale)

    def _repr_args(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


class RandomTranslate(_Affine):
    """Move each image by ``(dx, dy) = s * (u W, v H)``, ``u, v ~ U[-fraction, fraction]``.

    Args:
        fraction: largest move as a fraction of the width / height, in [0, 1].
        p: per-sample probability, default 1.
        padding_mode: fill for the uncovered pixels.

    Example::

        RandomTranslate(0.1)(x)
    """

    magnitude = "fraction"

    def __init__(self, fraction: float = 0.1, p: float = 1.0, padding_mode: str = "zeros"):
        super().__init__(p, padding_mode)
        self.fraction = check_float("RandomTranslate", "fraction", fraction, 0, 1)

    def sample(self, x, generator, strength):
        f = strength * self.fraction
        size = x.new_tensor([x.shape[-1], x.shape[-2]])  # (W, H)
        return {"translate": uniform((x.shape[0], 2), -f, f, generator, x) * size}

    def matrix(self, x, translate):
        return AF.affine_matrix(x, translate=translate)

    def _repr_args(self) -> dict[str, Any]:
        return {"fraction": self.fraction}


class RandomErasing(_Image):
    """Cutout: set one random box per image to ``value`` (Zhong et al. 2020, arXiv:1708.04896).

    Box area ``a = min(s * U[scale], 1) * H * W``, aspect ``r ~ logU[ratio]``, height
    ``round(sqrt(a r))``, width ``round(sqrt(a / r))`` (clipped to the image), top-left corner
    uniform over the positions where the box fits.

    Args:
        p: per-sample probability, default 0.5.
        scale: range of the erased area fraction at strength 1, ``0 <= low <= high <= 1``.
        ratio: range of the aspect ratio height / width, ``0 < low <= high``.
        value: fill value (0 is the mean of standardized data).

    Example::

        RandomErasing(p=0.5)(x)
    """

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.33),
                 ratio: tuple[float, float] = (0.3, 3.3), value: float = 0.0):
        super().__init__(p)
        self.scale = _pair("scale", scale, 0, 1, low_open=False)
        self.ratio = _pair("ratio", ratio, 0, None, low_open=True)
        self.value = check_float("RandomErasing", "value", value)

    def probability(self, strength: float) -> float:
        return self.p if strength * self.scale[1] > 0 else 0.0

    def sample(self, x, generator, strength):
        b, (h, w) = x.shape[0], x.shape[-2:]
        area = (uniform((b,), *self.scale, generator, x) * strength).clamp(max=1.0) * (h * w)
        log_r = uniform((b,), math.log(self.ratio[0]), math.log(self.ratio[1]), generator, x)
        bh = torch.sqrt(area * log_r.exp()).round().clamp(0, h).long()
        bw = torch.sqrt(area / log_r.exp()).round().clamp(0, w).long()
        top = (rand((b,), generator, x) * (h - bh + 1)).floor().long().clamp(max=h)
        left = (rand((b,), generator, x) * (w - bw + 1)).floor().long().clamp(max=w)
        return {"top": top, "left": left, "height": bh, "width": bw}

    def apply(self, x, top, left, height, width):
        return AF.erase(x, top, left, height, width, self.value)

    def _repr_args(self) -> dict[str, Any]:
        return {"scale": self.scale, "ratio": self.ratio, "value": self.value}


def _pair(name: str, value: Any, low: float, high: float | None, low_open: bool) -> tuple[float, float]:
    allowed = (f"a pair (low, high) of floats in the range {'(' if low_open else '['}{low:g}, "
               f"{'inf)' if high is None else f'{high:g}]'} with low <= high")
    try:
        a, b = value
        a = check_float("RandomErasing", name, a, low, high, low_open=low_open)
        b = check_float("RandomErasing", name, b, low, high, low_open=low_open)
    except (TypeError, ValueError):
        raise fail("RandomErasing", name, allowed, value) from None
    if a > b:
        raise fail("RandomErasing", name, allowed, value)
    return a, b
