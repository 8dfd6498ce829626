"""Signal transforms for batches ``(B, L)`` or ``(B, C, L)``: shift, amplitude, time-warp.

All channels of a sample share its parameters (one shift, one gain, one stretch per sample).
"""

from __future__ import annotations

import math
from typing import Any

from reglab._validation import check_choice, check_float, fail
from reglab.augment import functional as AF
from reglab.augment._base import Transform, randint, uniform

__all__ = ["Shift", "AmplitudeScale", "TimeWarp"]


class _Signal(Transform):
    ndims = (2, 3)
    shape_text = "(B, L) or (B, C, L)"


class Shift(_Signal):
    """Shift each signal by ``k ~ U{-K, ..., K}`` samples, ``K = floor(s * max_shift * L)``.

    ``out[t] = x[t - k]``; ``mode="zeros"`` fills the vacated samples with 0 (the mean of
    standardized data), ``mode="circular"`` wraps the signal around.

    Args:
        max_shift: largest shift as a fraction of the length ``L``, in [0, 1].
        mode: "zeros" or "circular".
        p: per-sample probability, default 1.

    Example::

        Shift(0.1, mode="circular")(x)      # x: (B, 1, 40) -> shifts in -4..4
    """

    magnitude = "max_shift"

    def __init__(self, max_shift: float = 0.1, mode: str = "zeros", p: float = 1.0):
        super().__init__(p)
        self.max_shift = check_float("Shift", "max_shift", max_shift, 0, 1)
        self.mode = check_choice("Shift", "mode", mode, ("zeros", "circular"))

    def max_samples(self, length: int, strength: float) -> int:
        """``K``: the largest shift in samples at this length and strength (exact for 0.1*40)."""
        return int(math.floor(strength * self.max_shift * length + 1e-9))

    def sample(self, x, generator, strength):
        k = self.max_samples(x.shape[-1], strength)
        return {"shifts": randint(-k, k, (x.shape[0],), generator, x.device)}

    def apply(self, x, shifts):
        return AF.shift(x, shifts, self.mode)

    def _repr_args(self) -> dict[str, Any]:
        return {"max_shift": self.max_shift, "mode": self.mode}


class AmplitudeScale(_Signal):
    """Multiply each signal by a gain ``g = u ** s``, ``u ~ U[low, high]`` (``s`` = strength).

    Args:
        low, high: gain range at strength 1, ``0 < low <= high``.
        p: per-sample probability, default 1.

    Example::

        AmplitudeScale(0.8, 1.2)(x)
    """

    ndims = ()  # a gain per sample makes sense for any shape (B, ...)
    shape_text = "(B, ...)"

    def __init__(self, low: float = 0.8, high: float = 1.2, p: float = 1.0):
        super().__init__(p)
        self.low = check_float("AmplitudeScale", "low", low, 0, low_open=True)
        self.high = check_float("AmplitudeScale", "high", high, 0, low_open=True)
        if self.high < self.low:
            raise fail("AmplitudeScale", "high", f"a float >= low ({self.low:g})", high)

    def probability(self, strength: float) -> float:
        return self.p if strength > 0 and not self.low == self.high == 1.0 else 0.0

    def sample(self, x, generator, strength):
        return {"gain": uniform((x.shape[0],), self.low, self.high, generator, x) ** strength}

    def apply(self, x, gain):
        return x * gain.view(-1, *([1] * (x.ndim - 1)))

    def _repr_args(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


class TimeWarp(_Signal):
    """Stretch each signal about its centre by ``r = (1 + max_stretch) ** (s * u)``, ``u ~ U[-1, 1]``.

    ``out(t) = x(c + (t - c) / r)``, linear interpolation (``grid_sample`` in 1-D), so
    ``r`` is log-uniform in ``[1 / (1 + m), 1 + m]`` at strength 1.

    Args:
        max_stretch: ``m`` >= 0; 0.2 stretches or compresses by up to 20 %.
        p: per-sample probability, default 1.
        padding_mode: "zeros" or "border" for samples from outside the signal.

    Example::

        TimeWarp(0.2)(x)
    """

    magnitude = "max_stretch"

    def __init__(self, max_stretch: float = 0.2, p: float = 1.0, padding_mode: str = "zeros"):
        super().__init__(p)
        self.max_stretch = check_float("TimeWarp", "max_stretch", max_stretch, 0, 10)
        self.padding_mode = check_choice("TimeWarp", "padding_mode", padding_mode,
                                         ("zeros", "border"))

    def sample(self, x, generator, strength):
        u = uniform((x.shape[0],), -1.0, 1.0, generator, x)
        return {"factors": (strength * math.log1p(self.max_stretch) * u).exp()}

    def apply(self, x, factors):
        return AF.time_warp(x, factors, self.padding_mode)

    def _repr_args(self) -> dict[str, Any]:
        return {"max_stretch": self.max_stretch}
