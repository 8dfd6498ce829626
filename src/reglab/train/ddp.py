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

Under ``torchrun`` (any number of nodes and processes per node), the launcher starts the
processes: each is one rank, found in the environment (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT; env:// rendezvous), and joins the group instead of spawning
(:func:`joined_group`; on CUDA rank r uses cuda:LOCAL_RANK). The ranks first check they
run the same spec on the same data (a token each gives); rank 0 then trains through
:func:`fit_distributed` and writes the result, every other rank runs :func:`serve`, which
trains alongside each time rank 0 says so (a broadcast before each run, and a last one
saying there is nothing more). The numbers are those of ``--nproc WORLD_SIZE``.

Example::

    result = fit_distributed(RunSpec(data="digits", epochs=5), nproc=2)
    result.final["test_acc"]
"""

from __future__ import annotations

import contextlib
import json
import os
import queue as queue_mod
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel as DDP

import reglab.data
from reglab import kernels
from reglab._validation import InvalidParameterError, check_int, fail
from reglab.train.contract import RunResult, StopReason, denormals_flushed
from reglab.train.models import build_model
from reglab.train.processes import die_with_parent
from reglab.train.sequential import evaluate, finish_run, make_run, resolve_device, run_epochs

__all__ = ["fit_distributed", "free_port", "torchrun_env", "joined_group", "serve",
           "TORCHRUN_ENV"]

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_JOINED: dict = {}  # while this process is a rank of a launcher's group: rank, world, device


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


def torchrun_env() -> tuple[int, int, int] | None:
    """``(rank, world size, local rank)`` when torchrun (an env:// launcher) started this
    process, else None."""
    if not all(k in os.environ for k in TORCHRUN_ENV):
        return None
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])


@contextlib.contextmanager
def joined_group(spec, token: str) -> Iterator[int]:
    """Join torchrun's group as the rank the environment names; yields the rank.

    Every rank gives ``token`` (e.g. the spec and the data's hash); all of them raise
    InvalidParameterError when one differs from rank 0's. On leaving, rank 0 tells the
    others there is nothing more to train (:func:`serve` returns).
    """
    rank, world, local = torchrun_env()
    device = resolve_device(spec.device)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://",
                            rank=rank, world_size=world)
    try:
        tokens: list = [None] * world
        dist.all_gather_object(tokens, token)
        other = next((r for r, t in enumerate(tokens) if t != tokens[0]), None)
        if other is not None:
            raise InvalidParameterError(
                f"torchrun rank {other} runs another spec or other data than rank 0; start "
                "every node with the same command and the same data.")
        _JOINED.update(rank=rank, world=world, device=device)
        yield rank
        if rank == 0:
            _go(False)
        dist.barrier()  # as in _rank_main: no rank tears the group down while another is in it
    finally:
        _JOINED.clear()
        dist.destroy_process_group()


def _go(train: bool | None) -> bool:
    """Rank 0's word to every rank: train one more run (True) or stop (False)."""
    flag = torch.tensor([1 if train else 0], dtype=torch.int64,
                        device=_JOINED["device"] if _JOINED["device"].type == "cuda" else None)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def serve(spec, data) -> None:
    """A rank other than 0 under torchrun: train ``spec`` with rank 0 each time it says so."""
    plain = _plain_data(data)
    while _go(None):
        _joined_train(spec, plain, None)


def _joined_train(spec, data, messages) -> RunResult:
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(spec, data, _JOINED["device"], _JOINED["rank"], _JOINED["world"],
                      messages)
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)


class _Calls:
    """A ``messages`` queue for rank 0 in this process: each put calls ``on_epoch``."""

    def __init__(self, on_epoch):
        self.on_epoch = on_epoch

    def put(self, item) -> None:
        if self.on_epoch is not None:
            self.on_epoch(*item)


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

    Inside :func:`joined_group` (rank 0 under torchrun), it trains as rank 0 of that group
    instead (``nproc`` and ``timeout`` are the launcher's business then).
    """
    if _JOINED:
        if data is None:
            options = {} if spec.target is None else {"target": spec.target}
            data = reglab.data.load(spec.data, seed=spec.seed, **options)
        _go(True)
        return _joined_train(spec, _plain_data(data), _Calls(on_epoch))
    check_int("run", "nproc", nproc, 1, 4096)
    device = resolve_device(spec.device)
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise fail("run", "nproc", f"at most {torch.cuda.device_count()} (the GPUs) on cuda",
                   nproc)
    if data is None:
        data = reglab.data.load(spec.data, seed=spec.data_seed, **spec.data_options())
    if nproc > 1 and getattr(data, "task", "classification") == "regression":
        # parity first: the DDP loop's loss and sums are classification's; one process
        # (sequential.fit) trains a regression run
        raise fail("run", "nproc", "1 for a regression target (the DDP loop trains "
                   "classification only)", nproc)
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
        # every rank is done before any tears the group down: a rank whose peer had already
        # destroyed it was seen to abort at exit ("terminate called without an active
        # exception", SIGABRT) now and then in full test runs
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Done, the result written: leave without running the interpreter's and the C++ runtime's
    # exit-time destructors. With the barrier above the abort still came once in a full run
    # (2026-12-02, rank 1, after its result was complete), from a gloo thread still joinable
    # when its owner was destroyed at exit; a rank that failed raised above instead, and
    # torch.multiprocessing reports its traceback as before.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _write_result(folder: Path, result: RunResult) -> None:
    if result.state is not None:
        save_file({k: v.contiguous() for k, v in result.state.items()},
                  str(folder / "state.safetensors"))
    meta = {"status": result.status, "reason": result.reason, "epochs": result.epochs,
            "final": result.final, "has_state": result.state is not None,
            "stop": None if result.stop is None else result.stop.value}
    (folder / "result.json").write_text(json.dumps(meta))


@denormals_flushed()
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
    optimizer, handles, penalty, augment, mix, run = make_run(spec, model, data.kind,
                                                              len(data.train.y))
    gen = torch.Generator().manual_seed(spec.seed)
    train = (data.train.X.to(device), data.train.y.to(device))
    val = [t.tensor_split(world)[rank].to(device) for t in (data.val.X, data.val.y)]

    def train_epoch() -> dict[str, float]:
        return _train_epoch(ddp, model, *train, optimizer, spec.batch_size, gen,
                            data.num_classes, penalty, augment, mix, rank, world,
                            spec.label_smoothing)

    try:
        run_epochs(run, model, optimizer, penalty, train_epoch,
                   lambda: dict(zip(("val_loss", "val_acc"),
                                    _sharded_eval(model, *val, len(data.val.y)))),
                   None if messages is None else lambda epoch, row: messages.put((epoch, row)),
                   handles)
    finally:
        for h in handles:
            h.remove()
    return finish_run(run, model, data, device, t_start) if rank == 0 else None


def _train_epoch(ddp, model, X, y, optimizer, batch_size: int, gen, num_classes: int,
                 penalty, augment, mix, rank: int, world: int,
                 label_smoothing: float = 0.0) -> dict[str, float]:
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
        ce_sum = kernels.cross_entropy(logits, target[mine], label_smoothing, reduction="sum")
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
