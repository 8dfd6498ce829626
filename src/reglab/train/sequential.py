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
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reglab import augment as A
from reglab import kernels
from reglab import schedules
from reglab._validation import fail
from reglab.early_stopping import EarlyStopping
from reglab.penalties import L1, L2, ElasticNet, GroupLasso
from reglab.prechelt import GL, PQ, UP
from reglab.updates import DecoupledWeightDecay, ProximalGroupLasso, ProximalL1
from reglab.train.contract import RunResult, RunState, denormals_flushed, epoch_row
from reglab.train.models import build_model
from reglab.train.strengths import scheduled_keys, strength
from reglab.updates import param_groups

__all__ = ["RunResult", "fit", "train_one_epoch", "evaluate", "weight_stats", "resolve_device",
           "make_run", "run_epochs", "finish_run", "lr_at", "steps_per_epoch",
           "attach_lr_schedule", "data_loss", "regression_scores", "validation", "check_task"]


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
    if not ws:
        return 0.0, 0.0
    sparsity, norm = kernels.weight_stats([w.unsqueeze(0) for w in ws])
    return float(sparsity[0]), float(norm[0])


def data_loss(out: torch.Tensor, target: torch.Tensor, task: str = "classification",
              label_smoothing: float = 0.0) -> torch.Tensor:
    """The data term of a run's loss: ``kernels.cross_entropy(out, target, label_smoothing)``
    (classification: logits (B, C), hard (B,) or soft (B, C) targets), or for regression the
    mean squared error ``mean((out - y)^2)`` of the model's one output (B, 1) against the
    standardized targets (B,) or (B, 1) (the note's ``nn.MSELoss``)."""
    if task == "regression":
        return F.mse_loss(out, target.reshape(out.shape))
    return kernels.cross_entropy(out, target, label_smoothing)


def check_task(spec, task: str) -> None:
    """Refuse the knobs that do not apply to a regression target: label smoothing and CutMix
    soften or paste *class* targets (mixup applies: it mixes the targets too)."""
    if task != "regression":
        return
    for key, why in (("label_smoothing", "label smoothing softens class targets"),
                     ("cutmix", "CutMix pastes class targets")):
        if getattr(spec, key) > 0:
            raise fail("RunSpec", key, f"0 for a regression target ({why})", getattr(spec, key))


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
    label_smoothing: float = 0.0,
    task: str = "classification",
) -> dict[str, torch.Tensor]:
    """One pass over ``(X, y)`` in a seeded random order; returns epoch sums as 0-dim tensors.

    loss = data_loss(model(aug(x)), y or mixed y, task, label_smoothing) + penalty(model)

    Args:
        model, optimizer: what to train.
        X, y: the training inputs (N, ...) and int64 labels (N,) or float regression
            targets (N,), already on the device.
        batch_size: rows per step; the last batch may be smaller.
        generator: draws the permutation (seeded per run, so the order is reproducible).
        num_classes: for soft targets under mixup / cutmix.
        penalty: a loss term ``penalty(model) -> 0-dim tensor`` (e.g. ``L1(1e-4)``).
        augment: ``x -> x`` applied to every batch.
        mix: ``(x, y, num_classes) -> (x, y_soft)`` (Mixup / CutMix).
        label_smoothing: eps of ``reglab.kernels.cross_entropy`` (hard or soft targets).
        task: "classification" or "regression" (:func:`data_loss`; mixup mixes the targets).

    Returns:
        {"data_loss": mean (smoothed) data loss, "penalty": mean penalty, "train_acc":
        accuracy (classification only)}.
    """
    regression = task == "regression"
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
        if mix is not None:  # target: (B, num_classes) soft labels, or (B, 1) mixed values
            xb, target = mix(xb, yb[:, None] if regression else yb, num_classes)
        logits = model(xb)
        loss = data_loss(logits, target, task, label_smoothing)
        total = loss
        if penalty is not None:
            pen = penalty(model)
            total = loss + pen
            pen_sum += pen.detach() * idx.numel()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        loss_sum += loss.detach() * idx.numel()
        if not regression:
            hard = target if target.ndim == 1 else target.argmax(1)
            correct += (logits.detach().argmax(1) == hard).sum()
    if regression:
        return {"data_loss": loss_sum / n, "penalty": pen_sum / n}
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


