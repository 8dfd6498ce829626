"""Train one chunk of runs that share a model shape as one stacked model (linear and MLP:
``StackedMLP``; CNN: ``StackedCNN``, grouped convolutions; ``stacked_ops.stack_models``).

The chunks are planned by ``reglab.lab.engine``.

Each member reproduces what :func:`reglab.train.sequential.fit` does for its spec:

* initialization: ``torch.manual_seed(seed)`` then ``build_model`` (the same weights);
* batch order: its own ``torch.Generator().manual_seed(seed)``, one ``randperm`` per epoch;
* dropout masks: on the CPU, its own generator started from the global RNG state that
  ``fit`` would have after building the model, and the same draw as the library's dropout
  layer (``reglab.kernels.bernoulli_(empty(B, H), keep) / keep``), so the masks are the
  sequential run's masks; on CUDA one batched draw (same distribution, different stream);
* augmentation and mixup / cutmix: its own pipeline from ``make_augmentation`` (seeded);
* loss = cross-entropy + the L1 / L2 terms over weights (ndim >= 2), their gradient added
  directly; decoupled decay before and proximal L1 after each optimizer step: all with
  per-member strengths, through the core's kernels (``reglab.kernels``), the same
  functions ``rl.L1`` / ``rl.L2`` / ``rl.DecoupledWeightDecay`` / ``rl.ProximalL1`` call;
* learning rate: each member's own ``sequential.lr_at`` (its lr, schedule, warmup and
  epochs) at the stack's step count, as a per-member (K,) tensor (and floats) for the
  optimizer and the decay / proximal kernels; label smoothing: per-member eps on the
  targets (``reglab.kernels.smooth_targets``);
* divergence, early stopping, the weights kept and the final metrics: one
  :class:`reglab.train.contract.RunState` per member, as in ``fit``; a stopped, diverged or
  finished member is frozen (learning rate 0) and its kept weights copied; when half the
  slots are frozen the stack is compacted to the members still training.

Example::

    results = train_chunk([RunSpec(seed=0), RunSpec(seed=1)], [ds0, ds1])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from reglab import augment as A
from reglab import kernels as K
from reglab.train.contract import RunResult, RunState, denormals_flushed, epoch_row
from reglab.train.models import build_model, check_memory
from reglab.train.sequential import (lr_at, make_augmentation, make_early_stopping,
                                     resolve_device, steps_per_epoch)
from reglab.train.stacked_ops import StackedMLP, make_stacked_optimizer, stack_models

__all__ = ["train_chunk"]

EVAL_BATCH = 4096  # rows per evaluation batch, as in sequential.evaluate


@dataclass
class _Member:
    """One run's non-tensor state: spec, generators, regularizers, history, outcome."""

    spec: Any
    data: Any
    names: list[str]
    shapes: list[torch.Size]
    perm_gen: torch.Generator
    drop_gen: torch.Generator
    augment: Any
    mix: Any
    run: RunState
    lr_at: Callable[[int], float]
    seconds: float = 0.0

    @property
    def running(self) -> bool:
        return not self.run.ended


def _build_member(spec, data) -> tuple[_Member, torch.nn.Module]:
    """The member's initial model and its generators, exactly as ``fit`` makes them."""
    torch.manual_seed(spec.seed)
    model = build_model(spec, data.kind, tuple(data.input_shape), data.num_classes)
    drop_gen = torch.Generator()
    drop_gen.set_state(torch.get_rng_state())  # fit's dropout draws continue this stream
    augment, mix = make_augmentation(spec, data.kind)
    named = list(model.named_parameters())
    member = _Member(spec, data, [n for n, _ in named], [p.shape for _, p in named],
                     torch.Generator().manual_seed(spec.seed), drop_gen, augment, mix,
                     RunState(spec.epochs, make_early_stopping(spec)),
                     lr_at(spec, steps_per_epoch(spec, len(data.train.y))))
    return member, model


