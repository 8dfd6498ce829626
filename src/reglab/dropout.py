"""The dropout family: a functional core and thin ``nn.Module`` shells (as in timm's drop.py).

The seed writes dropout as ``a_i = a_i * d_i`` with ``d_i ~ Bernoulli(p)`` and ``p`` the *keep*
probability; PyTorch's ``nn.Dropout(p)`` takes the *drop* probability. reglab never takes a bare
``p``: every layer takes exactly one of ``drop=`` or ``keep=`` (``keep = 1 - drop``).

All of them use inverted scaling: at train time the kept units are divided by ``keep``, so the
expectation of every output equals the input and eval mode is the identity (the input object
itself is returned). ``drop`` may be a number or a schedule (:mod:`reglab.schedules`); a module's
step counter advances on each forward pass in training mode.

Example::

    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), rl.Dropout(keep=0.8), nn.Linear(32, 10))
    mean, std, entropy = rl.mc_predict(net, x, samples=30, softmax=True)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reglab import kernels as K
from reglab._validation import InvalidParameterError, check_bool, check_float, check_int, fail
from reglab.schedules import Schedule, Scheduled, Strength, check_strength

__all__ = [
    "DropBlock2d",
    "DropConnect",
    "DropPath",
    "Dropout",
    "GaussianDropout",
    "MCPrediction",
    "SpatialDropout",
    "drop_block2d",
    "drop_connect",
    "drop_path",
    "dropout",
    "gaussian_dropout",
    "is_dropout",
    "mc_predict",
    "spatial_dropout",
]


# ----------------------------------------------------------------------------- helpers

def _check_drop(owner: str, drop: Any) -> float:
    return check_float(owner, "drop", drop, 0, 1, high_open=True)


def _bad_shape(owner: str, allowed: str, x: Tensor) -> InvalidParameterError:
    # Same template as every other error; the value shown is the shape, not the whole tensor.
    return InvalidParameterError(f"The 'x' parameter of {owner} must be {allowed}. "
                                 f"Got a tensor of shape {tuple(x.shape)} instead.")


def _scaled_mask(shape: tuple[int, ...], keep: float, like: Tensor,
                 generator: torch.Generator | None) -> Tensor:
    """Bernoulli(keep) mask already divided by keep: the inverted-dropout multiplier."""
    mask = torch.empty(shape, dtype=like.dtype, device=like.device)
    return K.bernoulli_(mask, keep, generator).div_(keep)


# ----------------------------------------------------------------------------- functional core

def dropout(x: Tensor, drop: float, training: bool = True,
            generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout: ``y = x * m / keep``, ``m_i ~ Bernoulli(keep)``, ``keep = 1 - drop``.

    ``E[y] = x``. The mask is :func:`reglab.kernels.bernoulli_`'s draw, the same on every CPU
    (from the global RNG when no generator is given); on other devices without a generator
    PyTorch's fused kernel (``F.dropout``) runs. (PyTorch's own CPU dropout draws its mask
    from MKL on Intel CPUs and from the RNG elsewhere: the same seed, other masks.)

    Args:
        x: any tensor.
        drop: probability of zeroing each element, in [0, 1).
        training: False returns ``x`` itself.
        generator: draw the mask from this generator (reproducible without touching the
            global RNG); None uses the global RNG.

    Example::

        y = dropout(torch.ones(4), drop=0.5)   # each entry 0 or 2
    """
    drop = _check_drop("dropout", drop)
    if not training or drop == 0.0:
        return x
    if generator is None and x.device.type != "cpu":
        return F.dropout(x, drop, training=True)
    return x * _scaled_mask(tuple(x.shape), 1.0 - drop, x, generator)


_FUSED_CHANNEL_DROPOUT: dict[int, Callable[..., Tensor]] = {
    3: F.dropout1d, 4: F.dropout2d, 5: F.dropout3d,
}


