"""``reglab run --nproc N``: one model trained by N processes with DistributedDataParallel.

Every rank draws the *same* global permutation (the run's seed, as in ``sequential.fit``), builds
each global batch of ``batch_size`` rows, augments / mixes it with the same seeded pipeline,
and keeps a contiguous slice (``idx.tensor_split(N)[rank]``). Its local loss is

    loss_r = N / B * sum_{i in slice r} CE_i + penalty(model)

DDP averages gradients over ranks, so the gradient is ``(1/B) sum_i grad CE_i + grad
penalty``: exactly the single-process gradient of the same global batch, last (short) batch
included; the penalty, identical on every rank, is averaged to itself. Proximal and decoupled
decay steps act on identical weights and gradients, so they agree on every rank. Validation
is sharded and its sums all-reduced; EarlyStopping all-reduces its stop decision; rank 0
alone writes the result (best weights) once.

Dropout masks are drawn per rank (seeded by the run's seed and the rank): the run equals the
single-process one in distribution, not bit for bit. Without dropout, it matches it to
rounding (float64: ~1e-12 after a few epochs).

gloo on CPU, NCCL when the spec's device is cuda (rank r on cuda:r). Processes are started
with torch.multiprocessing (spawn), MASTER_ADDR=127.0.0.1 and a free port, one thread each;
they end with the process that started them (``reglab.train.processes``).

Example::

    result = fit_distributed(RunSpec(data="digits", epochs=5), nproc=2)
    result.final["test_acc"]
"""

from __future__ import annotations

import json
import os
import queue as queue_mod
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel as DDP

import reglab.data
from reglab._validation import check_int, fail
from reglab.train.contract import RunResult, StopReason
from reglab.train.models import build_model
from reglab.train.processes import die_with_parent
from reglab.train.sequential import evaluate, finish_run, make_run, resolve_device, run_epochs

__all__ = ["fit_distributed", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plain_data(data) -> SimpleNamespace:
    """The tensors and facts a rank needs, as a picklable namespace."""
    split = lambda s: SimpleNamespace(X=s.X, y=s.y)  # noqa: E731
    return SimpleNamespace(kind=data.kind, input_shape=tuple(data.input_shape),
                           num_classes=data.num_classes, train=split(data.train),
                           val=split(data.val), test=split(data.test))


def fit_distributed(spec, data=None, nproc: int = 2,
                    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                    timeout: float | None = None) -> RunResult:
    """Train ``spec`` with ``nproc`` DDP processes; the same RunResult as ``sequential.fit``.

    Args:
        spec: a RunSpec.
        data: the Dataset (default: loaded from ``spec``, as ``reglab run`` does).
        nproc: processes, >= 1 (on CUDA at most the number of GPUs).
        on_epoch: called in this process after each epoch with ``(epoch, metrics)``.
        timeout: seconds to wait for the processes (None: no limit).
    """
    check_int("run", "nproc", nproc, 1, 4096)
    device = resolve_device(spec.device)
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise fail("run", "nproc", f"at most {torch.cuda.device_count()} (the GPUs) on cuda",
                   nproc)
    if data is None:
        options = {} if spec.target is None else {"target": spec.target}
        data = reglab.data.load(spec.data, seed=spec.seed, **options)
    data = _plain_data(data)
    ctx = mp.get_context("spawn")
    messages = ctx.SimpleQueue()
    with tempfile.TemporaryDirectory(prefix="reglab-ddp-") as tmp:
        env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
               "OMP_NUM_THREADS": "1"}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # spawned children read these at start-up
        try:
            # started from this thread, the ranks end with it (see _rank_main)
            procs = mp.start_processes(
                _rank_main, args=(nproc, spec, data, tmp, messages, os.getpid()),
                nprocs=nproc, join=False, start_method="spawn")
            deadline = None if timeout is None else time.monotonic() + timeout
            while not procs.join(timeout=0.1):
                _drain(messages, on_epoch)
                if deadline is not None and time.monotonic() > deadline:
                    for p in procs.processes:
                        p.terminate()
                    raise TimeoutError(f"distributed run still going after {timeout} s")
            _drain(messages, on_epoch)
        finally:
            for k, v in old.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        return _read_result(Path(tmp))


def _drain(messages, on_epoch) -> None:
    while True:
        try:
            if messages.empty():
                return
            epoch, row = messages.get()
        except (queue_mod.Empty, OSError, EOFError):
            return
        if on_epoch is not None:
            on_epoch(epoch, row)


def _read_result(folder: Path) -> RunResult:
    meta = json.loads((folder / "result.json").read_text())
    state = load_file(str(folder / "state.safetensors")) if meta["has_state"] else None
    stop = None if meta["stop"] is None else StopReason(meta["stop"])
    return RunResult(meta["status"], meta["reason"], meta["epochs"], meta["final"], state, stop)


