"""The training loop: the whole data set as tensors on the device, no DataLoader.

``fit(spec, data)`` builds the model, optimizer and regularizers a :class:`RunSpec` asks for
and trains with ``train_one_epoch`` / ``evaluate``. Per epoch it records the data loss, the
penalty value, train accuracy (on the training batches as seen), validation loss and
accuracy, sparsity (fraction of exact zeros in the weights, ``ndim >= 2``), the weights' L2
norm, the learning rate and the seconds. The test split is evaluated once, at the end, on
the weights early stopping restored (or the last ones without it).

Losses are accumulated on tensors and read once per epoch: one ``.item()`` per epoch, not
per step, so the loop costs about what a hand-written tensor-slicing loop does.

Example::

    result = fit(RunSpec(data="digits", epochs=5), rl.data.load("digits"))
    result.status, result.final["test_acc"]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reglab._validation import fail
from reglab.train.models import build_model

__all__ = ["RunResult", "fit", "train_one_epoch", "evaluate", "weight_stats", "resolve_device"]


@dataclass
class RunResult:
    """What one run produced: status, why it stopped, per-epoch and final metrics, weights."""

    status: str  # "done" or "diverged"
    reason: str
    epochs: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    state: dict[str, torch.Tensor] | None = None


def resolve_device(name: str) -> torch.device:
    """"auto" -> cuda when available, else cpu; other names as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise fail("RunSpec", "device", "'cpu' or 'auto' on a machine without CUDA", name)
    if name == "mps" and not torch.backends.mps.is_available():
        raise fail("RunSpec", "device", "'cpu' or 'auto' on a machine without MPS (Apple GPUs)",
                   name)
    return torch.device(name)


def weights_of(model: nn.Module) -> list[torch.Tensor]:
    """The weights regularizers select by default: parameters with ndim >= 2."""
    return [p for p in model.parameters() if p.ndim >= 2]


@torch.no_grad()
def weight_stats(model: nn.Module) -> tuple[float, float]:
    """(sparsity, L2 norm) of the weights: fraction of exact zeros, sqrt(sum w^2)."""
    ws = weights_of(model)
    zeros = sum(int((w == 0).sum()) for w in ws)
    total = sum(w.numel() for w in ws)
    norm = math.sqrt(sum(float(w.double().pow(2).sum()) for w in ws))
    return zeros / max(total, 1), norm


