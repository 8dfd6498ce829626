"""K models of one shape as one: stacked weights, batched matmuls, optimizers on the stack.

Member ``k`` of a stack is exactly the ``nn.Sequential`` that
:func:`reglab.train.models.build_model` builds for its spec: layer ``i`` keeps its weights
transposed, ``W[i][k]`` (in, out) = ``linear.weight.T``, and its bias as ``b[i][k, 0]``
(out,), so ``h_i = act(h_{i-1} @ W_i + b_i)`` for all K members is one ``torch.baddbmm`` on
(K, B, in) inputs. The (in, out) layout keeps the gradients contiguous, which the fused
optimizer kernels need. Measured against ``torch.func`` (``stack_module_state``
+ ``functional_call`` + ``vmap``) on one thread, K = 32, 64-H-H-10, batch 128: the stacked
matmuls were faster at every H from 32 to 256 and even at 512 (``bench/sweep.py`` prints the
comparison), so the engine uses them.

The lab's CNN stacks as :class:`StackedCNN`: grouped convolutions (``groups=K``), then the
MLP head as above; every parameter kept as a (K, a, b) tensor, so what follows applies to it
unchanged.

The optimizers below take per-member learning rates as (K, 1, 1) tensors and do, per
member, the arithmetic of ``torch.optim.SGD`` (momentum, nesterov) and ``torch.optim.Adam``
(for AdamW, its decoupled decay is the stack's separate decay step, before the update).

Example::

    stack = StackedMLP.from_models([m0, m1], activation="relu")     # two members
    logits = stack(x)                                                 # (2, B, 10)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["StackedMLP", "StackedCNN", "StackedSGD", "StackedAdam", "linear_layers",
           "stack_models", "make_stacked_optimizer"]

_ACT = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh, "silu": F.silu}


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a lab linear/MLP model, in forward order."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


class StackedMLP:
    """K MLPs of one shape: ``weights[i]`` (K, in, out) and ``biases[i]`` (K, 1, out).

    forward: ``h <- act(baddbmm(b_i, h, W_i))`` for hidden layers (then ``h * mask_i``
    when a dropout mask is given), the last layer without activation.

    Args:
        weights, biases: per layer, the stacked parameters (leaf tensors with grad).
        activation: "relu", "gelu", "tanh" or "silu".
    """

    def __init__(self, weights: list[Tensor], biases: list[Tensor], activation: str):
        self.weights, self.biases, self.activation = weights, biases, activation
        self._act = _ACT[activation]

    @classmethod
    def from_models(cls, models: Sequence[nn.Module], activation: str,
                    device: torch.device | str = "cpu") -> StackedMLP:
        """Stack the Linear layers of ``models`` (all the same shape) into one StackedMLP."""
        layers = [linear_layers(m) for m in models]
        weights, biases = [], []
        for i in range(len(layers[0])):
            w = torch.stack([ls[i].weight.detach().T for ls in layers]).contiguous().to(device)
            b = torch.stack([ls[i].bias.detach() for ls in layers]).unsqueeze(1).to(device)
            weights.append(w.requires_grad_())
            biases.append(b.requires_grad_())
        return cls(weights, biases, activation)

    @property
    def params(self) -> list[Tensor]:
        """[W_0, b_0, W_1, b_1, ...]: the order of ``model.parameters()`` of each member."""
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    @property
    def hidden(self) -> list[int]:
        """Widths of the hidden layers (where dropout masks go)."""
        return [w.shape[2] for w in self.weights[:-1]]

    def __len__(self) -> int:
        return self.weights[0].shape[0]

    def __call__(self, x: Tensor, masks: Sequence[Tensor | None] | None = None) -> Tensor:
        """Logits (K, B, C) of inputs (K, B, ...); ``masks[i]`` (K, B, H_i) scales hidden i."""
        h = x.flatten(2)  # (K, B, F)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)  # (K, B, out)
            if i < last:
                h = self._act(h)
                if masks is not None and masks[i] is not None:
                    h = h * masks[i]
        return h

    def select(self, slots: Tensor) -> StackedMLP:
        """A new stack with members ``slots`` only (fresh leaves with grad)."""
        def pick(ts: list[Tensor]) -> list[Tensor]:
            return [t.detach().index_select(0, slots).requires_grad_() for t in ts]
        return StackedMLP(pick(self.weights), pick(self.biases), self.activation)

    def unstack(self, t: Tensor, j: int) -> Tensor:
        """Member slice ``t`` of parameter ``j`` in nn.Linear's layout (weights transposed)."""
        return t.detach().T if j % 2 == 0 else t.detach()

    def with_params(self, params: list[Tensor]) -> StackedMLP:
        """The same architecture on other stacked parameters (e.g. the kept weights)."""
        return StackedMLP(params[0::2], params[1::2], self.activation)