class _Stack:
    """The live, compactable part: the stacked model, its optimizer and per-slot settings."""

    def __init__(self, members: list[_Member], models, device: torch.device, src: Tensor):
        spec = members[0].spec
        self.device = device
        self.model = stack_models(models, spec, device)  # a StackedMLP or a StackedCNN
        self.opt = make_stacked_optimizer(spec.optimizer, self.model.params)
        self.ids = list(range(len(members)))  # slot -> member index
        col = lambda key: torch.tensor([float(getattr(m.spec, key)) for m in members],  # noqa: E731
                                       dtype=self.model.weights[0].dtype, device=device)
        self.lr, self.l1, self.l2 = col("lr"), col("l1"), col("l2")
        self.wd, self.prox, self.drop = col("weight_decay"), col("proximal_l1"), col("dropout")
        self.smooth = col("label_smoothing")
        self.t = 0  # optimizer steps taken: every member steps together (one n, one batch)
        self._flags()
        self.src = src  # (K,) which of the chunk's data sets each slot trains on

    def __len__(self) -> int:
        return len(self.ids)

    def _flags(self) -> None:
        # per regularizer, the (slot, strength) of the slots that use it, read once: when only
        # some members use one, it is applied to their slices alone (an l1 arm among seven
        # must not cost a pass over the whole stack)
        self.users = {name: [(s, v) for s, v in enumerate(getattr(self, name).tolist()) if v > 0]
                      for name in ("l1", "l2", "wd", "prox")}
        self.groups, self.user_index = {}, {}
        for name in ("l1", "l2"):  # the loss terms' users by strength; their slots, strengths
            slots = [s for s, _ in self.users[name]]
            self.groups[name] = _by_value(self.users[name])
            self.user_index[name] = (torch.tensor(slots, dtype=torch.long, device=self.device),
                                     getattr(self, name)[slots])
        self.use = {name: bool(u) for name, u in self.users.items()}
        self.everyone = {name: len(u) == len(self.ids) for name, u in self.users.items()}
        self.smoothing = bool((self.smooth > 0).any())

    def compact(self, keep: Tensor) -> None:
        """Keep only the slots ``keep`` (indices into the current slots)."""
        self.model = self.model.select(keep)
        self.opt = self.opt.select(self.model.params, keep)
        self.ids = [self.ids[s] for s in keep.tolist()]
        for name in ("lr", "l1", "l2", "wd", "prox", "drop", "smooth", "src"):
            setattr(self, name, getattr(self, name).index_select(0, keep))
        self._flags()


def _gather(X: Tensor, idx: Tensor) -> Tensor:
    """Rows ``idx`` (K, B) of a flat split X (N_total, ...) -> (K, B, ...)."""
    return X.index_select(0, idx.reshape(-1)).view(*idx.shape, *X.shape[1:])


def _masks(stack: _Stack, droppers: list[tuple[int, float, torch.Generator]], batch: int,
           like: Tensor) -> list[Tensor | None]:
    """Per hidden layer, (K, B, H) inverted-dropout multipliers (None when no one drops).

    ``droppers``: (slot, keep, generator) of each member that drops units.
    """
    if not droppers:
        return [None] * len(stack.model.hidden)
    out: list[Tensor | None] = []
    for width in stack.model.hidden:
        m = torch.ones(len(stack), batch, width, dtype=like.dtype, device=like.device)
        if like.device.type == "cpu":
            for s, keep, gen in droppers:  # the member's own stream, fit's draw
                K.bernoulli_(m[s], keep, gen).div_(keep)
        else:  # one draw for the chunk: same distribution, not the sequential stream
            sel = torch.tensor([s for s, _, _ in droppers], device=like.device)
            keep = torch.tensor([k for _, k, _ in droppers], dtype=like.dtype,
                                device=like.device).view(-1, 1, 1)
            m[sel] = torch.bernoulli(keep.expand(-1, batch, width)) / keep
        out.append(m)
    return out


def _by_value(pairs) -> list[tuple[float, list[int]]]:
    """(value, slots) for each distinct value of (slot, value) pairs, in first-seen order."""
    out: dict[float, list[int]] = {}
    for slot, value in pairs:
        out.setdefault(value, []).append(slot)
    return list(out.items())


