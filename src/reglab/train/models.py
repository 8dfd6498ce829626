"""Models the lab trains: linear, MLP and CNN, built from a data set's kind and shape.

* ``linear``: multinomial logistic regression on the flattened input, ``logits = W x + b``.
* ``mlp``: ``Flatten -> [Linear -> act -> Dropout(drop)] * len(hidden) -> Linear``; dropout
  sits after each hidden activation (the note's ``a_i * d_i``).
* ``cnn``, ``cnn_arch = "two_block"``: two conv blocks (3x3 / width 3, act, 2x max-pool) then
  ``Linear -> act -> Dropout -> Linear``; 2-D for images (N, C, H, W), 1-D for signals
  (N, C, L).
* ``cnn``, ``cnn_arch = "global_pool"``: four 5-wide convs (64, 64, 2x max-pool, 128, 128,
  each followed by the activation), a global max pool over the positions, ``Dropout ->
  Linear``: a feature found anywhere counts the same (shift-invariant).

``spec.dropout_kind`` picks the dropout layer: "standard" (``rl.Dropout``) and "gaussian"
(``rl.GaussianDropout``) where the MLP / classifier has its dropout; "dropconnect" wraps those
hidden Linear layers in ``rl.DropConnect`` instead; "dropblock" (cnn, images) puts
``rl.DropBlock2d(block_size=3)`` after each conv block's activation instead.

Example::

    model = build_model(RunSpec(model="mlp", hidden=(64,)), kind="image",
                        input_shape=(1, 8, 8), num_classes=10)   # (B, 1, 8, 8) -> (B, 10)
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from reglab._memory import available_memory
from reglab._validation import fail
from reglab.dropout import DropBlock2d, DropConnect, Dropout, GaussianDropout
from reglab.train.strengths import strength

__all__ = ["build_model", "activation", "parameter_count", "multiply_adds", "check_memory"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}
_CNN_CHANNELS = (32, 64)
# global_pool: (out channels, kernel width, max-pool by 2 after it)
_GLOBAL_LAYERS = ((64, 5, False), (64, 5, True), (128, 5, False), (128, 5, False))
_GLOBAL_HALVINGS = sum(pooled for *_, pooled in _GLOBAL_LAYERS)
# Training holds about four float32 copies of the parameters (weights, gradients and the two
# Adam moments), plus the restored-best copy: 5 * 4 bytes each, activations not counted.
TRAIN_BYTES_PER_PARAMETER = 20


def activation(name: str) -> nn.Module:
    """A fresh activation module by name."""
    return _ACTIVATIONS[name]()


def build_model(spec, kind: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Build ``spec.model`` for a data set of ``kind`` with per-sample ``input_shape``.

    Args:
        spec: a RunSpec (uses model, hidden, activation, dropout).
        kind: "image", "signal" or "tabular".
        input_shape: per-sample shape, e.g. (1, 8, 8).
        num_classes: number of output logits.
    """
    _check_fits(spec, kind, input_shape, num_classes)
    kind_of_drop = getattr(spec, "dropout_kind", "standard")
    if kind_of_drop == "dropblock" and not (spec.model == "cnn" and kind == "image"):
        raise fail("RunSpec", "dropout_kind", "'standard', 'gaussian' or 'dropconnect' here "
                   "('dropblock' needs model 'cnn' on image data)", kind_of_drop)
    if spec.model == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))
    drop = _Drop(spec.dropout, strength(spec, "dropout"), kind_of_drop)
    if spec.model == "mlp":
        return _mlp(math.prod(input_shape), spec.hidden, num_classes, spec.activation, drop)
    if _global_arch(spec):
        return _global_cnn(kind, input_shape, num_classes, spec.activation, drop)
    return _cnn(kind, input_shape, spec.hidden[0], num_classes, spec.activation, drop)


def _global_arch(spec) -> bool:
    return spec.model == "cnn" and getattr(spec, "cnn_arch", "two_block") == "global_pool"


