"""The sweep engine: many runs that share a model shape trained as one stacked model.

An ablation or a sweep is dozens of small models that differ only in regularization and
seed. One after another, each small step is mostly Python and dispatch overhead; stacked
(K members' weights as (K, out, in), one ``baddbmm`` per layer, see ``engine_stack.py``)
the same overhead is paid once for all K. Each member is still exactly the run
:func:`reglab.train.sequential.fit` would train for its spec: same initial weights, same batch
order, same dropout masks (on the CPU), same augmentation draws, its own strengths,
learning rate and early stopping (``engine_train.py``; ``tests/test_engine.py`` checks the
trajectories against the sequential loop for every arm).

Runs are grouped by :func:`group_key` (model shape, optimizer, batch size, device, split
sizes); a group is cut into chunks that fit memory and spread over worker processes, one
per free core, each with one thread (OpenMP threads spin: two threads on a busy core make a
small step 100x slower). On CUDA everything runs in this process, in large chunks. Specs
that cannot be stacked (``cnn``) or stand alone run through ``loop.fit`` unchanged.

Example::

    results = train_many([RunSpec(l2=lam, seed=s) for lam in (0, 1e-4, 1e-3) for s in range(3)])
    results[0].final["test_acc"]
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from reglab._validation import check_choice
from reglab.train.sequential import RunResult, resolve_device
from reglab.lab import runner
from reglab.lab.runner import free_cores, run_pool, usable_cores

__all__ = ["train_many", "execute", "group_key", "free_cores", "plan", "Task", "ENGINES"]

ENGINES = ("auto", "vectorized", "sequential")
STACKABLE = ("linear", "mlp")
MEMORY_FRACTION = 0.5  # of the available memory, shared by the workers
DATA_CACHE = 16  # data splits kept per process (one per seed in a sweep)


def group_key(spec, data) -> tuple | None:
    """Runs with equal keys can share one stack; None for a spec that cannot be stacked.

    The key: model and hidden widths, activation, optimizer family, batch size, device and
    the data's shapes and split sizes (members may train on different splits of one size).
    """
    if spec.model not in STACKABLE:
        return None
    mlp = spec.model == "mlp"
    return (spec.model, spec.hidden if mlp else (), spec.activation if mlp else "",
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
    from reglab.train.stacked import EVAL_BATCH
    n_in = math.prod(data.input_shape)
    widths = list(spec.hidden) if spec.model == "mlp" else []
    sizes = [n_in, *widths, data.num_classes]
    params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    rows = spec.batch_size * 4 + EVAL_BATCH  # forward + masks + backward, one eval batch
    return 4 * (6 * params + rows * sum(sizes))


# Starting worker processes (fresh interpreters importing torch and reglab) cost 3 to 4 s here
# (bench/sweep.py: two workers never beat one process on less than ~6 s of work); the work per
# process must outweigh it.
SPAWN_SECONDS = 4.0
# The training rate of stacked MLPs on one core here: bench/sweep.py measured 7 GFLOP/s at
# H = 32 rising to 26-37 at H >= 128, where the choice matters. It only decides whether
# worker processes pay for their start, and 30 GFLOP/s put that break-even where the
# benchmark found it (in-process up to H = 256 x 3 epochs, processes beyond).
SMALL_MODEL_FLOPS = 3e10


def estimated_seconds(specs, datasets) -> float:
    """Rough one-core training time of the runs: 6 x parameters x rows x epochs / rate
    (inf for models this estimate does not cover, e.g. CNNs)."""
    total = 0.0
    for spec, data in zip(specs, datasets):
        if spec.model not in ("mlp", "linear"):
            return math.inf
        sizes = [math.prod(data.input_shape), *(spec.hidden if spec.model == "mlp" else ()),
                 data.num_classes]
        params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
        total += 6 * params * (len(data.train) + len(data.val)) * spec.epochs
    return total / SMALL_MODEL_FLOPS


def _worth_processes(procs: int, specs, datasets) -> int:
    """``procs``, or 1 when the work is too small for worker processes to pay for their start
    (the processes finish after ``SPAWN_SECONDS + work / procs``, this one after ``work``)."""
    if procs <= 1:
        return 1
    work = estimated_seconds(specs, datasets)
    return procs if math.isinf(work) or SPAWN_SECONDS + work / procs < work else 1


def _memory_budget(device: torch.device, workers: int) -> int:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * MEMORY_FRACTION)
    try:
        with open("/proc/meminfo") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
        avail = info.get("MemAvailable", 8 << 30)
    except OSError:
        avail = 8 << 30
    return int(avail * MEMORY_FRACTION / max(workers, 1))


def plan(specs: Sequence[Any], datasets: Sequence[Any], workers: int) -> list[Task]:
    """Cut the runs into tasks: groups of stackable runs split into chunks that fit memory,
    and into about as many chunks as workers need to stay busy; the rest one run each.

    Largest tasks first, so the last ones to finish are short.
    """
    groups: dict[tuple, list[int]] = {}
    singles: list[int] = []
    for i, (spec, data) in enumerate(zip(specs, datasets)):
        key = group_key(spec, data)
        if key is None:
            singles.append(i)
        else:
            groups.setdefault(key, []).append(i)
    tasks = []
    total = len(specs)
    for idx in groups.values():
        if len(idx) == 1:
            singles.extend(idx)
            continue
        spec, data = specs[idx[0]], datasets[idx[0]]
        device = resolve_device(spec.device)
        procs = 1 if device.type != "cpu" else workers
        cap = max(1, _memory_budget(device, procs) // member_bytes(spec, data))
        share = 1 if device.type != "cpu" else round(workers * len(idx) / total)
        chunks = min(len(idx), max(math.ceil(len(idx) / cap), share, 1))
        size = math.ceil(len(idx) / chunks)
        tasks += [Task(tuple(idx[a:a + size]), True) for a in range(0, len(idx), size)]
    tasks += [Task((i,), False) for i in sorted(singles)]
    return sorted(tasks, key=lambda t: -len(t.indices))


# -- running tasks --------------------------------------------------------------------------

_DATA: dict[tuple, Any] = {}


def load_data(spec) -> Any:
    """The spec's Dataset (split by its seed), cached in this process by (data, target, seed)."""
    import reglab.data
    key = (spec.data, spec.target, spec.seed)
    if key not in _DATA:
        options = {} if spec.target is None else {"target": spec.target}
        if len(_DATA) >= DATA_CACHE:  # a sweep over many seeds: forget the oldest split
            _DATA.pop(next(iter(_DATA)))
        _DATA[key] = reglab.data.load(spec.data, seed=spec.seed, **options)
    return _DATA[key]