@torch.no_grad()
def _penalty(stack: _Stack, grads: list[Tensor]) -> Tensor:
    """Add d/dW of ``l1 sum|W| + l2 sum W^2`` to the weight gradients; return its value (K,).

    The kernels of ``rl.L1`` / ``rl.L2``, with (K, 1, 1) strengths on the whole stack when
    every member has the term, else with each user's float strength on its slices (an l1
    arm among seven must not cost a pass over the whole stack): one kernel call for all the
    slices that share a strength (a sweep of strengths over 32 small members: 3 calls a
    step, not 96), which computes what one call per slice does, element for element.
    """
    value = torch.zeros(len(stack), dtype=stack.lr.dtype, device=stack.device)
    if not (stack.use["l1"] or stack.use["l2"]):
        return value
    ws, gs = stack.model.weights, grads[0::2]
    rows: list[list[Tensor]] = []  # per term: each layer's values (K,) or its users' (U,)
    for term, value_of, values_of in (("l1", K.l1_value, K.l1_values),
                                      ("l2", K.l2_value, K.l2_values)):
        if not stack.use[term]:
            rows.append([])
        elif stack.everyone[term]:
            lam = getattr(stack, term).view(-1, 1, 1)
            K.add_l1_l2_grad_(gs, ws, **{term: lam})
            rows.append([value_of(w, lam) for w in ws])
        else:
            for lam, slots in stack.groups[term]:
                K.add_l1_l2_grad_([g.select(0, s) for g in gs for s in slots],
                                  [w.select(0, s) for w in ws for s in slots], **{term: lam})
            lams = stack.user_index[term][1]  # the users' values, layer by layer
            values = values_of([w.select(0, s) for w in ws for s, _ in stack.users[term]],
                               lams.repeat(len(ws)))
            rows.append(list(values.view(len(ws), -1)))
    for layer in range(len(ws)):  # each member's sum in the order of one call per slice
        for term, per_layer in zip(("l1", "l2"), rows):
            if not per_layer:
                continue
            if stack.everyone[term]:
                value += per_layer[layer]
            else:
                value.index_add_(0, stack.user_index[term][0], per_layer[layer])
    return value


def _step(stack: _Stack, members: list[_Member], grads: list[Tensor]) -> None:
    """Decoupled decay, the optimizer step, proximal L1: each with per-member lr 0 if frozen.

    Decay before the step, the proximal step after it (the order of the loop's optimizer
    hooks), both the kernels of ``rl.DecoupledWeightDecay`` / ``rl.ProximalL1`` with
    ``t = lr * strength`` per member.
    """
    lrs = [members[i].lr_at(stack.t) if members[i].running else 0.0 for i in stack.ids]
    stack.t += 1
    lr = torch.tensor(lrs, dtype=stack.lr.dtype, device=stack.device)
    ws = stack.model.weights
    _per_member(stack, "wd", K.decay_, ws, lr, lrs)
    stack.opt.step(grads, lr, lrs)
    _per_member(stack, "prox", K.soft_threshold_, ws, lr, lrs)


def _per_member(stack: _Stack, name: str, kernel, ws: list[Tensor], lr: Tensor,
                lrs: list[float]) -> None:
    """``kernel(ws, t)`` with ``t = lr * strength``: (K, 1, 1) on the whole stack when every
    member uses it, else a float on each user's slices (skipped where t is 0)."""
    if stack.everyone[name]:
        kernel(ws, (lr * getattr(stack, name)).view(-1, 1, 1))
        return
    for t, slots in _by_value((s, lrs[s] * lam) for s, lam in stack.users[name]):
        if t > 0:  # one call for the slices that share t: the same numbers as one each
            kernel([w.select(0, s) for w in ws for s in slots], t)


def _loss(logits: Tensor, target: Tensor, smooth: Tensor | None = None) -> Tensor:
    """Per-member mean cross-entropy (K,) for hard (K, B) or soft (K, B, C) targets, with
    per-member label smoothing ``smooth`` (K,) (None: none), as ``kernels.cross_entropy``."""
    k, b, c = logits.shape
    if smooth is not None:  # the soft form for everyone: t' = (1 - eps) t + eps / C
        if target.ndim == 2:
            target = F.one_hot(target, c).to(logits.dtype)
        target = K.smooth_targets(target, smooth.view(-1, 1, 1), c)
    if target.ndim == 2:
        return F.cross_entropy(logits.reshape(k * b, c), target.reshape(-1),
                               reduction="none").view(k, b).mean(1)
    return -(target * F.log_softmax(logits, -1)).sum(-1).mean(1)


def _batch_inputs(X: Tensor, y: Tensor, idx: Tensor, augmenters: list, mixers: list,
                  num_classes: int) -> tuple[Tensor, Tensor]:
    """Inputs (K, B, ...) and targets for one step, with each member's augmentation / mixing.

    ``augmenters`` / ``mixers``: (slot, callable) of the members that use one.
    """
    xb, yb = _gather(X, idx), _gather(y, idx)
    if augmenters:  # each member's pipeline on its rows; fused warps for all in one call
        slots = [s for s, _ in augmenters]
        out = A.Compose.apply_each([aug for _, aug in augmenters], xb[slots])
        if len(slots) == len(xb):
            xb = out
        else:
            xb[slots] = out
    if not mixers:
        return xb, yb
    target = F.one_hot(yb, num_classes).to(xb.dtype)  # (K, B, C) soft labels
    for s, mix in mixers:
        xb[s], target[s] = mix(xb[s], yb[s], num_classes)
    return xb, target