@torch.no_grad()
def regression_scores(model: nn.Module, X: torch.Tensor, y: torch.Tensor, target_std: float,
                      batch_size: int = 4096) -> dict[str, float]:
    """A regression model's scores on ``(X, y)`` (y standardized), in eval mode:

    ``loss`` = mean (pred - y)^2 (the standardized MSE, the training loss's data term),
    ``rmse`` = sqrt(loss) * target_std, ``mae`` = mean |pred - y| * target_std (both in the
    target's units), ``r2`` = 1 - sum (pred - y)^2 / sum (y - mean y)^2 (sklearn's r2_score;
    NaN when y is constant).
    """
    model.eval()
    n = y.shape[0]
    if n == 0:
        return dict.fromkeys(("loss", "rmse", "mae", "r2"), math.nan)
    pred = torch.cat([model(xb).reshape(-1) for xb in X.split(batch_size)])
    err = pred.double() - y.double()
    sse, sst = float(err.pow(2).sum()), float((y.double() - y.double().mean()).pow(2).sum())
    mse = sse / n
    return {"loss": mse, "rmse": math.sqrt(mse) * target_std,
            "mae": float(err.abs().mean()) * target_std,
            "r2": 1.0 - sse / sst if sst > 0 else math.nan}


def validation(model: nn.Module, X: torch.Tensor, y: torch.Tensor, data) -> dict[str, float]:
    """The validation part of an epoch row: ``val_loss`` and ``val_acc`` (classification),
    or ``val_loss``, ``val_rmse``, ``val_mae``, ``val_r2`` (regression)."""
    if getattr(data, "task", "classification") == "regression":
        return {f"val_{k}": v for k, v in regression_scores(model, X, y,
                                                            data.target_std).items()}
    return dict(zip(("val_loss", "val_acc"), evaluate(model, X, y)))


@denormals_flushed()
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
    task = getattr(data, "task", "classification")
    check_task(spec, task)
    model = build_model(spec, data.kind, tuple(data.input_shape), data.num_classes).to(device)
    optimizer, handles, penalty, augment, mix, run = make_run(spec, model, data.kind,
                                                              len(data.train.y), task)
    gen = torch.Generator().manual_seed(spec.seed)
    Xtr, ytr = data.train.X.to(device), data.train.y.to(device)
    Xva, yva = data.val.X.to(device), data.val.y.to(device)

    def train() -> dict[str, torch.Tensor]:
        return train_one_epoch(model, Xtr, ytr, optimizer, batch_size=spec.batch_size,
                               generator=gen, num_classes=data.num_classes, penalty=penalty,
                               augment=augment, mix=mix,
                               label_smoothing=spec.label_smoothing, task=task)

    try:
        run_epochs(run, model, optimizer, penalty, train, lambda: validation(model, Xva, yva,
                                                                             data),
                   on_epoch, handles)
    finally:
        for h in handles:
            h.remove()
    return finish_run(run, model, data, device, t_start)


def make_run(spec, model: nn.Module, kind: str, n_train: int, task: str = "classification"):
    """What a one-model run trains with: (optimizer, update handles, penalty, augment, mix,
    RunState), all from ``spec``; ``n_train`` rows per epoch (for the lr schedule), ``task``
    the data's (the RunState's final keys)."""
    optimizer = make_optimizer(spec, model)
    # the schedule's hook first: the decay / proximal hooks read the lr it sets for the step
    handles = [h for h in [attach_lr_schedule(spec, optimizer, steps_per_epoch(spec, n_train))]
               if h is not None]
    handles += attach_updates(spec, model, optimizer)
    penalty = make_penalty(spec)
    augment, mix = make_augmentation(spec, kind)
    return (optimizer, handles, penalty, augment, mix,
            RunState(spec.epochs, make_early_stopping(spec), task))


