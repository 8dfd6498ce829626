"""The transform base class, the random-number helpers and ``Compose``.

Every transform is batched: it draws one set of random parameters per sample (a tensor of
shape ``(B,)`` or ``(B, k)``) from the generator it is given, then applies them to the whole
batch in one call of a pure function from :mod:`reglab.augment.functional`. Nothing is
modified in place; the output is a new tensor on the input's device with the input's dtype.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from reglab._validation import InvalidParameterError, check_float, fail
from reglab.schedules import Scheduled, Strength, check_strength

__all__ = ["Transform", "Compose", "rand", "uniform", "randint", "normal", "partner", "check_input"]


# ---------------------------------------------------------------- random numbers
def _gen_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    # A generator can only fill tensors on its own device; parameters are moved afterwards.
    return device if generator is None else generator.device


def rand(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """``U[0, 1)`` of ``shape`` in ``like``'s dtype, on ``like``'s device."""
    dev = _gen_device(generator, like.device)
    return torch.rand(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)


def uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None,
            like: torch.Tensor) -> torch.Tensor:
    """``U[low, high)`` of ``shape``; ``low == high`` gives the constant."""
    return low + (high - low) * rand(shape, generator, like)


def randint(low: int, high: int, shape: tuple[int, ...], generator: torch.Generator | None,
            device: torch.device) -> torch.Tensor:
    """Integers uniform in ``[low, high]`` (both ends included), int64 on ``device``."""
    dev = _gen_device(generator, device)
    return torch.randint(low, high + 1, shape, generator=generator, device=dev).to(device)


def normal(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal of ``shape`` in ``like``'s dtype, on ``like``'s device."""
    dev = _gen_device(generator, like.device)
    return torch.randn(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)


def partner(shape: tuple[int, ...], generator: torch.Generator | None,
            device: torch.device) -> torch.Tensor:
    """Random *other* sample indices: ``(i + U{1..B-1}) mod B`` for row ``i``, ``shape = (B, ...)``.

    Every entry is uniform over the ``B - 1`` other samples; with ``B = 1`` it is ``i`` itself.
    """
    batch = shape[0]
    own = torch.arange(batch, device=device).view(-1, *([1] * (len(shape) - 1)))
    if batch < 2:
        return own.expand(shape).contiguous()
    return (own + randint(1, batch - 1, shape, generator, device)) % batch


# ---------------------------------------------------------------- input checks
def check_input(owner: str, x: Any, ndims: tuple[int, ...], shape_text: str) -> None:
    """Raise unless ``x`` is a floating-point tensor of one of the ranks ``ndims`` (any if empty)."""
    ok = (isinstance(x, torch.Tensor) and x.is_floating_point() and x.ndim >= 1
          and (not ndims or x.ndim in ndims))
    if not ok:
        got = (f"a {x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor)
               else f"a {type(x).__name__}")
        raise InvalidParameterError(f"The 'x' parameter of {owner} must be a floating-point "
                                    f"tensor of shape {shape_text}. Got {got} instead.")


def _fmt_value(v: Any) -> str:
    return repr(v) if not isinstance(v, float) else f"{v:g}"


# ---------------------------------------------------------------- base class
class Transform:
    """A batched random transform: per-sample parameters, per-sample probability ``p``.

    Subclasses set ``ndims``/``shape_text`` and define ``sample(x, generator, strength) ->
    dict`` (the random parameters, one per sample) and ``apply(x, **params) -> Tensor``
    (pure). ``strength`` scales the magnitude: 0 is the identity, 1 the configured range.

    Args:
        p: probability that a sample is transformed (drawn per sample), default 1.
    """

    ndims: tuple[int, ...] = ()
    shape_text = "(B, ...)"
    magnitude: str | None = None  # the attribute that strength multiplies (0: the identity)

    def __init__(self, p: float = 1.0):
        self.p = check_float(type(self).__name__, "p", p, 0, 1)

    # --- subclass hooks
    def sample(self, x: torch.Tensor, generator: torch.Generator | None,
               strength: float) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def apply(self, x: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def probability(self, strength: float) -> float:
        """Per-sample probability of applying the transform at this strength: ``p``, or 0
        where the strength (times the :attr:`magnitude` attribute, if any) is 0."""
        size = strength if self.magnitude is None else strength * getattr(self, self.magnitude)
        return self.p if size > 0 else 0.0

    def _repr_args(self) -> dict[str, Any]:
        return {}

    def fusion_key(self) -> Any:
        """Transforms with the same non-None key that follow each other in a Compose are
        applied together by ``type(t).apply_fused(run, x, generator, strength)`` (None: never)."""
        return None

    # --- the call
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None,
                 strength: float = 1.0) -> torch.Tensor:
        """Return a transformed copy of ``x``; sample ``i`` is transformed with probability ``p``."""
        owner = type(self).__name__
        check_input(owner, x, self.ndims, self.shape_text)
        strength = check_float(owner, "strength", strength, 0)
        p = self.probability(strength)
        if p == 0.0 or x.shape[0] == 0:
            return x.clone()
        out = self.apply(x, **self.sample(x, generator, strength))
        if p < 1.0:
            keep = rand((x.shape[0],), generator, x) >= p  # (B,)
            out = torch.where(keep.view(-1, *([1] * (x.ndim - 1))), x, out)
        return out

    def with_p(self, p: float) -> Transform:
        """A copy of this transform with another probability ``p``."""
        new = copy.copy(self)
        new.p = check_float(type(self).__name__, "p", p, 0, 1)
        return new

    def __repr__(self) -> str:
        args = {**self._repr_args(), "p": self.p}
        inner = ", ".join(f"{k}={_fmt_value(v)}" for k, v in args.items())
        return f"{type(self).__name__}({inner})"