def _rank_main(rank: int, world: int, spec, data, out: str, messages, parent: int) -> None:
    """One rank: join the group, train, and (rank 0) write the result to ``out``; it ends
    with the process that started it (``parent``)."""
    die_with_parent(parent)
    torch.set_num_threads(1)
    device = resolve_device(spec.device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        device = torch.device("cuda", rank)
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        result = _train(spec, data, device, rank, world, messages if rank == 0 else None)
        if rank == 0:
            _write_result(Path(out), result)
    finally:
        dist.destroy_process_group()


def _write_result(folder: Path, result: RunResult) -> None:
    if result.state is not None:
        save_file({k: v.contiguous() for k, v in result.state.items()},
                  str(folder / "state.safetensors"))
    meta = {"status": result.status, "reason": result.reason, "epochs": result.epochs,
            "final": result.final, "has_state": result.state is not None,
            "stop": None if result.stop is None else result.stop.value}
    (folder / "result.json").write_text(json.dumps(meta))


def _train(spec, data, device, rank: int, world: int, messages) -> RunResult | None:
    """``fit`` under DDP: same order, same regularizers, the same contract on every rank
    (every rank sees the same all-reduced numbers, so each RunState decides alike; the
    EarlyStopping shares its stop decision). Rank 0 returns the RunResult, the others None."""
    t_start = time.perf_counter()
    if data.train.X.is_floating_point():  # float64 data -> a float64 model, as on one process
        torch.set_default_dtype(data.train.X.dtype)
    torch.manual_seed(spec.seed)  # the same initialization on every rank (DDP checks it too)
    model = build_model(spec, data.kind, data.input_shape, data.num_classes).to(device)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    torch.manual_seed(spec.seed * 4096 + rank + 1)  # dropout masks: independent per rank
    optimizer, handles, penalty, augment, mix, run = make_run(spec, model, data.kind)
    gen = torch.Generator().manual_seed(spec.seed)
    train = (data.train.X.to(device), data.train.y.to(device))
    val = [t.tensor_split(world)[rank].to(device) for t in (data.val.X, data.val.y)]

    def train_epoch() -> dict[str, float]:
        return _train_epoch(ddp, model, *train, optimizer, spec.batch_size, gen,
                            data.num_classes, penalty, augment, mix, rank, world)

    try:
        run_epochs(run, model, optimizer, penalty, train_epoch,
                   lambda: _sharded_eval(model, *val, len(data.val.y)),
                   None if messages is None else lambda epoch, row: messages.put((epoch, row)),
                   handles)
    finally:
        for h in handles:
            h.remove()
    return finish_run(run, model, data, device, t_start) if rank == 0 else None


def _train_epoch(ddp, model, X, y, optimizer, batch_size: int, gen, num_classes: int,
                 penalty, augment, mix, rank: int, world: int) -> dict[str, float]:
    """One epoch over the global batches; each rank steps on its slice; sums all-reduced."""
    ddp.train()
    n = X.shape[0]
    perm = torch.randperm(n, generator=gen).to(X.device)  # the single process's order
    sums = torch.zeros(3, dtype=torch.float64, device=X.device)  # loss, penalty, correct
    for idx in perm.split(batch_size):
        xb, yb = X[idx], y[idx]  # the global batch (B, ...), (B,)
        if augment is not None:
            xb = augment(xb)  # same seeded draws as one process: augment the whole batch
        target = yb
        if mix is not None:
            xb, target = mix(xb, yb, num_classes)
        mine = torch.arange(idx.numel(), device=X.device).tensor_split(world)[rank]
        logits = ddp(xb[mine])
        ce_sum = F.cross_entropy(logits, target[mine], reduction="sum")
        loss = ce_sum * (world / idx.numel())  # DDP's mean over ranks -> the global mean
        pen = penalty(model) if penalty is not None else None
        total = loss if pen is None else loss + pen
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        hard = target[mine] if target.ndim == 1 else target[mine].argmax(1)
        sums[0] += ce_sum.detach().double()
        if pen is not None and rank == 0:  # the same on every rank: count it once
            sums[1] += pen.detach().double() * idx.numel()
        sums[2] += (logits.detach().argmax(1) == hard).sum().double()
    dist.all_reduce(sums)
    return {"data_loss": float(sums[0]) / n, "penalty": float(sums[1]) / n,
            "train_acc": float(sums[2]) / n}


@torch.no_grad()
def _sharded_eval(model, X, y, n_total: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over every rank's shard (sums all-reduced)."""
    loss, acc = evaluate(model, X, y) if len(y) else (0.0, 0.0)
    sums = torch.tensor([loss * len(y), acc * len(y)], dtype=torch.float64,
                        device=X.device)
    dist.all_reduce(sums)
    return float(sums[0]) / max(n_total, 1), float(sums[1]) / max(n_total, 1)