def run_epochs(run: RunState, model: nn.Module, optimizer, penalty,
               train: Callable[[], dict[str, Any]], validate: Callable[[], dict[str, float]],
               on_epoch: Callable[[int, dict[str, float]], None] | None,
               handles: Sequence[Any] = ()) -> None:
    """The epoch loop of a one-model backend (this loop, DDP): schedules (the model's
    dropout, the penalty, the update rules of ``handles`` from :func:`attach_updates`), one
    training pass, validation (``validate()``: the row's ``val_*`` keys, :func:`validation`),
    the epoch row, then the contract decides whether the run goes on."""
    scheduled = [*([penalty] if penalty is not None else []),
                 *(h.rule for h in handles if hasattr(h, "rule"))]
    for epoch in range(run.max_epochs):
        t0 = time.perf_counter()
        schedules.set_epoch(epoch, model, *scheduled)
        sums = train()
        sparsity, norm = weight_stats(model)
        row = epoch_row(**sums, **validate(), sparsity=sparsity,
                        weight_norm=norm, lr=optimizer.param_groups[0]["lr"],
                        seconds=time.perf_counter() - t0)
        if on_epoch is not None:
            on_epoch(epoch, row)
        if run.after_epoch(row, model):
            return


def finish_run(run: RunState, model: nn.Module, data, device, t_start: float) -> RunResult:
    """Load the weights the run keeps, score them on every split (if done), the RunResult."""
    run.restore(model)
    scores = split_scores(model, data, device) if run.status == "done" else None
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return run.finish(scores, *weight_stats(model), time.perf_counter() - t_start, state)


def split_scores(model, data, device) -> dict[str, float]:
    """Loss and accuracy of ``model`` on the train, val and test splits (regression: loss,
    RMSE, MAE and R^2, :func:`regression_scores`): the contract's ``score_keys``."""
    out: dict[str, float] = {}
    for part in ("train", "val", "test"):
        split = getattr(data, part)
        if getattr(data, "task", "classification") == "regression":
            scores = regression_scores(model, split.X.to(device), split.y.to(device),
                                       data.target_std)
            out.update({f"{part}_{k}": v for k, v in scores.items()})
            continue
        out[f"{part}_loss"], out[f"{part}_acc"] = evaluate(model, split.X.to(device),
                                                           split.y.to(device))
    return out