def spatial_dropout(x: Tensor, drop: float, training: bool = True,
                    generator: torch.Generator | None = None) -> Tensor:
    """Channel dropout: ``y[n, c] = x[n, c] * m[n, c] / keep``, one coin per (sample, channel).

    Neighbouring activations in a feature map are correlated, so dropping single units barely
    regularizes a conv net; dropping whole maps does (Tompson et al. 2015).

    Args:
        x: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        drop: probability of zeroing a channel, in [0, 1).
        training: False returns ``x`` itself.
        generator: see :func:`dropout`.

    Example::

        y = spatial_dropout(torch.randn(8, 16, 5, 5), drop=0.25)
    """
    drop = _check_drop("spatial_dropout", drop)
    if x.dim() not in _FUSED_CHANNEL_DROPOUT:
        raise _bad_shape("spatial_dropout", "a tensor of shape (N, C, L), (N, C, H, W) or "
                         "(N, C, D, H, W)", x)
    if not training or drop == 0.0:
        return x
    if generator is None and x.device.type != "cpu":  # on the CPU: one draw everywhere
        return _FUSED_CHANNEL_DROPOUT[x.dim()](x, drop, training=True)
    shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2)  # (N, C, 1, ...)
    return x * _scaled_mask(shape, 1.0 - drop, x, generator)


def drop_connect(x: Tensor, weight: Tensor, bias: Tensor | None, drop: float,
                 training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """DropConnect linear map: ``y = x (W * M / keep)^T + b``, ``M_ij ~ Bernoulli(keep)``.

    Drops weights, not activations (Wan et al. 2013). One mask per call, shared by the batch
    (the usual cheap form; the paper draws one per example). The bias is never dropped.

    Args:
        x: (..., in_features).
        weight: (out_features, in_features); bias: (out_features,) or None.
        drop: probability of zeroing each weight, in [0, 1).
        training: False applies the plain weights.
        generator: see :func:`dropout`.

    Example::

        y = drop_connect(x, lin.weight, lin.bias, drop=0.5)
    """
    drop = _check_drop("drop_connect", drop)
    return F.linear(x, dropout(weight, drop, training, generator), bias)


def drop_path(x: Tensor, drop: float, training: bool = True,
              generator: torch.Generator | None = None) -> Tensor:
    """Stochastic depth: ``y[n] = x[n] * m[n] / keep``, one coin per sample (dim 0).

    Applied to a residual branch, a dropped sample skips the whole block (Huang et al. 2016).

    Args:
        x: (N, ...).
        drop: probability of dropping a sample's branch, in [0, 1).
        training: False returns ``x`` itself.
        generator: see :func:`dropout`.

    Example::

        out = x + drop_path(block(x), drop=0.1)
    """
    drop = _check_drop("drop_path", drop)
    if not training or drop == 0.0:
        return x
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)  # (N, 1, 1, ...)
    return x * _scaled_mask(shape, 1.0 - drop, x, generator)


def drop_block2d(x: Tensor, drop: float, block_size: int = 7, training: bool = True,
                 generator: torch.Generator | None = None) -> Tensor:
    """DropBlock (Ghiasi et al. 2018): zero k x k blocks of each feature map, then rescale.

    ``gamma = drop / k^2 * H W / ((H - k + 1)(W - k + 1))``; block corners ``~ Bernoulli(gamma)``
    at the ``(H - k + 1)(W - k + 1)`` positions where a whole block fits; each corner grows to a
    k x k block (a max-pool); ``y = x * M * count(M) / count_ones(M)``. Blocks overlap, so the
    fraction of zeros is somewhat below ``drop``. ``k = min(block_size, H, W)``.

    Args:
        x: (N, C, H, W).
        drop: target fraction of zeroed units, in [0, 1).
        block_size: side of a block, >= 1 (1 is plain dropout with global renormalization).
        training: False returns ``x`` itself.
        generator: see :func:`dropout`.

    Example::

        y = drop_block2d(torch.randn(8, 16, 14, 14), drop=0.1, block_size=3)
    """
    drop = _check_drop("drop_block2d", drop)
    block_size = check_int("drop_block2d", "block_size", block_size, 1)
    if x.dim() != 4:
        raise _bad_shape("drop_block2d", "a tensor of shape (N, C, H, W)", x)
    if not training or drop == 0.0:
        return x
    n, c, h, w = x.shape
    k = min(block_size, h, w)
    gamma = min(drop / k**2 * (h * w) / ((h - k + 1) * (w - k + 1)), 1.0)
    corners = torch.empty((n, c, h - k + 1, w - k + 1), dtype=x.dtype, device=x.device)
    K.bernoulli_(corners, gamma, generator)
    # A corner at (i, j) covers rows i..i+k-1 and columns j..j+k-1: pad by k-1, max-pool by k.
    dropped = F.max_pool2d(F.pad(corners, (k - 1,) * 4), k, stride=1)  # (N, C, H, W)
    kept = 1.0 - dropped
    # Count in at least float32 (a half-precision sum overflows past 65504 units), in float64
    # for float64 inputs so the rescale carries no float32 rounding.
    count = kept.sum(dtype=torch.promote_types(x.dtype, torch.float32)).clamp_min(1.0)
    scale = kept.numel() / count
    return x * (kept * scale)


