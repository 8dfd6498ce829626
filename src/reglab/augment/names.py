"""Short names for the CLI and the lab: ``NAMES[kind][name]`` and ``from_names``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reglab._validation import check_choice, fail
from reglab.augment._base import Compose, Transform
from reglab.augment.image import (HorizontalFlip, RandomErasing, RandomRotation, RandomScale,
                                  RandomTranslate, VerticalFlip)
from reglab.augment.noise import GaussianNoise, SwapNoise
from reglab.augment.signal import AmplitudeScale, Shift, TimeWarp
from reglab.schedules import Strength

__all__ = ["NAMES", "from_names"]


class _Factory:
    """A transform class with default arguments; ``factory(**overrides)`` builds a new one."""

    def __init__(self, cls: type[Transform], **defaults):
        self.cls, self.defaults = cls, defaults

    def __call__(self, **overrides) -> Transform:
        return self.cls(**{**self.defaults, **overrides})

    def __repr__(self) -> str:
        return repr(self())


# Default magnitudes: mild, label-preserving for the built-in data sets (at strength 1).
NAMES: dict[str, dict[str, Callable[..., Transform]]] = {
    "image": {
        "rotate": _Factory(RandomRotation, degrees=15.0),
        "flip": _Factory(HorizontalFlip, p=0.5),
        "vflip": _Factory(VerticalFlip, p=0.5),
        "scale": _Factory(RandomScale, low=0.9, high=1.1),
        "translate": _Factory(RandomTranslate, fraction=0.1),
        "noise": _Factory(GaussianNoise, std=0.1),
        "erase": _Factory(RandomErasing, p=0.5),
    },
    "signal": {
        "shift": _Factory(Shift, max_shift=0.1, mode="zeros"),
        "scale": _Factory(AmplitudeScale, low=0.8, high=1.2),
        "noise": _Factory(GaussianNoise, std=0.1),
        "warp": _Factory(TimeWarp, max_stretch=0.2),
    },
    "tabular": {
        "noise": _Factory(GaussianNoise, std=0.1),
        "swap": _Factory(SwapNoise, fraction=0.1),
    },
}


def parse_names(names: str | Iterable[str], kind: str, owner: str = "from_names") -> list[str]:
    """Validate short names (a list, or one comma-separated string) for ``kind``."""
    kind = check_choice(owner, "kind", kind, NAMES)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    allowed = NAMES[kind]
    for name in names:
        if name not in allowed:
            listed = ", ".join(repr(n) for n in allowed)
            raise fail(owner, "names", f"one of {{{listed}}} for kind {kind!r}", name)
    return names


def from_names(names: str | Iterable[str], kind: str, seed: int | None = None,
               strength: Strength = 1.0) -> Compose:
    """Build a :class:`Compose` from short names with the default magnitudes of ``NAMES[kind]``.

    Args:
        names: e.g. ``["rotate", "noise"]`` or ``"rotate,noise"``, applied in that order.
        kind: "image", "signal" or "tabular".
        seed, strength: as for :class:`Compose`.

    Example::

        aug = from_names(["rotate", "scale", "noise"], kind="image", seed=0)
    """
    return Compose([NAMES[kind][n]() for n in parse_names(names, kind)], seed=seed,
                   strength=strength)
