"""The one executor: plan the runs, run them on a backend, store every result.

Backends: ``fit`` (one run, the sequential loop), ``train_chunk`` (a stack of runs that
share a model shape as one batched model) and ``fit_distributed`` (one run over N DDP
processes). Whatever the backend, the same code opens the store, refuses changed data,
registers the runs, skips the finished ones, writes each result as it arrives (this process
alone writes the store), marks the running runs after Ctrl-C with one reason, and exports
``results.csv`` at the end of every command, also when there was nothing left to run.

**Grouping never changes numbers.** A stacked member's float32 result depends on its
stack-mates (measured on digits, 7 arms x 2 seeds, MLP 256-256: cut into stacks of 7
instead of one stack of 14, 1 member of 14 differs by up to 1.8e-7 relative after 5 epochs,
3 of 14 by up to 5.8e-3 after 40; each run alone, 8 of 14 after 5 epochs). So :func:`plan` cuts the runs into stacks from the plan alone (specs and data shapes):
never from free cores, memory measured now, or which runs are already finished. A resume
plans the whole experiment again and trains every stack that holds an unfinished run, all
its members included, keeping only the unfinished members' results: each run comes out as
an uninterrupted experiment computes it, value for value. Free cores decide only how many
worker processes train the stacks.

Workers: ``spawn`` processes with one thread each (OpenMP threads spinning on a busy core make
a small step 100x slower), started from the calling thread, ending with it
(:func:`reglab.train.processes.die_with_parent`), ignoring Ctrl-C (this process decides).

Example::

    exp = run_experiment([Job("none-s0", "none", RunSpec(seed=0))], "runs", "demo")
    exp.runs[0]["final"]["test_acc"]
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import math
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

import reglab.data
from reglab._validation import InvalidParameterError, check_choice
from reglab.lab.model_file import describe_data
from reglab.lab.store import FINISHED, Store
from reglab.train.ddp import fit_distributed
from reglab.train.models import multiply_adds
from reglab.train.processes import die_with_parent
from reglab.train.sequential import RunResult, fit, resolve_device
from reglab.train.stacked import EVAL_BATCH, train_chunk

__all__ = ["Job", "Outcome", "Experiment", "Interrupted", "Task", "ENGINES", "INTERRUPTED",
           "run_experiment", "execute", "train_many", "plan", "group_key", "load_data",
           "data_hash", "usable_cores", "busy_cores", "free_cores", "process_count", "worker_pool",
           "result_or_crash"]

ENGINES = ("auto", "vectorized", "sequential")
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM)"  # the store's reason for runs cut short


@dataclass(frozen=True)
class Job:
    """One run to do: its id in the store, its arm and its spec."""

    run_id: str
    arm: str
    spec: Any  # RunSpec


@dataclass
class Outcome:
    """What ``execute`` did: run ids per final status, and failures with their error."""

    done: list[str] = field(default_factory=list)
    diverged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class Experiment:
    """What ``run_experiment`` leaves: the folder, this command's outcome, every stored run."""

    root: Path
    outcome: Outcome
    runs: list[dict[str, Any]]
    skipped: int  # finished runs kept from an earlier command
    retrained: list[str] = field(default_factory=list)  # done runs whose weights were lost


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM inside ``run_experiment``; ``str()`` is the one line to show."""

    def __init__(self, root: Path):
        super().__init__(f"interrupted: running runs marked 'interrupted' in {root}; "
                         "rerun the same command to resume.")

    def __str__(self) -> str:
        return str(self.args[0])


# -- the plan: a function of the specs and the data shapes alone ----------------------------

STACKABLE = ("linear", "mlp", "cnn")
# Members per stack and bytes per stack, per device type. Fixed numbers, never measured: the
# cut must not depend on the machine's load. On one CPU core 21 digits MLPs (256, 256) train
# in 1.23 s as one stack of 21, 1.12 s as stacks of 7, 1.21 s of 4 (5 epochs), so stacks of 6
# lose nothing and leave several stacks for the worker processes of a multi-core machine.
STACK_MEMBERS = {"cpu": 6, "cuda": 256}
STACK_BYTES = {"cpu": 1 << 30, "cuda": 4 << 30}
# Multiply-adds per sample of a whole CPU stack (members x ``models.multiply_adds``). Stacking
# pays where a member's step is small: on one core here, 6 runs x 20 epochs trained 1.5x
# faster stacked than one by one for digits MLPs (256, 256) (84k multiply-adds), 1.3x for
# (512, 512) (300k) and 1.1x for mnist1d's (512, 512, 512) (550k): big members gain little
# from stacking and one stack holds a process, so on a multi-core machine they are better
# cut in more stacks. A model-size rule, not a core count: the plan stays the machine's.
STACK_MACS = {"cpu": 2_000_000, "cuda": math.inf}


def sequential_only(spec) -> list[str]:
    """The knobs of ``spec`` that the stacked engine does not implement (its kernels cover
    L1, L2, decoupled decay, proximal L1, standard dropout, augmentation, mixup / cutmix and
    early stopping with any criterion): elastic net, group lasso (loss term and proximal), a
    dropout kind other than "standard", strength schedules and a CNN other than "two_block".
    A run with one of them on trains through ``fit``."""
    out = [k for k in ("elastic_net", "group_lasso", "proximal_group_lasso")
           if getattr(spec, k) > 0]
    if spec.dropout > 0 and spec.dropout_kind != "standard":
        out.append("dropout_kind")
    if spec.schedules:  # the stacked engine's strengths are numbers
        out.append("schedules")
    if spec.model == "cnn" and spec.cnn_arch != "two_block":  # StackedCNN: two_block only
        out.append("cnn_arch")
    return out


def group_key(spec, data) -> tuple | None:
    """Runs with equal keys can share one stack; None for a spec that cannot be stacked
    (a model the engine has no stacked form of, a knob it does not implement:
    :func:`sequential_only`; a regression target, which the stacked engine does not train
    (parity first: ``fit``'s MSE loop is the one reference); or whose data could not be
    loaded: its run reports the error).

    The key: model and hidden widths (a CNN's head width: its shape with the data's), activation,
    optimizer family, batch size, device and the data's shapes and split sizes (members may
    train on different splits of one size).
    """
    if spec.model not in STACKABLE or data is None or sequential_only(spec):
        return None
    if getattr(data, "task", "classification") == "regression":
        return None  # the stacked engine's loss and scores are classification's: fit trains it
    if spec.model == "cnn" and data.kind not in ("image", "signal"):
        return None  # fit reports the error
    shaped = spec.model != "linear"
    hidden = spec.hidden[:1] if spec.model == "cnn" else spec.hidden
    return (spec.model, hidden if shaped else (), spec.activation if shaped else "",
            "sgd" if spec.optimizer == "sgd" else "adam", spec.batch_size,
            resolve_device(spec.device).type, data.kind, tuple(data.input_shape),
            data.num_classes, *(getattr(data, p).y.shape[0] for p in ("train", "val", "test")))


@dataclass(frozen=True)
class Task:
    """Work for one process: spec indices trained as one stack, or one run through fit."""

    indices: tuple[int, ...]
    stacked: bool


def member_bytes(spec, data) -> int:
    """Rough memory one stack member needs: weights, grads, optimizer state, best copy,
    activations of a training batch and of an evaluation batch (float32)."""
    n_in = math.prod(data.input_shape)
    widths = list(spec.hidden) if spec.model == "mlp" else []
    conv_params = conv_units = 0
    if spec.model == "cnn":  # models._cnn: 3-wide convs to 32 and 64 channels, 2x pools
        c, pixels = data.input_shape[0], math.prod(data.input_shape[1:])
        taps = 3 ** (len(data.input_shape) - 1)
        for out in (32, 64):
            conv_params += (c * taps + 1) * out
            conv_units += out * pixels * 2  # before and after the pool (an upper bound)
            c, pixels = out, pixels // 2 ** (len(data.input_shape) - 1)
        n_in, widths = c * pixels, list(spec.hidden[:1])
    sizes = [n_in, *widths, data.num_classes]
    params = conv_params + sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    rows = spec.batch_size * 4 + EVAL_BATCH  # forward + masks + backward, one eval batch
    return 4 * (6 * params + rows * (sum(sizes) + conv_units))


def stack_cap(spec, data) -> int:
    """Most members of one stack of runs like ``spec``: ``STACK_MEMBERS``, fewer where
    ``STACK_BYTES`` (memory) or ``STACK_MACS`` (big models gain nothing) would be passed."""
    device = resolve_device(spec.device).type
    by_bytes = STACK_BYTES.get(device, STACK_BYTES["cpu"]) // member_bytes(spec, data)
    macs = multiply_adds(spec, data.kind, data.input_shape, data.num_classes)
    by_macs = STACK_MACS.get(device, STACK_MACS["cpu"]) // max(1, macs)
    return int(max(1, min(STACK_MEMBERS.get(device, STACK_MEMBERS["cpu"]), by_bytes, by_macs)))


def plan(specs: Sequence[Any], datasets: Sequence[Any], engine: str = "auto") -> list[Task]:
    """Cut the runs into tasks: each group of stackable runs into stacks of at most
    :func:`stack_cap` members (contiguous, in plan order, of balanced sizes), the rest
    one run each. Largest tasks first, so the last ones to finish are short.

    Runs that use a knob the stacked engine does not implement (elastic net, group lasso,
    proximal group lasso, gaussian / dropconnect / dropblock dropout, a strength schedule:
    :func:`sequential_only`) are never stacked: each runs alone through ``fit``, the loop
    whose builders define those knobs (DDP uses the same builders). Prechelt's stop
    criteria are stacked: each member's early stopping is its own ``RunState``.

    Order: the costliest tasks first (:func:`task_cost`), ties by size then plan order, so
    the cheap ones fill the end. The stacks themselves do not depend on the order.

    Args:
        specs: every run of the experiment, finished ones included (a resume must cut the
            same stacks as the first command).
        datasets: each spec's data (None where it could not be loaded).
        engine: "sequential" gives one task per run.
    """
    if engine == "sequential":
        return [Task((i,), False) for i in range(len(specs))]
    groups: dict[tuple, list[int]] = {}
    singles: list[int] = []
    for i, (spec, data) in enumerate(zip(specs, datasets)):
        key = group_key(spec, data)
        if key is None:
            singles.append(i)
        else:
            groups.setdefault(key, []).append(i)
    tasks = []
    for idx in groups.values():
        if len(idx) == 1:
            singles.extend(idx)
            continue
        cap = stack_cap(specs[idx[0]], datasets[idx[0]])
        size = math.ceil(len(idx) / math.ceil(len(idx) / cap))
        chunks = [tuple(idx[a:a + size]) for a in range(0, len(idx), size)]
        tasks += [Task(c, True) for c in chunks if len(c) > 1]
        singles.extend(c[0] for c in chunks if len(c) == 1)  # a stack of one is a fit run
    tasks += [Task((i,), False) for i in sorted(singles)]
    cost = {t: task_cost(t, specs, datasets) for t in tasks}
    return sorted(tasks, key=lambda t: (-cost[t], -len(t.indices)))


# What a training sample costs besides the model's multiply-adds, in the multiply-adds that
# cost the same time, from profiles of make demo's stacks (digits MLP 64-256-256-10, 84.5k
# multiply-adds, batch 64, one thread, 2026-12-03): a member's plain step ~1.4 ms, its
# rotate,translate,scale augmentation ~0.38 ms (~25k), a dropout mask on its 512 hidden
# units ~0.33 ms (~40 per unit). Only the order in which tasks start uses them (longest
# first, so the short ones fill the end and no core waits on one long last task); what a
# task computes does not depend on it.
AUGMENT_MACS = 25_000
DROPOUT_MACS_PER_UNIT = 40


def task_cost(task: Task, specs: Sequence[Any], datasets: Sequence[Any]) -> float:
    """Rough relative training cost of ``task``: per member, epochs x training rows x (the
    model's multiply-adds + its augmentation and dropout work). Early stopping is not
    foreseen (the full budget counts); a run whose data did not load costs 0."""
    total = 0.0
    for i in task.indices:
        spec, data = specs[i], datasets[i]
        if data is None:
            continue
        try:
            macs = float(multiply_adds(spec, data.kind, data.input_shape, data.num_classes))
        except Exception:  # noqa: BLE001 - a model that does not fit its data: fit reports it
            continue
        if spec.augment:
            macs += AUGMENT_MACS
        if spec.dropout > 0 and spec.model != "linear":
            macs += DROPOUT_MACS_PER_UNIT * sum(spec.hidden)
        total += spec.epochs * data.train.y.shape[0] * macs
    return total


# -- processes: how many, never what they compute -------------------------------------------

def usable_cores() -> int:
    """Cores this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def _busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def busy_cores(window: float = 0.2) -> float:
    """Cores kept busy by *other* processes, measured over ``window`` seconds.

    The machine's busy CPU time over the window (/proc/stat) minus this process's own, so
    that the caller does not count itself (the 1-minute load average does, and lags). Falls
    back to the load average where /proc/stat is missing.
    """
    try:
        tick = os.sysconf("SC_CLK_TCK")
        b0, _ = _busy_ticks()
        own0, t0 = sum(os.times()[:2]), time.monotonic()
        time.sleep(window)
        b1, _ = _busy_ticks()
        own1, t1 = sum(os.times()[:2]), time.monotonic()
        return max(0.0, ((b1 - b0) / tick - (own1 - own0)) / (t1 - t0))
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return 0.0


# Probes of free_cores: a core counts as busy only if every probe saw it busy, so that a
# process ending or a moment's burst (an editor, a finishing job) does not keep a long
# experiment on fewer cores than it may use; a steady hog is seen by all three.
CORE_PROBES = 3


def free_cores(probes: int = CORE_PROBES) -> int:
    """Usable cores minus those other processes keep busy (a core half used counts as busy),
    the most of up to ``probes`` probes of :func:`busy_cores` (0.2 s each; the next only
    while some core still looks busy)."""
    usable, free = usable_cores(), 0
    for _ in range(max(1, probes)):
        free = max(free, usable - int(busy_cores() + 0.5))
        if free >= usable:
            break
    return max(1, free)


# Starting worker processes (fresh interpreters importing torch and reglab) cost 3 to 4 s here
# (bench/sweep.py: two workers never beat one process on less than ~6 s of work); the work per
# process must outweigh it.
SPAWN_SECONDS = 4.0
# The training rate of stacked MLPs on one core here: bench/sweep.py measured 7 GFLOP/s at
# H = 32 rising to 26-37 at H >= 128. It only decides whether worker processes pay for their
# start (in-process up to H = 256 x 3 epochs, processes beyond).
SMALL_MODEL_FLOPS = 3e10
# The same for stacked CNNs (grouped convolutions), measured with train_chunk, 8 members, by
# process CPU time: 56-73 GFLOP/s for the digits CNN (1, 8, 8), 40 for mnist1d's (1, 40). The
# lower one, so that a CNN sweep near the line still starts its processes.
CNN_FLOPS = 4e10


def estimated_seconds(specs, datasets) -> float:
    """Rough one-core training time of the runs: 6 x multiply-adds per sample x rows x epochs
    / rate (``models.multiply_adds``; inf for data not loaded or a model this estimate does
    not cover, e.g. a CNN on tabular data)."""
    total = 0.0
    for spec, data in zip(specs, datasets):
        if data is None or spec.model not in STACKABLE or (
                spec.model == "cnn" and data.kind not in ("image", "signal")):
            return math.inf
        macs = multiply_adds(spec, data.kind, data.input_shape, data.num_classes)
        rate = CNN_FLOPS if spec.model == "cnn" else SMALL_MODEL_FLOPS
        total += 6 * macs * (len(data.train) + len(data.val)) * spec.epochs / rate
    return total


def worth_processes(procs: int, specs, datasets) -> int:
    """``procs``, or 1 when the work is too small for worker processes to pay for their start
    (the processes finish after ``SPAWN_SECONDS + work / procs``, this one after ``work``)."""
    if procs <= 1:
        return 1
    work = estimated_seconds(specs, datasets)
    return procs if math.isinf(work) or SPAWN_SECONDS + work / procs < work else 1


def process_count(workers: int | None, specs, datasets, n_tasks: int) -> int:
    """Processes for ``n_tasks`` tasks: 1 on an accelerator (one process drives it); else
    ``workers`` (never more than the usable cores) or, for None, one per free core where
    processes pay for their start (the free-core probes, 0.2 to 0.6 s, only then)."""
    if any(resolve_device(s.device).type != "cpu" for s in specs):
        return 1
    if workers is None:
        procs = 1 if worth_processes(usable_cores(), specs, datasets) <= 1 else (
            worth_processes(free_cores(), specs, datasets))
    else:
        procs = min(int(workers), usable_cores())
    return max(1, min(procs, n_tasks))


# -- data: one bounded cache per process ----------------------------------------------------

DATA_CACHE = 16  # splits kept per process (one per seed in a sweep) ...
DATA_CACHE_BYTES = 2 << 30  # ... and at most this many bytes of tensors (the newest is kept)
_DATA: OrderedDict[tuple, Any] = OrderedDict()


def _nbytes(data) -> int:
    return sum(t.nbytes for p in ("train", "val", "test")
               for t in (getattr(data, p).X, getattr(data, p).y))


def _stamp(source: str) -> tuple:
    """What changes when a data file is rewritten (size, mtime, inode); () for a built-in."""
    try:
        st = os.stat(source)
    except (OSError, ValueError):
        return ()
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _cache_key(spec) -> tuple:
    """What decides a run's data: the source, the data options (target, columns, split),
    the split seed, and the files' size and modification time (a rewritten file is loaded again)."""
    return (spec.data, json.dumps(spec.data_options(), sort_keys=True), spec.data_seed,
            _stamp(spec.data), None if spec.test_data is None else _stamp(spec.test_data))


def load_data(spec) -> Any:
    """The spec's Dataset (split by its ``data_seed``: ``split_seed``, else ``seed``), cached in this process by :func:`_cache_key`."""
    key = _cache_key(spec)
    if key in _DATA:
        _DATA.move_to_end(key)
        return _DATA[key]
    data = reglab.data.load(spec.data, seed=spec.data_seed, **spec.data_options())
    _DATA[key] = data
    while len(_DATA) > 1 and (len(_DATA) > DATA_CACHE
                              or sum(_nbytes(d) for d in _DATA.values()) > DATA_CACHE_BYTES):
        _DATA.popitem(last=False)  # forget the oldest split
    return data


def _plan_data(specs) -> list[Any]:
    """Each spec's data for planning; None where loading fails (that run reports why)."""
    out = []
    for spec in specs:
        try:
            out.append(load_data(spec))
        except Exception:  # noqa: BLE001 - the run itself raises it again and records it
            out.append(None)
    return out


def data_hash(data) -> str:
    """SHA-256 of what the runs train and are tested on: every split's tensors (dtype, shape,
    bytes), the class count and names. Changes with the file's content and with the split."""
    h = hashlib.sha256()
    for part in ("train", "val", "test"):
        for t in (getattr(data, part).X, getattr(data, part).y):
            t = t.detach().cpu().contiguous()
            h.update(f"{part}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    names = getattr(data, "class_names", None)
    h.update(json.dumps([int(data.num_classes), None if names is None else
                         [str(n) for n in names]]).encode())
    return h.hexdigest()


def _data_key(spec) -> str:
    return json.dumps([spec.data, spec.target, spec.data_seed] + (
        [spec.data_options()] if set(spec.data_options()) - {"target"} else []))


# -- running tasks, here or in worker processes ---------------------------------------------

def run_task(task: Task, specs: Sequence[Any], data: Any,
             on_epoch: Callable[[int, int, dict], None] | None = None) -> list[Any]:
    """Train one task; per index a RunResult, or an error dict (one run's failure is its own).

    Args:
        task: the indices to train and whether as one stack.
        specs: the specs the indices refer to.
        data: a Dataset for every spec; {spec index: Dataset} (what the parent process
            loaded; an index not in it loads its own); or None to load each spec's own split.
        on_epoch: ``(index, epoch, metrics)`` after each member's epoch.
    """
    chosen = [specs[i] for i in task.indices]
    try:
        if isinstance(data, Mapping):  # per spec index, what the parent process loaded
            datasets = [data[i] if data.get(i) is not None else load_data(s)
                        for i, s in zip(task.indices, chosen)]
        else:
            datasets = [data if data is not None else load_data(s) for s in chosen]
        if task.stacked:
            hook = None if on_epoch is None else (
                lambda j, e, row: on_epoch(task.indices[j], e, row))
            return train_chunk(chosen, datasets, hook)
        i = task.indices[0]
        hook = None if on_epoch is None else (lambda e, row: on_epoch(i, e, row))
        return [fit(chosen[0], datasets[0], on_epoch=hook)]
    except Exception as err:  # noqa: BLE001 - a failing task must not take the others down
        error = {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
        return [error] * len(task.indices)


_MESSAGES: Any = None  # in a worker: the queue its epoch messages go to


def _worker_init(messages, parent: int) -> None:
    """Initializer of every worker process: end with the parent, one thread, no Ctrl-C."""
    global _MESSAGES
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides what Ctrl-C does
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    _MESSAGES = messages


def _worker_run(task: Task, specs: Sequence[Any], data: Any) -> list[Any]:
    def report(i: int, epoch: int, row: dict) -> None:
        _MESSAGES.put((i, epoch, row))
    if isinstance(data, dict):  # the parent's splits, sent as arrays
        same: dict[int, Any] = {}
        for d in data.values():
            if id(d) not in same:
                same[id(d)] = _restored(d)
        data = {i: same[id(d)] for i, d in data.items()}
    elif data is not None:  # one data set for every spec, sent as arrays
        data = _restored(data)
    return run_task(task, specs, data, report if _MESSAGES is not None else None)


# The most bytes of loaded splits sent along with one task to a worker process (larger data
# the worker loads itself, from its source).
SHIP_BYTES = 256 << 20


def _shipped(task: Task, loaded: Sequence[Any] | None) -> dict[int, Any] | None:
    """The task's data as the parent loaded it, {spec index: Dataset}, for a worker process:
    loading it there again cost 2 s (digits: importing scikit-learn) to 5.5 s (mnist1d: its
    generator and matplotlib) per worker here, before any training. None when it was not
    loaded or is large. Its tensors travel as arrays (:func:`_portable`)."""
    if loaded is None:
        return None
    out = {i: loaded[i] for i in task.indices if loaded[i] is not None}
    distinct = {id(d): d for d in out.values()}
    if not out or sum(_nbytes(d) for d in distinct.values()) > SHIP_BYTES:
        return None
    portable = {key: _portable(d) for key, d in distinct.items()}
    return {i: portable[id(d)] for i, d in out.items()}


@dataclass(frozen=True)
class _Array:
    """A tensor on its way to a worker, as a numpy array (see :func:`_portable`)."""

    array: Any


def _leaves(obj: Any, kind: type, convert: Callable[[Any], Any]) -> Any:
    """``obj`` with every ``kind`` in its dataclass fields and SimpleNamespace attributes
    (recursively) ``convert``-ed."""
    if isinstance(obj, kind):
        return convert(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return replace(obj, **{f.name: _leaves(getattr(obj, f.name), kind, convert)
                               for f in fields(obj) if f.init})
    if isinstance(obj, SimpleNamespace):  # e.g. tune's view of a data set without its test
        return SimpleNamespace(**{k: _leaves(v, kind, convert) for k, v in vars(obj).items()})
    return obj


def _portable(obj: Any) -> Any:
    """``obj`` with every tensor of its dataclass fields (recursively) as an :class:`_Array`.
    A tensor pickled for a process pool goes through shared memory and leaves a file
    descriptor open in this process per message (150 tasks: 178 descriptors); an array is
    copied into the message. :func:`_restored` turns them back into the same tensors."""
    return _leaves(obj, torch.Tensor, lambda t: _Array(t.detach().numpy()))


def _restored(obj: Any) -> Any:
    """The inverse of :func:`_portable` (same values, dtypes and shapes)."""
    return _leaves(obj, _Array, lambda a: torch.from_numpy(a.array))


def _run_tasks(tasks: list[Task], specs, data, procs: int, on_start: Callable[[Task], None],
               on_epoch, on_done: Callable[[Task, list], None],
               loaded: Sequence[Any] | None = None) -> None:
    """Run tasks here (procs == 1, one thread) or in ``procs`` spawned one-thread workers.
    ``data`` (one data set for all) goes to the workers as arrays (:func:`_portable`);
    ``loaded``: each spec's data as loaded here (None: not loaded), sent to the workers with
    their tasks when ``data`` is None (same data: the same loader, the same arguments)."""
    if procs > 1:
        sent = None if data is None else _portable(data)  # arrays: no descriptor left open
        run_pool(tasks, lambda task: (_worker_run, task, specs,
                                      sent if data is not None else _shipped(task, loaded)),
                 procs, on_start, on_epoch, on_done,
                 lambda task, error: [{"error": error}] * len(task.indices))
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for task in tasks:
            on_start(task)
            try:
                res = run_task(task, specs, data, on_epoch)
            except Exception as err:  # noqa: BLE001 - one task's failure ends only its runs
                res = [{"error": f"{type(err).__name__}: {err}"}] * len(task.indices)
            on_done(task, res)
    finally:
        torch.set_num_threads(threads)


def run_pool(items: list, call: Callable[[Any], tuple], workers: int,
             on_start: Callable[[Any], None], on_message: Callable[..., None] | None,
             on_done: Callable[[Any, Any], None], on_crash: Callable[[Any, str], Any]) -> None:
    """Run ``call(item) = (fn, *args)`` for each item in ``workers`` spawned one-thread
    processes, never more in flight than workers.

    ``on_start(item)`` before submitting; ``on_message(*msg)`` for each message a worker puts
    on its queue; ``on_done(item, result)`` as results arrive, where a worker that died
    (killed, OOM) gives ``on_crash(item, "Type: message")`` as its result. On any exception
    here (Ctrl-C included) the workers are killed and the exception propagates. Call it from
    the thread that lives as long as the pool: the workers die with it (PR_SET_PDEATHSIG).
    """
    todo, running = list(reversed(items)), {}
    with worker_pool(workers) as (pool, messages):
        while todo or running:
            while todo and len(running) < workers:
                item = todo.pop()
                on_start(item)
                running[pool.submit(*call(item))] = item
            finished, _ = cf.wait(running, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            _drain(messages, on_message)
            for fut in finished:
                item = running.pop(fut)
                on_done(item, result_or_crash(fut, lambda err: on_crash(item, err)))
        _drain(messages, on_message)


def result_or_crash(fut: cf.Future, on_crash: Callable[[str], Any]) -> Any:
    """A finished future's result, or ``on_crash("Type: message")`` where its worker died
    (killed, OOM) or its call raised."""
    try:
        return fut.result()
    except Exception as err:  # noqa: BLE001 - a worker died (e.g. killed, OOM)
        return on_crash(f"{type(err).__name__}: {err}")


@contextlib.contextmanager
def worker_pool(workers: int):
    """``(pool, messages)``: a ProcessPoolExecutor of ``workers`` spawned one-thread processes
    (:func:`_worker_init`) and the queue their messages come on. On any exception in the
    block (Ctrl-C included) the workers are killed; they end with the calling thread."""
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    old_omp = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # read by the children's OpenMP runtime at start-up
    pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                  initargs=(messages, os.getpid()))
    try:
        yield pool, messages
    except BaseException:
        _kill(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if old_omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old_omp


def _drain(messages, on_message: Callable[..., None] | None) -> None:
    """Hand every message waiting on ``messages`` to ``on_message`` (dropped if None)."""
    while True:
        try:
            msg = messages.get_nowait()
        except (queue_mod.Empty, OSError, ValueError):
            return
        if on_message is not None:
            on_message(*msg)


def _kill(pool: cf.ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public terminate(); workers ignore SIGINT, so stop them here.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)


# -- the store ------------------------------------------------------------------------------

_DESCRIBED: dict[tuple, dict[str, Any]] = {}  # describe_data per split: small, kept per process


def _data_description(spec) -> dict[str, Any]:
    """What a weights file keeps of its run's data (names, shape, standardization)."""
    key = _cache_key(spec)
    if key not in _DESCRIBED:
        with warnings.catch_warnings():  # the run itself already warned about its data
            warnings.simplefilter("ignore")
            _DESCRIBED[key] = describe_data(load_data(spec))
    return _DESCRIBED[key]

def _record(store, job: Job, res: Any, outcome: Outcome, progress) -> None:
    """Store one run's result (weights first, then its rows and status in one transaction)."""
    if isinstance(res, dict):
        store.finish_run(job.run_id, "interrupted", f"failed: {res['error']}", [], {})
        outcome.failed[job.run_id] = res["error"]
        status = "failed"
    else:
        if res.state is not None:
            store.save_weights(job.run_id, res.state, _data_description(job.spec))
        store.finish_run(job.run_id, res.status, res.reason, res.epochs, res.final)
        getattr(outcome, res.status).append(job.run_id)
        status = res.status
    if progress is not None:
        progress.finish(job.run_id, status)


def execute(store, jobs: Sequence[Job], workers: int | None = None, progress=None,
            engine: str = "auto", nproc: int = 1) -> Outcome:
    """Run the unfinished ``jobs`` of ``store`` and store each result as it arrives.

    Args:
        store: an open :class:`reglab.lab.store.Store`, every job registered in it.
        jobs: the whole plan, finished runs included: the stacks are cut from all of them
            (so a resume trains the stacks an uninterrupted command trains); the finished
            ones are not stored again.
        workers: processes (None: one per free core where they pay; 1: this process).
        progress: ``start(run_id)``, ``epoch(run_id, epoch, val_acc, val_loss)`` and
            ``finish(run_id, status)`` (or None).
        engine: "auto" / "vectorized" (stack what can be stacked) or "sequential" (fit).
        nproc: > 1 trains each run with that many DDP processes (``fit_distributed``).

    Returns:
        The run ids per final status, and the failures with their error.
    """
    engine = check_choice("compare", "engine", engine, ENGINES)
    jobs = list(jobs)
    outcome = Outcome()
    try:
        todo = {i for i, j in enumerate(jobs) if store.status(j.run_id) not in FINISHED}
        if todo and nproc > 1:
            _execute_ddp(store, [jobs[i] for i in sorted(todo)], nproc, outcome, progress)
        elif todo:
            _execute_tasks(store, jobs, todo, workers, engine, outcome, progress)
    except BaseException as err:
        store.mark_unfinished("interrupted", INTERRUPTED if isinstance(err, KeyboardInterrupt)
                              else f"interrupted by an error: {type(err).__name__}: {err}")
        raise
    finally:
        store.export_csv()
    return outcome


def _execute_tasks(store, jobs: list[Job], todo: set[int], workers, engine: str,
                   outcome: Outcome, progress) -> None:
    specs = [j.spec for j in jobs]
    datasets = _plan_data(specs)
    tasks = [t for t in plan(specs, datasets, engine) if any(i in todo for i in t.indices)]
    mine = sorted(todo)
    procs = process_count(workers, [specs[i] for i in mine], [datasets[i] for i in mine],
                          len(tasks))

    def start(task: Task) -> None:
        for i in task.indices:
            if i in todo:
                store.start_run(jobs[i].run_id)
                if progress is not None:
                    progress.start(jobs[i].run_id)

    def epoch(i: int, e: int, row: dict) -> None:
        if progress is not None and i in todo:
            progress.epoch(jobs[i].run_id, e, row.get("val_acc"), row.get("val_loss"))

    def done(task: Task, results: list[Any]) -> None:
        for i, res in zip(task.indices, results):
            if i in todo:  # a finished stack-mate's result equals the stored one: not rewritten
                _record(store, jobs[i], res, outcome, progress)

    _run_tasks(tasks, specs, None, procs, start, epoch, done, loaded=datasets)


def _execute_ddp(store, jobs: list[Job], nproc: int, outcome: Outcome, progress) -> None:
    for job in jobs:
        store.start_run(job.run_id)
        if progress is not None:
            progress.start(job.run_id)
        hook = None if progress is None else (
            lambda e, row, rid=job.run_id: progress.epoch(rid, e, row.get("val_acc"),
                                                          row.get("val_loss")))
        try:
            res = fit_distributed(job.spec, load_data(job.spec), nproc=nproc, on_epoch=hook)
        except Exception as err:  # noqa: BLE001 - recorded as this run's failure
            res = {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
        _record(store, job, res, outcome, progress)


def _check_data(store, jobs: Sequence[Job]) -> dict[str, str]:
    """Each job's data hash, after refusing data that differs from what the store trained on."""
    stored, hashes = store.data_hashes(), {}
    for job in jobs:
        key = _data_key(job.spec)
        if key in hashes:
            continue
        try:
            hashes[key] = data_hash(load_data(job.spec))
        except Exception:  # noqa: BLE001 - the run reports its own loading error
            continue
        if key in stored and stored[key] != hashes[key]:
            raise InvalidParameterError(
                f"The data {job.spec.data!r} is not what the experiment {str(store.root)!r} "
                f"was trained on (its content or its split for seed {job.spec.data_seed} changed); "
                "pass another --name to start a new experiment.")
    return hashes


def run_experiment(jobs: Sequence[Job], out: str | Path, name: str,
                   meta: Mapping[str, Any] | None = None, *, workers: int | None = None,
                   engine: str = "auto", progress: Callable[[Path, int, int], Any] | None = None,
                   nproc: int = 1, after: Callable[[Store], None] | None = None,
                   lost_weights: Callable[[Path, list[str]], None] | None = None) -> Experiment:
    """Open (or resume) the experiment ``out/name`` and run what is not finished.

    Refuses, before writing anything, data that changed since the experiment trained on it
    and runs whose spec changed (InvalidParameterError: one line, exit 2 in the CLI).

    Args:
        jobs: the plan, one Job per run.
        out, name: the experiment folder ``out/name``.
        meta: the experiment's metadata (stored when the experiment is created).
        workers, engine, nproc: as :func:`execute`.
        progress: ``progress(root, n_runs, n_finished)`` gives the progress object (see
            :func:`execute`; entered as a context manager if it is one) or None.
        after: called with the open store once the runs are done (printing, extra meta).
        lost_weights: called as ``lost_weights(root, run_ids)`` before training when runs
            stored ``done`` had a missing or unreadable weight file (the store sets them back
            to ``interrupted``, so they train again): the CLI says so in one line.

    Raises:
        Interrupted: on Ctrl-C or SIGTERM, once the running runs are marked and
            ``results.csv`` is written.
    """
    jobs = list(jobs)
    check_choice("compare", "engine", engine, ENGINES)
    with Store.open(out, name, meta=meta) as store:
        hashes = _check_data(store, jobs)
        if store.rechecked and lost_weights is not None:
            lost_weights(store.root, list(store.rechecked))
        store.add_runs((job.run_id, job.arm, job.spec.seed, job.spec.to_json()) for job in jobs)
        store.add_data_hashes(hashes)
        skipped = sum(store.status(job.run_id) in FINISHED for job in jobs)
        shown = None if progress is None else progress(store.root, len(jobs), skipped)
        try:
            with shown if hasattr(shown, "__enter__") else contextlib.nullcontext():
                outcome = execute(store, jobs, workers=workers, progress=shown,
                                  engine=engine, nproc=nproc)
        except KeyboardInterrupt:
            raise Interrupted(store.root) from None
        if after is not None:
            after(store)
        return Experiment(store.root, outcome, store.runs(), skipped, list(store.rechecked))


# -- without a store ------------------------------------------------------------------------

def train_many(specs: Sequence[Any], data: Any = None, workers: int | None = None,
               progress: Callable[[int, int, dict], None] | None = None,
               engine: str = "auto") -> list[RunResult]:
    """Train every spec, stacking those that share a model shape; results as ``fit`` gives.

    Args:
        specs: RunSpecs (their ``device`` decides CPU or CUDA).
        data: one Dataset for all specs (as ``fit(spec, data)``), or None to load each
            spec's data split by its own seed (as ``reglab compare`` does).
        workers: processes (None: one per free core where they pay; 1: this process).
        progress: called with ``(spec index, epoch, metrics)`` after each run's epoch.
        engine: "auto" / "vectorized" (stack what can be stacked) or "sequential" (fit).

    Returns:
        One :class:`reglab.train.sequential.RunResult` per spec, in order. A run that raises
        re-raises here as RuntimeError naming the spec.
    """
    engine = check_choice("train_many", "engine", engine, ENGINES)
    specs = list(specs)
    datasets = [data] * len(specs) if data is not None else _plan_data(specs)
    tasks = plan(specs, datasets, engine)
    out: list[Any] = [None] * len(specs)

    def done(task: Task, results: list[Any]) -> None:
        for i, res in zip(task.indices, results):
            out[i] = res

    _run_tasks(tasks, specs, data, process_count(workers, specs, datasets, len(tasks)),
               lambda t: None, progress, done, loaded=datasets)
    for i, res in enumerate(out):
        if isinstance(res, dict):
            raise RuntimeError(f"run {i} ({specs[i].to_json()}) failed: {res['error']}\n"
                               f"{res.get('trace', '')}")
    return out