def gaussian_dropout(x: Tensor, drop: float, training: bool = True,
                     generator: torch.Generator | None = None) -> Tensor:
    """Multiplicative Gaussian noise: ``y = x * e``, ``e ~ N(1, drop / (1 - drop))``.

    Same mean and variance of the multiplier as inverted Bernoulli dropout at the same rate
    (Srivastava et al. 2014, section 10).

    Args:
        x: any tensor.
        drop: the equivalent Bernoulli drop rate, in [0, 1).
        training: False returns ``x`` itself.
        generator: see :func:`dropout`.

    Example::

        y = gaussian_dropout(torch.ones(4), drop=0.5)   # multiplier ~ N(1, 1)
    """
    drop = _check_drop("gaussian_dropout", drop)
    if not training or drop == 0.0:
        return x
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x * noise.mul_(math.sqrt(drop / (1.0 - drop))).add_(1.0)


# ----------------------------------------------------------------------------- module shells

def _one_minus(s: Schedule) -> Schedule:
    return Schedule(lambda t: 1.0 - s(t), 1.0 - s.high, 1.0 - s.low, s.unit, f"1 - {s!r}")


def _resolve_drop(owner: str, drop: Any, keep: Any) -> Strength:
    """The drop strength from exactly one of ``drop`` / ``keep`` (a number or a schedule)."""
    if (drop is None) == (keep is None):
        got = "neither" if drop is None else f"both drop={drop!r} and keep={keep!r}"
        raise InvalidParameterError(
            f"Exactly one of the 'drop' and 'keep' parameters of {owner} must be given "
            f"(keep = 1 - drop; PyTorch's p is drop). Got {got} instead.")
    if drop is not None:
        return check_strength(owner, "drop", drop, 0, 1, high_open=True)
    keep = check_strength(owner, "keep", keep, 0, 1, low_open=True)
    return _one_minus(keep) if isinstance(keep, Schedule) else 1.0 - keep


def _by_name_only(owner: str, positional: tuple) -> None:
    """``rl.Dropout(0.5)``, as ``nn.Dropout(0.5)`` is written, would be ambiguous here: the
    note's p is the keep probability, PyTorch's the drop one. Say so instead of Python's
    "takes 1 positional argument" about a private class."""
    if positional:
        shown = ", ".join(repr(a) for a in positional)
        raise TypeError(
            f"{owner} takes its strength by name, not by position: drop= (PyTorch's p, the "
            f"probability of zeroing a unit) or keep= (the note's p, of keeping one). Got the "
            f"positional argument(s) {shown}; write e.g. {owner}(drop={positional[0]!r}).")