def _train_epoch(stack: _Stack, members: list[_Member], X: Tensor, y: Tensor, n: int,
                 batch_size: int, num_classes: int) -> dict[str, Tensor]:
    """One epoch for every slot; returns per-slot sums (K,) like ``train_one_epoch``."""
    k, dev = len(stack), stack.device
    live = [(s, members[i]) for s, i in enumerate(stack.ids) if members[i].running]
    perm = torch.zeros(k, n, dtype=torch.long)
    for s, m in live:
        perm[s] = torch.randperm(n, generator=m.perm_gen)  # the member's own order
    perm = perm.to(dev) + (stack.src * n).view(-1, 1)  # rows of its own data set in flat X
    augmenters = [(s, m.augment) for s, m in live if m.augment is not None]
    mixers = [(s, m.mix) for s, m in live if m.mix is not None]
    droppers = [(s, 1.0 - m.spec.dropout, m.drop_gen) for s, m in live
                if m.spec.dropout > 0 and stack.model.hidden]
    dtype = stack.model.weights[0].dtype
    loss_sum = torch.zeros(k, dtype=dtype, device=dev)
    pen_sum = torch.zeros(k, dtype=dtype, device=dev)
    correct = torch.zeros(k, dtype=torch.long, device=dev)
    params = stack.model.params
    for start in range(0, n, batch_size):
        idx = perm[:, start:start + batch_size]  # (K, B)
        b = idx.shape[1]
        xb, target = _batch_inputs(X, y, idx, augmenters, mixers, num_classes)
        logits = stack.model(xb, _masks(stack, droppers, b, xb))  # (K, B, C)
        loss = _loss(logits, target, stack.smooth if stack.smoothing else None)
        grads = list(torch.autograd.grad(loss.sum(), params))
        pen_sum += _penalty(stack, grads) * b
        _step(stack, members, grads)
        loss_sum += loss.detach() * b
        hard = target if target.ndim == 2 else target.argmax(-1)
        correct += (logits.detach().argmax(-1) == hard).sum(1)
    return {"data_loss": loss_sum / n, "penalty": pen_sum / n, "train_acc": correct / n}


@torch.no_grad()
def _evaluate(model: StackedMLP, X: Tensor, y: Tensor, offsets: Tensor, n: int
              ) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy (float64) and accuracy per member on its own split rows."""
    k = len(model)
    loss = torch.zeros(k, dtype=torch.float64, device=X.device)
    correct = torch.zeros(k, dtype=torch.long, device=X.device)
    for start in range(0, n, EVAL_BATCH):
        rows = torch.arange(start, min(start + EVAL_BATCH, n), device=X.device)
        idx = offsets.view(-1, 1) + rows  # (K, B)
        logits, yb = model(_gather(X, idx)), _gather(y, idx)
        ce = F.cross_entropy(logits.flatten(0, 1), yb.reshape(-1), reduction="none")
        loss += ce.view(k, -1).sum(1).double()
        correct += (logits.argmax(-1) == yb).sum(1)
    return loss / max(n, 1), correct.double() / max(n, 1)


class _Splits:
    """Each split of the chunk's distinct data sets concatenated: (S * N, ...) on the device."""

    def __init__(self, datasets: list[Any], device: torch.device, dtype: torch.dtype):
        self.num_classes = datasets[0].num_classes
        for part in ("train", "val", "test"):
            split = [getattr(d, part) for d in datasets]
            setattr(self, part, (torch.cat([s.X for s in split]).to(device, dtype),
                                 torch.cat([s.y for s in split]).to(device), split[0].y.shape[0]))