# -- building blocks from the spec -----------------------------------------------------------
def make_optimizer(spec, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum 0.9), Adam, or AdamW whose own decoupled decay is ``spec.weight_decay``
    on the weights (ndim >= 2, ``rl.param_groups``; see :func:`attach_updates`)."""
    params = model.parameters()
    # foreach: one fused call per step instead of one per tensor (PyTorch turns it on for
    # CUDA only); with a few small tensors the per-call overhead is most of the step.
    if spec.optimizer == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=0.9, foreach=True)
    if spec.optimizer == "adamw":  # AdamW decays before its update, as DecoupledWeightDecay
        if "weight_decay" in scheduled_keys(spec):
            raise fail("RunSpec", "weight_decay", "a number with optimizer 'adamw' (torch's "
                       "AdamW takes no schedule; with 'adam' the lab's decoupled decay is the "
                       "same and does)", spec.schedules["weight_decay"])
        return torch.optim.AdamW(param_groups(model, spec.weight_decay), lr=spec.lr,
                                 foreach=True)
    return torch.optim.Adam(params, lr=spec.lr, foreach=True)


def steps_per_epoch(spec, n_train: int) -> int:
    """Optimizer steps per epoch: ``ceil(n_train / batch_size)`` (the last batch may be short)."""
    return max(1, -(-int(n_train) // spec.batch_size))


def lr_at(spec, steps: int) -> Callable[[int], float]:
    """The learning rate of optimizer step ``t`` of a run with ``steps`` steps per epoch:
    ``spec.lr * lr_factor(spec.lr_schedule, spec.warmup, spec.epochs * steps)(t)``.

    The one place a run's lr comes from: the loop and DDP (:func:`attach_lr_schedule`) and
    the stacked engine (per member) call it. Per step, not per epoch, so that warmup over a
    fraction of a short run is still a ramp and the cosine is smooth within an epoch; the
    total is the spec's epochs, so an early-stopped run stops partway down its schedule.
    """
    factor = schedules.lr_factor(spec.lr_schedule, spec.warmup, spec.epochs * steps)
    lr = spec.lr
    return lambda t: lr * factor(t)


def attach_lr_schedule(spec, optimizer, steps: int):
    """A step pre-hook that sets every group's lr to :func:`lr_at` of the step about to be
    taken (None, and no hook, for a constant lr without warmup: ``lr`` as built)."""
    if spec.lr_schedule == "constant" and spec.warmup == 0:
        return None
    lr = lr_at(spec, steps)
    count = [0]

    def hook(opt, args, kwargs) -> None:
        for group in opt.param_groups:
            group["lr"] = lr(count[0])
        count[0] += 1

    return optimizer.register_step_pre_hook(hook)


def make_penalty(spec):
    """The loss term ``L1(l1) + L2(l2) + ElasticNet(elastic_net, l1_ratio) +
    GroupLasso(group_lasso)``, the terms that are on (None when none is)."""
    terms = []
    if spec.l1 > 0:
        terms.append(L1(strength(spec, "l1")))
    if spec.l2 > 0:
        terms.append(L2(strength(spec, "l2")))
    if spec.elastic_net > 0:
        terms.append(ElasticNet(strength(spec, "elastic_net"), spec.l1_ratio))
    if spec.group_lasso > 0:
        terms.append(GroupLasso(strength(spec, "group_lasso")))
    return sum(terms[1:], terms[0]) if terms else None


def attach_updates(spec, model: nn.Module, optimizer) -> list[Any]:
    """Attach the decoupled weight-decay, proximal L1 and proximal group-lasso steps; returns
    their handles.

    The decay hook is for sgd and adam only: AdamW applies ``spec.weight_decay`` itself
    (:func:`make_optimizer`), so decay happens exactly once per step with every optimizer.
    """
    # the threshold lr * lam is a float32 in torch's kernel: beyond float32's largest value
    # the step cannot run (and every weight would be 0 long before), so refuse it up front
    f32_max = torch.finfo(torch.float32).max
    if spec.proximal_l1 > 0 and spec.lr * spec.proximal_l1 > f32_max:
        raise fail("RunSpec", "proximal_l1", f"a float with lr * proximal_l1 <= {f32_max:.4g} "
                   f"(lr = {spec.lr:g})", spec.proximal_l1)
    handles = []
    rules = []
    if spec.weight_decay > 0 and spec.optimizer != "adamw":
        rules.append(DecoupledWeightDecay(strength(spec, "weight_decay")))
    if spec.proximal_l1 > 0:
        rules.append(ProximalL1(strength(spec, "proximal_l1")))
    if spec.proximal_group_lasso > 0:  # with the model: its groups take the neurons' biases
        rules.append(ProximalGroupLasso(strength(spec, "proximal_group_lasso")))
    handles = []
    for rule in rules:
        handle = rule.attach(optimizer, model)
        handle.rule = rule  # for the epoch counter of a scheduled strength (run_epochs)
        handles.append(handle)
    return handles


def make_augmentation(spec, kind: str):
    """(augment, mix): the pipeline from ``spec.augment`` and a mixup / cutmix picker."""
    augment = mix = None
    if spec.augment:
        augment = A.from_names(list(spec.augment), kind, seed=spec.seed,
                               strength=spec.augment_strength)
    mixers = []
    if spec.mixup > 0:
        mixers.append(A.Mixup(spec.mixup, seed=spec.seed))
    if spec.cutmix > 0:
        if kind != "image":
            raise fail("RunSpec", "cutmix", "0 for data that is not an image", spec.cutmix)
        mixers.append(A.CutMix(spec.cutmix, seed=spec.seed + 1))
    if len(mixers) == 1:
        mix = mixers[0]
    elif mixers:  # both: each batch picks one, with the run's own seeded coin
        coin = torch.Generator().manual_seed(spec.seed + 2)

        def mix(x, y, k):
            return mixers[int(torch.randint(2, (1,), generator=coin))](x, y, k)
    return augment, mix


def make_early_stopping(spec):
    """EarlyStopping on validation loss with ``spec.patience`` and ``spec.stop_criterion``
    (Prechelt's GL / PQ / UP with ``stop_alpha``, ``stop_strip``, ``stop_strips``); None when
    patience is 0 and the criterion is "patience". With a criterion, patience 0 leaves the
    criterion alone to decide."""
    criterion = {"patience": lambda: None,
                 "gl": lambda: GL(spec.stop_alpha),
                 "pq": lambda: PQ(spec.stop_alpha, strip=spec.stop_strip),
                 "up": lambda: UP(spec.stop_strips, strip=spec.stop_strip)}[spec.stop_criterion]()
    if not spec.patience and criterion is None:
        return None
    return EarlyStopping(monitor="val_loss", mode="min", patience=spec.patience or None,
                         restore_best=True, criterion=criterion)