class _DropLayer(Scheduled, nn.Module):
    """Shell shared by the family: stores the strength, reads it, counts training forwards.

    A layer whose forward is its functional core in training and the identity in eval sets
    ``kernel = staticmethod(fn)``, ``fn(x, drop, training, generator)``.
    """

    kernel: Callable[[Tensor, float, bool, torch.Generator | None], Tensor] | None = None

    def __init__(self, *positional: Any, drop: Strength | None = None,
                 keep: Strength | None = None, generator: torch.Generator | None = None) -> None:
        _by_name_only(type(self).__name__, positional)
        super().__init__()
        self.drop: Strength = _resolve_drop(type(self).__name__, drop, keep)
        self.generator = generator

    def current_drop(self) -> float:
        """The drop rate the next training forward will use (the schedule at its counter)."""
        return self.value_of(self.drop)

    def _next_drop(self) -> float:
        drop = self.current_drop()
        self.advance()  # one training forward = one step of a per-step schedule
        return drop

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        return self.kernel(x, self._next_drop(), True, self.generator)

    def extra_repr(self) -> str:
        if isinstance(self.drop, Schedule):
            return f"drop={self.drop!r}, keep=1 - drop"
        return f"drop={self.drop:.6g}, keep={1.0 - self.drop:.6g}"


class Dropout(_DropLayer):
    """Inverted dropout, :func:`dropout` as a layer: exactly one of ``drop=`` or ``keep=``.

    Args:
        drop: probability of zeroing a unit, in [0, 1), or a schedule.
        keep: the note's ``p``, probability of keeping a unit, in (0, 1], or a schedule.
        generator: optional ``torch.Generator`` for the masks (None: the global RNG).

    Example::

        rl.Dropout(drop=0.5); rl.Dropout(keep=0.8)   # keep=0.8 is drop=0.2
    """

    kernel = staticmethod(dropout)


class SpatialDropout(_DropLayer):
    """Channel dropout, :func:`spatial_dropout` as a layer, for (N, C, L) / (N, C, H, W) inputs.

    Example::

        nn.Sequential(nn.Conv2d(3, 16, 3), rl.SpatialDropout(drop=0.1))
    """

    def forward(self, x: Tensor) -> Tensor:
        drop = self._next_drop() if self.training else 0.0
        return spatial_dropout(x, drop, self.training, self.generator)


class DropConnect(_DropLayer):
    """A wrapped ``nn.Linear`` whose weights (not activations) are dropped at train time.

    ``y = x (W * M / keep)^T + b`` in training, ``y = x W^T + b`` in eval (Wan et al. 2013).
    The wrapped layer stays reachable as ``.linear`` (state_dict keys ``linear.weight``...).

    Example::

        layer = rl.DropConnect(nn.Linear(64, 32), drop=0.5)
    """

    def __init__(self, linear: nn.Linear, *positional: Any, drop: Strength | None = None,
                 keep: Strength | None = None, generator: torch.Generator | None = None) -> None:
        _by_name_only(type(self).__name__, positional)  # before the linear check, as typed
        if not isinstance(linear, nn.Linear):
            raise fail("DropConnect", "linear", "an nn.Linear", linear)
        super().__init__(drop=drop, keep=keep, generator=generator)
        self.linear = linear

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return self.linear(x)
        return drop_connect(x, self.linear.weight, self.linear.bias, self._next_drop(), True,
                            self.generator)


class DropPath(_DropLayer):
    """Stochastic depth, :func:`drop_path` as a layer: put it on a residual branch.

    Example::

        out = x + self.drop_path(self.block(x))   # self.drop_path = rl.DropPath(drop=0.1)
    """

    kernel = staticmethod(drop_path)