class StackedCNN:
    """K lab CNNs (``models._cnn``: conv blocks, then an MLP head) of one shape as one.

    The conv layers are grouped convolutions: the K members' channels side by side,
    ``groups=K``, so member k's output channels see only its own input channels; a signal is
    a one-row image (the same 2-D kernels); activations are channels-last (the CPU max-pool
    is ~10x faster on it here). With ReLU the pool comes first (``relu(max x) = max relu(x)``
    with the same gradient), on a quarter of the units. ``bench/cnn_stack.py``, one training
    step of K = 6 digits CNNs (head 256, batch 128, one thread, medians of 40 interleaved
    steps on a shared machine): grouped 38 ms, ``torch.func`` (``functional_call`` + ``vmap``)
    91 ms, six separate models 69 ms; mnist1d-shaped signals (1, 40): 18 / 47 / 30 ms. So the
    engine uses grouped convolutions. (im2col + ``baddbmm`` was tried too: 179 ms, slower.)

    Storage, so that every parameter is a (K, a, b) tensor like the MLP's (the kernels'
    (K, 1, 1) strengths, the optimizers and the weight statistics apply unchanged):
    conv weight ``(K, out, in * kernel)`` (the member's ``conv.weight`` flattened), conv bias
    ``(K, 1, out)``; head layers as in :class:`StackedMLP` (weights transposed).

    Args:
        weights, biases: stacked parameters, conv layers first, then the head's linear ones.
        conv_shapes: each conv layer's member weight shape, e.g. (32, 1, 3, 3).
        activation: "relu", "gelu", "tanh" or "silu".
    """

    def __init__(self, weights: list[Tensor], biases: list[Tensor],
                 conv_shapes: Sequence[tuple[int, ...]], activation: str):
        self.weights, self.biases, self.activation = weights, biases, activation
        self.conv_shapes = [tuple(s) for s in conv_shapes]
        self._act = _ACT[activation]
        self._two_d = len(self.conv_shapes[0]) == 4

    @classmethod
    def from_models(cls, models: Sequence[nn.Module], activation: str,
                    device: torch.device | str = "cpu") -> StackedCNN:
        """Stack the conv and Linear layers of ``models`` (lab CNNs of one shape)."""
        convs = [[m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
                 for model in models]
        weights, biases = [], []
        for i, first in enumerate(convs[0]):
            if first.padding not in ((1,), (1, 1)) or first.stride not in ((1,), (1, 1)):
                raise ValueError("StackedCNN: conv layers with stride 1 and padding 1 only")
            w = torch.stack([c[i].weight.detach().flatten(1) for c in convs])
            weights.append(w.contiguous().to(device).requires_grad_())
            b = torch.stack([c[i].bias.detach() for c in convs]).unsqueeze(1)
            biases.append(b.to(device).requires_grad_())
        head = StackedMLP.from_models(models, activation, device)
        return cls(weights + head.weights, biases + head.biases,
                   [tuple(c.weight.shape) for c in convs[0]], activation)

    @property
    def params(self) -> list[Tensor]:
        """[W_0, b_0, W_1, b_1, ...]: the order of ``model.parameters()`` of each member."""
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    @property
    def hidden(self) -> list[int]:
        """Widths of the head's hidden layers (where dropout masks go)."""
        return [w.shape[2] for w in self.weights[len(self.conv_shapes):-1]]

    def __len__(self) -> int:
        return self.weights[0].shape[0]

    def __call__(self, x: Tensor, masks: Sequence[Tensor | None] | None = None) -> Tensor:
        """Logits (K, B, C) of inputs (K, B, C_in, *spatial); ``masks`` as in StackedMLP."""
        k, b = x.shape[:2]
        h = x.transpose(0, 1).reshape(b, k * x.shape[2], *x.shape[3:])  # (B, K*C, *spatial)
        if not self._two_d:  # a signal as a 1-row image: (B, K*C, 1, L)
            h = h.unsqueeze(2)
        # channels-last: PyTorch's CPU max-pool is ~10x faster on it than on NCHW at these
        # small images (1.9 ms against 21 ms for (128, 192, 8, 8)), and the convs keep it
        h = h.contiguous(memory_format=torch.channels_last)
        n_conv = len(self.conv_shapes)
        for w, bias, shape in zip(self.weights, self.biases, self.conv_shapes):
            kernel = shape[2:] if self._two_d else (1, shape[2])
            h = F.conv2d(h, w.view(k * shape[0], shape[1], *kernel), bias.reshape(-1),
                         padding=(1, 1) if self._two_d else (0, 1), groups=k)
            window = 2 if self._two_d else (1, 2)
            if self.activation == "relu":  # relu(max(x)) = max(relu(x)), the same gradient
                h = F.relu(F.max_pool2d(h, window))  # (a max <= 0 gets 0 either way), on
            else:                                    # a quarter of the units
                h = F.max_pool2d(self._act(h), window)
        h = h.reshape(b, k, -1).transpose(0, 1)  # (K, B, flat): each member's nn.Flatten
        last = len(self.weights) - 1
        for i in range(n_conv, len(self.weights)):
            h = torch.baddbmm(self.biases[i], h, self.weights[i])
            if i < last:
                h = self._act(h)
                if masks is not None and masks[i - n_conv] is not None:
                    h = h * masks[i - n_conv]
        return h

    def select(self, slots: Tensor) -> StackedCNN:
        """A new stack with members ``slots`` only (fresh leaves with grad)."""
        return self.with_params([t.detach().index_select(0, slots).requires_grad_()
                                 for t in self.params])

    def unstack(self, t: Tensor, j: int) -> Tensor:
        """Member slice ``t`` of parameter ``j``, to be reshaped to the member's shape."""
        head_weight = j % 2 == 0 and j // 2 >= len(self.conv_shapes)
        return t.detach().T if head_weight else t.detach()

    def with_params(self, params: list[Tensor]) -> StackedCNN:
        """The same architecture on other stacked parameters (e.g. the kept weights)."""
        return StackedCNN(params[0::2], params[1::2], self.conv_shapes, self.activation)


def stack_models(models: Sequence[nn.Module], spec, device: torch.device | str = "cpu"):
    """The stacked form of the lab models ``models`` built for ``spec``: a StackedCNN for
    ``spec.model == "cnn"``, else a StackedMLP (linear and MLP models)."""
    kind = StackedCNN if spec.model == "cnn" else StackedMLP
    return kind.from_models(models, spec.activation, device)


def _bcast(values: Tensor) -> Tensor:
    return values.reshape(-1, 1, 1)  # (K,) -> (K, 1, 1): one number per member


class StackedSGD:
    """``torch.optim.SGD`` per member: ``buf <- mu buf + g`` (first step ``buf = g``),
    ``p <- p - lr_k * (g + mu buf if nesterov else buf)``; no dampening, no coupled decay.

    Args:
        params: stacked tensors (K, ...).
        momentum: mu, 0 for plain SGD.
        nesterov: Nesterov momentum.
    """

    def __init__(self, params: list[Tensor], momentum: float = 0.0, nesterov: bool = False):
        self.params, self.momentum, self.nesterov = params, momentum, nesterov
        self.bufs: list[Tensor] | None = None

    def step(self, grads: list[Tensor], lr: Tensor, lrs: Sequence[float] | None = None) -> None:
        """One step with per-member learning rates ``lr`` (K,)."""
        lr = _bcast(lr)
        with torch.no_grad():
            if self.momentum:
                if self.bufs is None:
                    self.bufs = [g.detach().clone() for g in grads]
                else:
                    torch._foreach_mul_(self.bufs, self.momentum)
                    torch._foreach_add_(self.bufs, grads)
                steps = (torch._foreach_add(grads, self.bufs, alpha=self.momentum)
                         if self.nesterov else self.bufs)
            else:
                steps = grads
            for p, d in zip(self.params, steps):
                p.sub_(lr * d)

    def select(self, params: list[Tensor], slots: Tensor) -> StackedSGD:
        new = StackedSGD(params, self.momentum, self.nesterov)
        if self.bufs is not None:
            new.bufs = [b.index_select(0, slots) for b in self.bufs]
        return new


class StackedAdam:
    """``torch.optim.Adam`` per member (AdamW with weight_decay=0 is the same):

    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
    p <- p - (lr_k / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    All members start together, so one step count ``t`` serves them all (a frozen member's
    lr is 0, so its count does not matter). The update is PyTorch's fused Adam kernel (the
    same arithmetic as ``torch.optim.Adam(fused=True)``, one pass over memory instead of
    ten), called once on the whole stack when every member has the same lr, else once per
    distinct lr on the members' slices; frozen members (lr 0) are left out.
    """

    def __init__(self, params: list[Tensor], betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params, self.betas, self.eps = params, betas, eps
        self.t = 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self._step_t = torch.zeros((), dtype=torch.float32, device=params[0].device)

    def step(self, grads: list[Tensor], lr: Tensor, lrs: Sequence[float] | None = None) -> None:
        """One step with per-member learning rates ``lr`` (K,) (``lrs``: the same as floats)."""
        self.t += 1
        lrs = lr.tolist() if lrs is None else lrs
        with torch.no_grad():
            try:
                self._fused(grads, lrs)
            except (RuntimeError, NotImplementedError):  # no fused kernel for this device
                self._foreach(grads, lr)

    def _fused(self, grads: list[Tensor], lrs: Sequence[float]) -> None:
        self._step_t.fill_(self.t)
        groups: dict[float, list[int]] = {}
        for k, rate in enumerate(lrs):
            if rate > 0:
                groups.setdefault(rate, []).append(k)
        for rate, slots in groups.items():
            if len(slots) == len(lrs):  # everyone: the stacked tensors themselves
                ts = (self.params, grads, self.m, self.v)
            else:  # slices of contiguous stacks are contiguous
                ts = tuple([t[k] for t in tensors for k in slots]
                           for tensors in (self.params, grads, self.m, self.v))
            if not all(g.is_contiguous() for g in ts[1]):  # the kernel reads memory in order
                ts = (ts[0], [g.contiguous() for g in ts[1]], ts[2], ts[3])
            torch._fused_adam_(*ts, [], [self._step_t] * len(ts[0]), amsgrad=False,
                               lr=rate, beta1=self.betas[0], beta2=self.betas[1],
                               weight_decay=0.0, eps=self.eps, maximize=False)

    def _foreach(self, grads: list[Tensor], lr: Tensor) -> None:
        b1, b2 = self.betas
        bc1, bc2_sqrt = 1 - b1 ** self.t, math.sqrt(1 - b2 ** self.t)
        step_size = _bcast(lr) / bc1
        torch._foreach_lerp_(self.m, grads, 1 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, grads, grads, 1 - b2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, self.eps)
        ratio = torch._foreach_div(self.m, denom)
        for p, r in zip(self.params, ratio):
            p.sub_(step_size * r)

    def select(self, params: list[Tensor], slots: Tensor) -> StackedAdam:
        new = StackedAdam(params, self.betas, self.eps)
        new.t = self.t
        new.m = [m.index_select(0, slots) for m in self.m]
        new.v = [v.index_select(0, slots) for v in self.v]
        return new


def make_stacked_optimizer(name: str, params: list[Tensor]):
    """The lab's optimizers (``reglab.train.sequential.make_optimizer``) for stacked parameters:
    "sgd" = SGD with momentum 0.9, "adam" = Adam, "adamw" = AdamW: this Adam plus the stack's
    decoupled decay ``W <- W (1 - lr wd)`` on the weights just before it (``stacked._step``),
    which is torch.optim.AdamW's arithmetic, decay applied once."""
    if name == "sgd":
        return StackedSGD(params, momentum=0.9)
    return StackedAdam(params)