def parameter_count(spec, kind: str, input_shape: tuple[int, ...], num_classes: int) -> int:
    """How many parameters ``build_model`` would build, computed without building it.

    Example: mlp, hidden (256, 256), input 64, 10 classes: 64*256+256 + 256*256+256 + 256*10+10.
    """
    dense = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731 - weight and bias
    if spec.model == "linear":
        return dense(math.prod(input_shape), num_classes)
    if spec.model == "mlp":
        widths = [math.prod(input_shape), *spec.hidden, num_classes]
        return sum(dense(a, b) for a, b in zip(widths, widths[1:]))
    c, sides = input_shape[0], list(input_shape[1:])
    count = 0
    if _global_arch(spec):
        for out_ch, width, _ in _GLOBAL_LAYERS:
            count += out_ch * c * width ** len(sides) + out_ch
            c = out_ch
        return count + dense(c, num_classes)
    for out_ch in _CNN_CHANNELS:
        count += out_ch * c * 3 ** len(sides) + out_ch
        c, sides = out_ch, [s // 2 for s in sides]
    return count + dense(c * math.prod(sides), spec.hidden[0]) + dense(spec.hidden[0],
                                                                        num_classes)


def multiply_adds(spec, kind: str, input_shape: tuple[int, ...], num_classes: int) -> int:
    """Multiply-adds of one sample's forward pass through ``build_model``'s model (a training
    step costs ~3x: forward, and backward to inputs and to weights), without building it.

    Linear and MLP: each weight and bias once (:func:`parameter_count`). CNN: each conv's
    weights and bias once per output position (3-wide, padded: as many positions as its
    input), then the head's. Example: cnn, hidden (256,), input (1, 8, 8), 10 classes:
    (9 + 1) * 32 * 64 + (32 * 9 + 1) * 64 * 16 + (64 * 4 + 1) * 256 + 257 * 10.
    """
    if spec.model != "cnn":
        return parameter_count(spec, kind, input_shape, num_classes)
    c, sides = input_shape[0], list(input_shape[1:])
    count = 0
    if _global_arch(spec):  # padded convs keep the positions; one pool halves them
        for out_ch, width, pooled in _GLOBAL_LAYERS:
            count += (c * width ** len(sides) + 1) * out_ch * math.prod(sides)
            c, sides = out_ch, [s // 2 for s in sides] if pooled else sides
        return count + (c + 1) * num_classes
    for out_ch in _CNN_CHANNELS:
        count += (c * 3 ** len(sides) + 1) * out_ch * math.prod(sides)
        c, sides = out_ch, [s // 2 for s in sides]
    return count + (c * math.prod(sides) + 1) * spec.hidden[0] + (spec.hidden[0] + 1) * num_classes


def _check_fits(spec, kind: str, input_shape: tuple[int, ...], num_classes: int) -> None:
    """Refuse, before anything is allocated, a cnn on inputs too small for its two pooling
    blocks and any model whose training would not fit in memory."""
    if spec.model == "cnn":
        if kind not in ("image", "signal"):
            raise fail("RunSpec", "model", "'linear' or 'mlp' for tabular data (cnn needs an "
                       "image or a signal)", spec.model)
        halvings = _GLOBAL_HALVINGS if _global_arch(spec) else len(_CNN_CHANNELS)
        side = 2 ** halvings
        if min(input_shape[1:]) < side:
            shape = "x".join(str(s) for s in input_shape[1:])
            raise fail("RunSpec", "model", f"'linear' or 'mlp' for inputs of size {shape} (cnn "
                       f"halves each side {halvings} time{'s' if halvings > 1 else ''}: it "
                       f"needs at least {side} per side)", spec.model)
        if _global_arch(spec) and spec.dropout > 0 and spec.dropout_kind not in (
                "standard", "gaussian"):
            raise fail("RunSpec", "dropout_kind", "'standard' or 'gaussian' for cnn_arch "
                       "'global_pool' (its dropout sits before the linear head)",
                       spec.dropout_kind)
    check_memory(spec, kind, input_shape, num_classes)


def check_memory(spec, kind: str, input_shape: tuple[int, ...], num_classes: int,
                 members: int = 1) -> None:
    """Refuse, before anything is allocated, training that would not fit in memory:
    ``members`` models of this spec at once (a stack of the stacked engine trains K members
    together), each ``parameter_count * TRAIN_BYTES_PER_PARAMETER`` bytes.

    Raises:
        InvalidParameterError: naming ``hidden``, the parameter count, the GiB needed and
            available (and, for a stack, that ``--engine sequential`` trains one at a time).
    """
    n = parameter_count(spec, kind, input_shape, num_classes)
    need, have = members * n * TRAIN_BYTES_PER_PARAMETER, available_memory()
    if need <= have:
        return
    gib = f"about {need / 2**30:.1f} GiB to train; {have / 2**30:.1f} GiB available"
    if members == 1:
        raise fail("RunSpec", "hidden", f"widths whose model fits in memory (this one has "
                   f"{n:.3g} parameters, {gib})", spec.hidden)
    raise fail("RunSpec", "hidden", f"widths whose stack of {members} models fits in memory "
               f"(the stacked engine trains {members} runs at once: {members} x {n:.3g} "
               f"parameters, {gib}; --engine sequential trains one at a time)", spec.hidden)


class _Drop:
    """Where a run's dropout goes, by kind: after a hidden activation (standard, gaussian),
    on a hidden Linear's weights (dropconnect), after a conv block's activation (dropblock)."""

    def __init__(self, rate: float, drop: Any, kind: str):
        # rate: the largest drop rate (0: no dropout); drop: the number or schedule layers take
        self.rate, self.drop, self.kind = rate, drop, kind

    def linear(self, n_in: int, n_out: int) -> nn.Module:
        layer = nn.Linear(n_in, n_out)
        if self.rate > 0 and self.kind == "dropconnect":
            return DropConnect(layer, drop=self.drop)
        return layer

    def after_hidden(self) -> list[nn.Module]:
        if self.rate <= 0 or self.kind in ("dropconnect", "dropblock"):
            return []
        if self.kind == "gaussian":
            return [GaussianDropout(drop=self.drop)]
        return [Dropout(drop=self.drop)]  # the library's own layer: drop= is the drop rate

    def after_conv(self) -> list[nn.Module]:
        if self.rate <= 0 or self.kind != "dropblock":
            return []
        return [DropBlock2d(drop=self.drop, block_size=3)]


def _mlp(n_in: int, hidden, n_out: int, act: str, drop: _Drop) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for width in hidden:
        layers += [drop.linear(n_in, width), activation(act), *drop.after_hidden()]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


def _cnn(kind: str, input_shape, width: int, n_out: int, act: str, drop: _Drop
         ) -> nn.Sequential:
    two_d = kind == "image"
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if two_d else (nn.Conv1d, nn.MaxPool1d)
    c = input_shape[0]
    blocks: list[nn.Module] = []
    for out_ch in _CNN_CHANNELS:
        blocks += [conv(c, out_ch, 3, padding=1), activation(act), *drop.after_conv(), pool(2)]
        c = out_ch
    body = nn.Sequential(*blocks).eval()  # eval: a DropBlock draws nothing, counts no step
    with torch.no_grad():  # infer the flattened size from the real shape
        n_flat = body(torch.zeros(1, *input_shape)).numel()
    body.train()
    return nn.Sequential(*blocks, nn.Flatten(), drop.linear(n_flat, width), activation(act),
                         *drop.after_hidden(), nn.Linear(width, n_out))


def _global_cnn(kind: str, input_shape, n_out: int, act: str, drop: _Drop) -> nn.Sequential:
    two_d = kind == "image"
    conv, pool, top = ((nn.Conv2d, nn.MaxPool2d, nn.AdaptiveMaxPool2d) if two_d
                       else (nn.Conv1d, nn.MaxPool1d, nn.AdaptiveMaxPool1d))
    c = input_shape[0]
    layers: list[nn.Module] = []
    for out_ch, width, pooled in _GLOBAL_LAYERS:
        layers += [conv(c, out_ch, width, padding=width // 2), activation(act)]
        layers += [pool(2)] if pooled else []
        c = out_ch
    return nn.Sequential(*layers, top(1), nn.Flatten(), *drop.after_hidden(),
                         nn.Linear(c, n_out))