class DropBlock2d(_DropLayer):
    """DropBlock, :func:`drop_block2d` as a layer (Ghiasi et al. 2018; the paper uses k = 7).

    Example::

        rl.DropBlock2d(drop=0.1, block_size=3)
    """

    def __init__(self, *positional: Any, drop: Strength | None = None,
                 keep: Strength | None = None, block_size: int = 7,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(*positional, drop=drop, keep=keep, generator=generator)
        self.block_size = check_int("DropBlock2d", "block_size", block_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        return drop_block2d(x, self._next_drop(), self.block_size, True, self.generator)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, block_size={self.block_size}"


class GaussianDropout(_DropLayer):
    """Multiplicative N(1, drop / (1 - drop)) noise, :func:`gaussian_dropout` as a layer.

    Example::

        rl.GaussianDropout(drop=0.2)   # noise variance 0.25
    """

    kernel = staticmethod(gaussian_dropout)


# ----------------------------------------------------------------------------- MC dropout

# torch's _DropoutNd covers Dropout, Dropout1d/2d/3d, AlphaDropout and FeatureAlphaDropout.
_DROPOUT_TYPES = (nn.modules.dropout._DropoutNd, _DropLayer)


def is_dropout(module: nn.Module) -> bool:
    """True for the modules :func:`mc_predict` switches on: torch's dropouts and reglab's."""
    return isinstance(module, _DROPOUT_TYPES)


class MCPrediction(NamedTuple):
    """Monte Carlo dropout prediction; ``entropy`` is None unless ``softmax=True``."""

    mean: Tensor
    std: Tensor
    entropy: Tensor | None


@contextlib.contextmanager
def _rng_from(generator: torch.Generator | None, device: torch.device) -> Iterator[None]:
    """Seed the global RNG from ``generator`` inside, restore it after: torch's own dropout
    layers only draw from the global RNG."""
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for d in cuda:
            with torch.cuda.device(d):
                torch.cuda.manual_seed(seed)
        yield


@contextlib.contextmanager
def _dropout_only_train(model: nn.Module) -> Iterator[None]:
    """Everything in eval (BatchNorm uses, and keeps, its running stats) except the dropout
    layers; modes and schedule counters are put back afterwards, also on error."""
    modes = {m: m.training for m in model.modules()}
    steps = {m: m._step_count for m in modes if isinstance(m, Scheduled)}
    try:
        model.eval()
        for m in modes:
            if is_dropout(m):
                m.train()
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode
        for m, step in steps.items():
            m._step_count = step  # MC samples are not training steps


def mc_predict(model: nn.Module, x: Tensor, samples: int = 30,
               generator: torch.Generator | None = None, softmax: bool = False) -> MCPrediction:
    """Monte Carlo dropout (Gal & Ghahramani 2016): ``samples`` stochastic forward passes.

    ``mean = 1/T sum_t f_t(x)``, ``std = sqrt(1/T sum_t (f_t(x) - mean)^2)`` (the paper's 1/T);
    with ``softmax=True`` the outputs are class probabilities (softmax over dim 1) before
    averaging and ``entropy = -sum_k mean_k log mean_k`` (predictive entropy, in nats).
    Only dropout layers (see :func:`is_dropout`) run in training mode; everything else,
    BatchNorm included, runs in eval; modes are restored afterwards. No gradients.

    Args:
        model: a module containing at least one dropout layer.
        x: the input batch.
        samples: number of forward passes T, >= 1. Default 30.
        generator: seeds the passes (reproducible; the global RNG is left as it was).
        softmax: apply softmax over dim 1 (classifier logits) and return the entropy.

    Example::

        mean, std, entropy = rl.mc_predict(net, x, samples=50, softmax=True)
    """
    samples = check_int("mc_predict", "samples", samples, 1)
    softmax = check_bool("mc_predict", "softmax", softmax)
    if not any(is_dropout(m) for m in model.modules()):
        raise fail("mc_predict", "model", "a module with at least one dropout layer (otherwise "
                   "every sample is the same and std is 0)", type(model).__name__)
    with torch.no_grad(), _dropout_only_train(model), _rng_from(generator, x.device):
        outs = [model(x) for _ in range(samples)]
    stacked = torch.stack([o.softmax(dim=1) for o in outs] if softmax else outs)  # (T, N, ...)
    std, mean = torch.std_mean(stacked, dim=0, correction=0)
    entropy = -torch.special.xlogy(mean, mean).sum(dim=1) if softmax else None
    return MCPrediction(mean, std, entropy)