# ---------------------------------------------------------------- Compose
def _apply_run(run: list[Transform], x: torch.Tensor, generator, strength: float) -> torch.Tensor:
    """One run of a Compose: a single transform, or neighbours fused into one call."""
    if len(run) > 1:  # e.g. rotate + scale + translate: one affine warp, not three
        return type(run[0]).apply_fused(run, x, generator, strength)
    return run[0](x, generator=generator, strength=strength)


class Compose(Scheduled):
    """Apply transforms one after another, with one seeded generator and one strength knob.

    ``out = t_n(... t_1(x))``; each ``t_k`` draws its own per-sample parameters and applies
    to sample ``i`` with probability ``t_k.p``. Neighbouring geometric transforms (rotation,
    scale, translation with one padding mode) are composed into one affine matrix per sample
    and the batch is resampled once: the same random draws, one interpolation instead of one
    per transform. ``strength`` (a number >= 0 or a
    :class:`~reglab.schedules.Schedule`) multiplies every transform's magnitude: 0 is the
    identity. A step-unit schedule advances once per call (one call = one training batch);
    an epoch-unit one follows ``rl.schedules.set_epoch(epoch, aug)``.

    Args:
        transforms: the transforms, in order (an empty list is the identity).
        seed: seed of the pipeline's own ``torch.Generator`` (one per device); ``None`` uses
            torch's global generator, so ``torch.manual_seed`` makes it reproducible.
        strength: magnitude multiplier, default 1.

    Example::

        aug = Compose([RandomRotation(15), GaussianNoise(0.05)], seed=0)
        xb = aug(xb)                    # (B, C, H, W) -> (B, C, H, W), a new tensor
    """

    def __init__(self, transforms: Iterable[Transform], seed: int | None = None,
                 strength: Strength = 1.0):
        try:  # a single transform or a non-iterable is an error, not a silent one-item list
            self.transforms = None if isinstance(transforms, Transform) else list(transforms)
        except TypeError:
            self.transforms = None
        if self.transforms is None or not all(isinstance(t, Transform) for t in self.transforms):
            raise fail("Compose", "transforms", "a list of reglab.augment transforms",
                       transforms)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise fail("Compose", "seed", "an int or None", seed)
        self.seed = seed
        self.strength = check_strength("Compose", "strength", strength, 0)
        self._generators: dict[str, torch.Generator] = {}

    def generator(self, device: torch.device | str) -> torch.Generator | None:
        """The pipeline's generator on ``device`` (created from ``seed`` on first use)."""
        if self.seed is None:
            return None
        key = str(torch.device(device))
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=key).manual_seed(self.seed)
        return self._generators[key]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the augmented copy of ``x`` (never in place)."""
        check_input("Compose", x, (), "(B, ...)")
        gen = generator if generator is not None else self.generator(x.device)
        s = self._step_strength()
        out = x
        for run in self._runs():
            out = _apply_run(run, out, gen, s)
        return out if out is not x else x.clone()

    @staticmethod
    def apply_each(pipelines: Sequence[Compose], xs: torch.Tensor) -> torch.Tensor:
        """``torch.stack([p(x) for p, x in zip(pipelines, xs)])`` for a stack of batches ``xs``
        (M, B, ...), one pipeline per batch, with the same draws and the same numbers.

        Where every pipeline has a fused run at the same place (rotate + translate + scale
        in each), the M batches are resampled in one call (``apply_fused_each``) instead of
        M: the stacked engine's augmented members. Each pipeline still draws from its own
        generator in its own order, so this needs distinct pipelines with seeds (a pipeline
        without one draws from torch's global generator, whose order across pipelines this
        would change) and the same run structure; otherwise it is the loop above.
        """
        composes = all(isinstance(p, Compose) for p in pipelines)  # else: any callables
        runs = [p._runs() for p in pipelines] if composes else []
        batched = (composes and len(pipelines) > 1
                   and len({id(p) for p in pipelines}) == len(pipelines)
                   and all(p.seed is not None for p in pipelines)
                   and len({len(r) for r in runs}) == 1)
        if not batched:
            return torch.stack([p(x) for p, x in zip(pipelines, xs)])
        check_input("Compose", xs, (), "(M, B, ...)")
        gens = [p.generator(xs.device) for p in pipelines]
        strengths = [p._step_strength() for p in pipelines]  # as each __call__ would
        out = xs
        for column in zip(*runs):
            head = type(column[0][0])
            fused = all(len(r) > 1 and r[0].fusion_key() == column[0][0].fusion_key()
                        for r in column) and hasattr(head, "apply_fused_each")
            if fused:
                out = head.apply_fused_each(list(column), out, gens, strengths)
            else:
                out = torch.stack([_apply_run(r, o, g, s)
                                   for r, o, g, s in zip(column, out, gens, strengths)])
        return out if out is not xs else xs.clone()

    def _step_strength(self) -> float:
        """This batch's strength; a step-unit schedule then moves on by one call."""
        s = self.value_of(self.strength)
        self.advance(1)
        return s

    def _runs(self) -> list[list[Transform]]:
        """The transforms in order, neighbours with the same ``fusion_key`` in one list."""
        runs: list[list[Transform]] = []
        for t in self.transforms:
            key = t.fusion_key()
            if runs and key is not None and runs[-1][0].fusion_key() == key:
                runs[-1].append(t)
            else:
                runs.append([t])
        return runs

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.transforms)

    def __getitem__(self, i: int) -> Transform:
        return self.transforms[i]

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}], seed={self.seed!r}, strength={self.strength!r})"