def train_one_epoch(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int,
    generator: torch.Generator,
    num_classes: int,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    mix: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """One pass over ``(X, y)`` in a seeded random order; returns epoch sums as 0-dim tensors.

    loss = cross_entropy(model(aug(x)), y or mixed soft y) + penalty(model)

    Args:
        model, optimizer: what to train.
        X, y: the training inputs (N, ...) and int64 labels (N,), already on the device.
        batch_size: rows per step; the last batch may be smaller.
        generator: draws the permutation (seeded per run, so the order is reproducible).
        num_classes: for soft targets under mixup / cutmix.
        penalty: a loss term ``penalty(model) -> 0-dim tensor`` (e.g. ``rl.L1(1e-4)``).
        augment: ``x -> x`` applied to every batch.
        mix: ``(x, y, num_classes) -> (x, y_soft)`` (Mixup / CutMix).

    Returns:
        {"data_loss": mean data loss, "penalty": mean penalty, "train_acc": accuracy}.
    """
    model.train()
    n = X.shape[0]
    perm = torch.randperm(n, generator=generator).to(X.device)
    loss_sum = torch.zeros((), device=X.device)
    pen_sum = torch.zeros((), device=X.device)
    correct = torch.zeros((), device=X.device, dtype=torch.long)
    for idx in perm.split(batch_size):
        xb, yb = X[idx], y[idx]  # (B, ...), (B,)
        if augment is not None:
            xb = augment(xb)
        target = yb
        if mix is not None:
            xb, target = mix(xb, yb, num_classes)  # target: (B, num_classes) soft labels
        logits = model(xb)
        loss = F.cross_entropy(logits, target)
        total = loss
        if penalty is not None:
            pen = penalty(model)
            total = loss + pen
            pen_sum += pen.detach() * idx.numel()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        loss_sum += loss.detach() * idx.numel()
        hard = target if target.ndim == 1 else target.argmax(1)
        correct += (logits.detach().argmax(1) == hard).sum()
    return {"data_loss": loss_sum / n, "penalty": pen_sum / n, "train_acc": correct / n}


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 4096
             ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` in eval mode on ``(X, y)``."""
    model.eval()
    loss = torch.zeros((), device=X.device, dtype=torch.float64)
    correct = torch.zeros((), device=X.device, dtype=torch.long)
    for xb, yb in zip(X.split(batch_size), y.split(batch_size)):
        logits = model(xb)
        loss += F.cross_entropy(logits, yb, reduction="sum").double()
        correct += (logits.argmax(1) == yb).sum()
    n = max(y.shape[0], 1)
    return float(loss) / n, int(correct) / n


def fit(spec, data, on_epoch: Callable[[int, dict[str, float]], None] | None = None
        ) -> RunResult:
    """Train one run as ``spec`` says on ``data`` (a reglab Dataset); never raises on divergence.

    Args:
        spec: a RunSpec.
        data: the Dataset (train / val / test splits, kind, input_shape, num_classes).
        on_epoch: called after each epoch with ``(epoch, metrics)`` (progress reporting).

    Returns:
        A RunResult: status "done" or "diverged", the reason training stopped, per-epoch
        metrics, final metrics (train/val/test loss and accuracy, gap, sparsity, weight norm,
        epochs trained, best epoch, seconds) and the final (best) weights on the CPU.
    """
    t_start = time.perf_counter()
    device = resolve_device(spec.device)
    torch.manual_seed(spec.seed)  # initialization; batch order and augmentation use their own
    model = build_model(spec, data.kind, tuple(data.input_shape), data.num_classes).to(device)
    optimizer = make_optimizer(spec, model)
    handles = attach_updates(spec, model, optimizer)
    penalty = make_penalty(spec)
    augment, mix = make_augmentation(spec, data.kind)
    stopper = make_early_stopping(spec)
    gen = torch.Generator().manual_seed(spec.seed)
    Xtr, ytr = data.train.X.to(device), data.train.y.to(device)
    Xva, yva = data.val.X.to(device), data.val.y.to(device)
    epochs: list[dict[str, float]] = []
    status, reason = "done", f"reached the maximum of {spec.epochs} epochs"
    try:
        for epoch in range(spec.epochs):
            t0 = time.perf_counter()
            _set_epoch(epoch, model, penalty)
            sums = train_one_epoch(model, Xtr, ytr, optimizer, batch_size=spec.batch_size,
                                   generator=gen, num_classes=data.num_classes,
                                   penalty=penalty, augment=augment, mix=mix)
            val_loss, val_acc = evaluate(model, Xva, yva)
            row = {k: float(v) for k, v in sums.items()}
            row.update(val_loss=val_loss, val_acc=val_acc, lr=optimizer.param_groups[0]["lr"])
            row["sparsity"], row["weight_norm"] = weight_stats(model)
            row["seconds"] = time.perf_counter() - t0
            epochs.append(row)
            if on_epoch is not None:
                on_epoch(epoch, row)
            if not (math.isfinite(row["data_loss"]) and math.isfinite(val_loss)):
                bad = "training" if not math.isfinite(row["data_loss"]) else "validation"
                status = "diverged"
                reason = (f"diverged: the {bad} loss became non-finite "
                          f"({row['data_loss'] if bad == 'training' else val_loss}) "
                          f"at epoch {epoch}")
                break
            if stopper is not None and stopper.step(
                    {"val_loss": val_loss, "val_acc": val_acc,
                     "train_loss": row["data_loss"]}, model):
                reason = _stop_message(stopper)
                break
    finally:
        for h in handles:
            h.remove()
    best_epoch = len(epochs) - 1
    if stopper is not None and status == "done":
        if getattr(stopper, "best_epoch", None) is not None:
            stopper.restore(model)
            best_epoch = int(stopper.best_epoch)
            if not reason.startswith("early"):  # ran to the maximum: still on the best weights
                reason += f"; restored the best weights of epoch {best_epoch}"
    final = _final_metrics(model, data, device, status)
    final.update(epochs_trained=len(epochs), best_epoch=best_epoch,
                 seconds=time.perf_counter() - t_start)
    state = None if status != "done" else {k: v.detach().cpu().clone()
                                           for k, v in model.state_dict().items()}
    return RunResult(status, reason, epochs, final, state)


def _final_metrics(model, data, device, status: str) -> dict[str, float]:
    if status != "done":
        return {k: math.nan for k in ("train_loss", "train_acc", "val_loss", "val_acc",
                                      "test_loss", "test_acc", "gap")} | dict(
            zip(("sparsity", "weight_norm"), weight_stats(model)))
    out: dict[str, float] = {}
    for part in ("train", "val", "test"):
        split = getattr(data, part)
        out[f"{part}_loss"], out[f"{part}_acc"] = evaluate(model, split.X.to(device),
                                                           split.y.to(device))
    out["gap"] = out["train_acc"] - out["test_acc"]
    out["sparsity"], out["weight_norm"] = weight_stats(model)
    return out


# -- building blocks from the spec -----------------------------------------------------------
def make_optimizer(spec, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum 0.9), Adam or AdamW with its built-in decay off (decay is decoupled)."""
    params = model.parameters()
    # foreach: one fused call per step instead of one per tensor (PyTorch turns it on for
    # CUDA only); with a few small tensors the per-call overhead is most of the step.
    if spec.optimizer == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=0.9, foreach=True)
    if spec.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0, foreach=True)
    return torch.optim.Adam(params, lr=spec.lr, foreach=True)


def make_penalty(spec):
    """The loss term ``L1(l1) + L2(l2)`` (None when both are 0)."""
    import reglab as rl

    terms = []
    if spec.l1 > 0:
        terms.append(rl.L1(spec.l1))
    if spec.l2 > 0:
        terms.append(rl.L2(spec.l2))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def attach_updates(spec, model: nn.Module, optimizer) -> list[Any]:
    """Attach the proximal L1 and decoupled weight-decay steps; returns their handles."""
    import reglab as rl

    # the threshold lr * lam is a float32 in torch's kernel: beyond float32's largest value
    # the step cannot run (and every weight would be 0 long before), so refuse it up front
    f32_max = torch.finfo(torch.float32).max
    if spec.proximal_l1 > 0 and spec.lr * spec.proximal_l1 > f32_max:
        raise fail("RunSpec", "proximal_l1", f"a float with lr * proximal_l1 <= {f32_max:.4g} "
                   f"(lr = {spec.lr:g})", spec.proximal_l1)
    handles = []
    if spec.weight_decay > 0:
        handles.append(rl.DecoupledWeightDecay(spec.weight_decay).attach(optimizer, model))
    if spec.proximal_l1 > 0:
        handles.append(rl.ProximalL1(spec.proximal_l1).attach(optimizer, model))
    return handles


def make_augmentation(spec, kind: str):
    """(augment, mix): the pipeline from ``spec.augment`` and a mixup / cutmix picker."""
    augment = mix = None
    if spec.augment or spec.mixup > 0 or spec.cutmix > 0:
        from reglab import augment as A
    if spec.augment:
        augment = A.from_names(list(spec.augment), kind, seed=spec.seed,
                               strength=spec.augment_strength)
    mixers = []
    if spec.mixup > 0:
        mixers.append(_seeded(A.Mixup, spec.mixup, spec.seed))
    if spec.cutmix > 0:
        if kind != "image":
            raise fail("RunSpec", "cutmix", "0 for data that is not an image", spec.cutmix)
        mixers.append(_seeded(A.CutMix, spec.cutmix, spec.seed + 1))
    if len(mixers) == 1:
        mix = mixers[0]
    elif mixers:  # both: each batch picks one, with the run's own seeded coin
        coin = torch.Generator().manual_seed(spec.seed + 2)

        def mix(x, y, k):
            return mixers[int(torch.randint(2, (1,), generator=coin))](x, y, k)
    return augment, mix


def _seeded(cls, alpha: float, seed: int):
    try:
        return cls(alpha, seed=seed)
    except TypeError:  # a mixer without a seed argument draws from torch's global generator
        return cls(alpha)


def make_early_stopping(spec):
    """EarlyStopping on validation loss with ``spec.patience`` (None when patience is 0)."""
    if not spec.patience:
        return None
    import reglab as rl
    return rl.EarlyStopping(monitor="val_loss", mode="min", patience=spec.patience,
                            restore_best=True)


def _set_epoch(epoch: int, model: nn.Module, penalty) -> None:
    from reglab import schedules
    schedules.set_epoch(epoch, model, *([penalty] if penalty is not None else []))


def _stop_message(stopper) -> str:
    msg = getattr(stopper, "message", None) or str(getattr(stopper, "reason", "")) or "stopped"
    return f"early stopping: {msg}"
