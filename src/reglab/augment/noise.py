"""Noise transforms: Gaussian noise (any shape) and swap noise (tabular ``(B, F)``)."""

from __future__ import annotations

from typing import Any

from reglab._validation import check_float
from reglab.augment import functional as AF
from reglab.augment._base import Transform, normal, partner, rand

__all__ = ["GaussianNoise", "SwapNoise"]


class GaussianNoise(Transform):
    """Add ``N(0, (s * std)^2)`` noise to every value (``s`` = strength); any shape ``(B, ...)``.

    On standardized data (images, signals, tabular features) ``std`` is in units of the
    data's standard deviation.

    Args:
        std: noise standard deviation at strength 1, >= 0.
        p: per-sample probability, default 1.

    Example::

        GaussianNoise(0.1)(x)
    """

    magnitude = "std"

    def __init__(self, std: float = 0.1, p: float = 1.0):
        super().__init__(p)
        self.std = check_float("GaussianNoise", "std", std, 0)

    def sample(self, x, generator, strength):
        return {"noise": normal(tuple(x.shape), generator, x) * (strength * self.std)}

    def apply(self, x, noise):
        return x + noise

    def _repr_args(self) -> dict[str, Any]:
        return {"std": self.std}


class SwapNoise(Transform):
    """Replace each feature, with probability ``min(s * fraction, 1)``, by another sample's value.

    ``out[i, f] = x[j, f]`` with ``j`` a random other sample of the batch (drawn per entry),
    so every column keeps its marginal distribution (Jahrer 2018, Porto Seguro winning
    solution). A batch of one sample is returned unchanged.

    Args:
        fraction: expected fraction of each sample's features swapped at strength 1, [0, 1].
        p: per-sample probability, default 1.

    Example::

        SwapNoise(0.15)(x)      # x: (B, F)
    """

    magnitude = "fraction"

    ndims = (2,)
    shape_text = "(B, F)"

    def __init__(self, fraction: float = 0.1, p: float = 1.0):
        super().__init__(p)
        self.fraction = check_float("SwapNoise", "fraction", fraction, 0, 1)

    def sample(self, x, generator, strength):
        b, f = x.shape
        q = min(strength * self.fraction, 1.0)
        mask = rand((b, f), generator, x) < q
        return {"mask": mask, "donors": partner((b, f), generator, x.device)}

    def apply(self, x, mask, donors):
        return AF.swap(x, mask, donors)

    def _repr_args(self) -> dict[str, Any]:
        return {"fraction": self.fraction}