def run_task(task: Task, specs: Sequence[Any], data: Any,
             on_epoch: Callable[[int, int, dict], None] | None = None) -> list[Any]:
    """Train one task; per index a RunResult, or an error dict (one run's failure is its own).

    Args:
        task: the indices to train and whether as one stack.
        specs: the specs the indices refer to.
        data: a Dataset for every spec, or None to load each spec's own split.
        on_epoch: ``(index, epoch, metrics)`` after each member's epoch.
    """
    from reglab.train.stacked import train_chunk
    from reglab.train.sequential import fit
    chosen = [specs[i] for i in task.indices]
    try:
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


def _worker_run(task: Task, specs: Sequence[Any], data: Any) -> list[Any]:
    queue = runner._MESSAGES  # set by runner._worker_init in this worker

    def report(i: int, epoch: int, row: dict) -> None:
        queue.put((i, epoch, row))
    return run_task(task, specs, data, report if queue is not None else None)


def _run_tasks(tasks: list[Task], specs, data, workers: int,
               on_start: Callable[[Task], None], on_epoch, on_done) -> None:
    """Run tasks here (workers == 1) or in ``workers`` spawned one-thread processes."""
    if workers <= 1:
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
        return
    run_pool(tasks, lambda task: (_worker_run, task, specs, data), workers, on_start, on_epoch,
             on_done, lambda task, error: [{"error": error}] * len(task.indices))


def _workers(workers: int | None, specs) -> int:
    """Processes to use: 1 on an accelerator (one process drives it, with large chunks),
    else ``workers`` or one per free core."""
    if any(resolve_device(s.device).type != "cpu" for s in specs):
        return 1
    # never more one-thread workers than cores, even when asked for more
    return max(1, min(free_cores() if workers is None else int(workers), usable_cores()))


def _datasets(specs, data) -> list[Any]:
    return [data if data is not None else load_data(s) for s in specs]