@denormals_flushed()
def train_chunk(specs: Sequence[Any], datasets: Sequence[Any],
                on_epoch: Callable[[int, int, dict[str, float]], None] | None = None
                ) -> list[RunResult]:
    """Train ``specs`` (one model shape, one optimizer, one batch size) as one stack.

    Args:
        specs: RunSpecs with model "linear", "mlp" or "cnn" that differ only in seed, epochs, lr
            and regularization (see ``engine.group_key``).
        datasets: each spec's Dataset (split by its seed); all with the same split sizes.
        on_epoch: called with ``(member index, epoch, metrics)`` after each member's epoch.

    Returns:
        One RunResult per spec, in order, as ``sequential.fit`` returns it.

    Raises:
        ValueError: for a regression data set (its MSE loop is ``sequential.fit``'s; the
            executor never stacks one, ``reglab.lab.execute.group_key``).
    """
    if any(getattr(d, "task", "classification") == "regression" for d in datasets):
        raise ValueError("train_chunk trains classification stacks; a regression run trains "
                         "with reglab.train.sequential.fit")
    t_start = time.perf_counter()
    device = resolve_device(specs[0].device)
    d0 = datasets[0]  # K members at once: the memory check covers the stack, not one model
    check_memory(specs[0], d0.kind, tuple(d0.input_shape), d0.num_classes, members=len(specs))
    built = [_build_member(s, d) for s, d in zip(specs, datasets)]
    members = [m for m, _ in built]
    distinct = list({id(d): d for d in datasets}.values())
    which = {id(d): i for i, d in enumerate(distinct)}
    src = torch.tensor([which[id(d)] for d in datasets], device=device)
    stack = _Stack(members, [model for _, model in built], device, src)
    splits = _Splits(distinct, device, stack.model.weights[0].dtype)
    best = [p.detach().clone() for p in stack.model.params]  # (K, ...) per parameter
    setup = time.perf_counter() - t_start
    _run_epochs(stack, members, splits, best, on_epoch)
    return _finish(members, best, splits, src, stack.model, setup)


def _run_epochs(stack: _Stack, members: list[_Member], splits: _Splits, best: list[Tensor],
                on_epoch) -> None:
    """Train until every member has stopped, diverged or reached its epochs."""
    (X, y, n), (Xv, yv, nv) = splits.train[:3], splits.val[:3]
    batch_size = members[0].spec.batch_size
    for epoch in range(max(m.spec.epochs for m in members)):
        running = [s for s, i in enumerate(stack.ids) if members[i].running]
        if not running:
            return
        if len(running) <= len(stack) // 2:  # half the slots frozen: stop computing them
            stack.compact(torch.tensor(running, device=stack.device))
            running = list(range(len(stack)))
        t0 = time.perf_counter()
        sums = _train_epoch(stack, members, X, y, n, batch_size, splits.num_classes)
        val_loss, val_acc = _evaluate(stack.model, Xv, yv, stack.src * nv, nv)
        sparsity, norm = K.weight_stats(stack.model.weights)
        cols = {k: v.tolist() for k, v in sums.items()}
        cols.update(val_loss=val_loss.tolist(), val_acc=val_acc.tolist(),
                    sparsity=sparsity.tolist(), weight_norm=norm.tolist())
        seconds = (time.perf_counter() - t0) / len(running)  # each member's share of the epoch
        for s in running:
            i = stack.ids[s]
            m = members[i]
            row = epoch_row(**{k: cols[k][s] for k in cols}, lr=m.lr_at(stack.t - 1),
                            seconds=seconds)  # the lr of the epoch's last step, as in fit
            m.seconds += seconds
            if on_epoch is not None:
                on_epoch(i, epoch, row)
            m.run.after_epoch(row)  # its own EarlyStopping; the contract decides
            if m.run.keep_now:  # these are (for now) the weights the run keeps
                _keep(stack, s, i, best)


def _keep(stack: _Stack, s: int, i: int, best: list[Tensor]) -> None:
    """Copy slot ``s``'s live weights into member ``i``'s kept weights."""
    with torch.no_grad():
        for b, p in zip(best, stack.model.params):
            b[i].copy_(p[s])


def _finish(members: list[_Member], best: list[Tensor], splits: _Splits, src: Tensor,
            live, setup: float) -> list[RunResult]:
    """Test metrics on each member's best weights (``live``: the stacked model, for its
    architecture), and its RunResult."""
    t0 = time.perf_counter()
    model = live.with_params(best)
    metrics: dict[str, list[float]] = {}  # SCORE_KEYS, one value per member
    for part in ("train", "val", "test"):
        X, y, n = getattr(splits, part)
        loss, acc = _evaluate(model, X, y, src * n, n)
        metrics[f"{part}_loss"], metrics[f"{part}_acc"] = loss.tolist(), acc.tolist()
    sparsity, norm = (t.tolist() for t in K.weight_stats(model.weights))
    overhead = (setup + time.perf_counter() - t0) / len(members)
    results = []
    for i, m in enumerate(members):
        scores = {k: v[i] for k, v in metrics.items()}
        state = {name: model.unstack(b[i], j).reshape(shape).cpu().clone(
            memory_format=torch.contiguous_format)
            for j, (name, shape, b) in enumerate(zip(m.names, m.shapes, best))
        } if m.run.status == "done" else None
        results.append(m.run.finish(scores, sparsity[i], norm[i], m.seconds + overhead, state))
    return results