def train_many(specs: Sequence[Any], data: Any = None, workers: int | None = None,
               progress: Callable[[int, int, dict], None] | None = None,
               engine: str = "auto") -> list[RunResult]:
    """Train every spec, stacking those that share a model shape; results as ``fit`` gives.

    Args:
        specs: RunSpecs (their ``device`` decides CPU or CUDA).
        data: one Dataset for all specs (as ``fit(spec, data)``), or None to load each
            spec's data split by its own seed (as ``reglab compare`` does).
        workers: processes (None: one per free core; 1: this process), one thread each.
        progress: called with ``(spec index, epoch, metrics)`` after each run's epoch.
        engine: "auto" / "vectorized" (stack what can be stacked) or "sequential" (fit).

    Returns:
        One :class:`reglab.train.sequential.RunResult` per spec, in order. A run that raises
        re-raises here as RuntimeError naming the spec.
    """
    engine = check_choice("train_many", "engine", engine, ENGINES)
    specs = list(specs)
    datasets = _datasets(specs, data)
    # auto: processes only where they pay, and the free-core probe (0.2 s) only then
    worth = workers is not None or _worth_processes(usable_cores(), specs, datasets) > 1
    procs = _workers(workers, specs) if worth else 1
    if workers is None:
        procs = _worth_processes(procs, specs, datasets)
    tasks = (plan(specs, datasets, procs) if engine != "sequential"
             else [Task((i,), False) for i in range(len(specs))])
    out: list[Any] = [None] * len(specs)

    def done(task: Task, results: list[Any]) -> None:
        for i, res in zip(task.indices, results):
            out[i] = res

    _run_tasks(tasks, specs, data, min(procs, len(tasks)), lambda t: None, progress, done)
    for i, res in enumerate(out):
        if isinstance(res, dict):
            raise RuntimeError(f"run {i} ({specs[i].to_json()}) failed: {res['error']}\n"
                               f"{res.get('trace', '')}")
    return out


def execute(store, jobs: Sequence[Any], workers: int | None = None, progress=None,
            engine: str = "auto"):
    """``reglab.lab.runner.execute`` with the engine: same store writes, progress and Ctrl-C.

    Args:
        store: an open Store; every job already registered in it.
        jobs: runner.Job s to run (the unfinished ones).
        workers: processes (None: one per free core), one thread each.
        progress: ``start(run_id)``, ``epoch(run_id, epoch, val_acc, val_loss)``,
            ``finish(run_id, status)`` (or None).
        engine: "auto" (stack where runs share a shape, else the runner), "vectorized" or
            "sequential" (``runner.execute`` itself).

    Returns:
        The runner's Outcome (run ids per status, failures with their error).
    """
    engine = check_choice("compare", "engine", engine, ENGINES)
    jobs = list(jobs)
    if engine == "sequential" or not jobs:
        return runner.execute(store, jobs, workers=workers, progress=progress)
    specs = [j.spec for j in jobs]
    datasets = _datasets(specs, None)
    # auto: processes only where they pay, and the free-core probe (0.2 s) only then
    worth = workers is not None or _worth_processes(usable_cores(), specs, datasets) > 1
    procs = _workers(workers, specs) if worth else 1
    if workers is None:
        procs = _worth_processes(procs, specs, datasets)
    tasks = plan(specs, datasets, procs)
    if engine == "auto" and not any(t.stacked for t in tasks):
        return runner.execute(store, jobs, workers=workers, progress=progress)
    outcome = runner.Outcome()

    def start(task: Task) -> None:
        for i in task.indices:
            store.start_run(jobs[i].run_id)
            if progress is not None:
                progress.start(jobs[i].run_id)

    def epoch(i: int, e: int, row: dict) -> None:
        if progress is not None:
            progress.epoch(jobs[i].run_id, e, row.get("val_acc"), row.get("val_loss"))

    def done(task: Task, results: list[Any]) -> None:
        for i, res in zip(task.indices, results):
            if isinstance(res, RunResult):
                res = {"status": res.status, "reason": res.reason, "epochs": res.epochs,
                       "final": res.final, "state": res.state}
            runner._record(store, jobs[i], res, outcome, progress)

    try:
        _run_tasks(tasks, specs, None, min(procs, len(tasks)), start, epoch, done)
    except BaseException:
        store.mark_unfinished("interrupted", "interrupted (Ctrl-C or a fatal error)")
        raise
    finally:
        store.export_csv()
    return outcome
