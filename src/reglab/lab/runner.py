"""Run many specs: worker processes with one thread each, the store written by one process.

Each worker (``spawn`` context, so no inherited locks or OpenMP state) runs with
``torch.set_num_threads(1)`` and ``OMP_NUM_THREADS=1``: a small MLP step takes ~1.5 ms on one
thread but >200 ms with two spinning OpenMP threads on a busy machine. One worker per free
core (``len(os.sched_getaffinity(0))``), capped by the number of runs. Workers send progress
over a queue and return their results; only the main process writes the store.

Ctrl-C: workers ignore SIGINT; the main process marks the running runs ``interrupted``,
stops the workers and re-raises ``KeyboardInterrupt``. A run that fails with an exception is
stored as ``interrupted`` with the error as its reason (so a rerun retries it).

Example::

    outcome = execute(store, [Job("none-s0", "none", spec)], workers=2)
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import time
import queue as queue_mod
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Job", "Outcome", "execute", "default_workers", "run_job", "load_data"]


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


def free_cores() -> int:
    """Usable cores minus those other processes keep busy (a core half used counts as busy).

    Small models slow down by 100x when OpenMP threads fight over a core, so workers (one
    thread each) are never more than the free cores.
    """
    return max(1, usable_cores() - int(busy_cores() + 0.5))


def default_workers(n_runs: int) -> int:
    """One worker per free core (one thread each), at most one per run."""
    return max(1, min(free_cores(), n_runs))


_DATA_CACHE: dict[tuple, Any] = {}
_MESSAGES: Any = None  # in a worker: the queue its epoch messages go to


def load_data(spec) -> Any:
    """The spec's Dataset (split by its seed), cached per process."""
    import reglab.data
    key = (spec.data, spec.target, spec.seed)
    if key not in _DATA_CACHE:
        options = {} if spec.target is None else {"target": spec.target}
        _DATA_CACHE.clear()  # keep one data set per process: they can be large
        _DATA_CACHE[key] = reglab.data.load(spec.data, seed=spec.seed, **options)
    return _DATA_CACHE[key]


def run_job(job: Job, on_epoch: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Train one job; returns a plain dict (status, reason, epochs, final, state) or an error."""
    from reglab.train.sequential import fit
    try:
        result = fit(job.spec, load_data(job.spec), on_epoch=on_epoch)
    except Exception as err:  # noqa: BLE001 - one run's failure must not take the others down
        return {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
    return {"status": result.status, "reason": result.reason, "epochs": result.epochs,
            "final": result.final, "state": result.state}


def _worker_init(messages) -> None:
    """Initializer of every lab worker process (runner and engine): one thread, no Ctrl-C."""
    global _MESSAGES
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides what Ctrl-C does
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    torch.set_num_threads(1)
    _MESSAGES = messages


def _worker_run(job: Job) -> dict[str, Any]:
    def report(epoch: int, row: dict) -> None:
        if _MESSAGES is not None:
            _MESSAGES.put((job.run_id, epoch, row.get("val_acc"), row.get("val_loss")))
    return run_job(job, report)


def execute(store, jobs: list[Job], workers: int | None = None, progress=None) -> Outcome:
    """Run ``jobs`` (the ones not finished in ``store``), store each result as it arrives.

    Args:
        store: an open :class:`reglab.lab.store.Store`.
        jobs: what to run; each must already be registered in the store.
        workers: processes (None: one per free core, at most one per job; 1: in this process).
        progress: an object with ``start(run_id)``, ``epoch(run_id, epoch, val_acc, val_loss)``
            and ``finish(run_id, status)`` (or None).
    """
    outcome = Outcome()
    workers = (default_workers(len(jobs)) if workers is None
               else max(1, min(workers, len(jobs), usable_cores())))
    if not jobs:
        return outcome
    try:
        if workers == 1:
            _execute_here(store, jobs, outcome, progress)
        else:
            _execute_pool(store, jobs, workers, outcome, progress)
    except BaseException as err:
        why = ("interrupted (Ctrl-C or SIGTERM)" if isinstance(err, KeyboardInterrupt)
               else f"interrupted by an error: {type(err).__name__}: {err}")
        store.mark_unfinished("interrupted", why)
        raise
    finally:
        store.export_csv()
    return outcome


def _record(store, job: Job, res: dict[str, Any], outcome: Outcome, progress) -> None:
    if "error" in res:
        store.finish_run(job.run_id, "interrupted", f"failed: {res['error']}", [], {})
        outcome.failed[job.run_id] = res["error"]
        status = "failed"
    else:
        if res["state"] is not None:
            store.save_weights(job.run_id, res["state"])
        store.finish_run(job.run_id, res["status"], res["reason"], res["epochs"], res["final"])
        getattr(outcome, res["status"]).append(job.run_id)
        status = res["status"]
    if progress is not None:
        progress.finish(job.run_id, status)


def _execute_here(store, jobs: list[Job], outcome: Outcome, progress) -> None:
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for job in jobs:
            store.start_run(job.run_id)
            if progress is not None:
                progress.start(job.run_id)
            hook = None if progress is None else (
                lambda e, row, rid=job.run_id: progress.epoch(rid, e, row.get("val_acc"),
                                                              row.get("val_loss")))
            _record(store, job, run_job(job, hook), outcome, progress)
    finally:
        torch.set_num_threads(threads)


def _execute_pool(store, jobs: list[Job], workers: int, outcome: Outcome, progress) -> None:
    def start(job: Job) -> None:
        store.start_run(job.run_id)
        if progress is not None:
            progress.start(job.run_id)

    run_pool(jobs, lambda job: (_worker_run, job), workers, start,
             None if progress is None else progress.epoch,
             lambda job, res: _record(store, job, res, outcome, progress),
             lambda job, error: {"error": error})


def run_pool(items: list, call: Callable[[Any], tuple], workers: int,
             on_start: Callable[[Any], None], on_message: Callable[..., None] | None,
             on_done: Callable[[Any, Any], None], on_crash: Callable[[Any, str], Any]) -> None:
    """Run ``call(item) = (fn, *args)`` for each item in ``workers`` spawned one-thread
    processes, never more in flight than workers.

    ``on_start(item)`` before submitting; ``on_message(*msg)`` for each message a worker puts
    on its queue (``_MESSAGES``); ``on_done(item, result)`` as results arrive, where a worker
    that died (killed, OOM) gives ``on_crash(item, "Type: message")`` as its result. On any
    exception here (Ctrl-C included) the workers are killed and the exception propagates.
    """
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    old_omp = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # read by the children's OpenMP runtime at start-up
    pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                  initargs=(messages,))
    todo, running = list(reversed(items)), {}
    try:
        while todo or running:
            while todo and len(running) < workers:
                item = todo.pop()
                on_start(item)
                running[pool.submit(*call(item))] = item
            finished, _ = cf.wait(running, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            drain(messages, on_message)
            for fut in finished:
                item = running.pop(fut)
                try:
                    res = fut.result()
                except Exception as err:  # noqa: BLE001 - a worker died (e.g. killed, OOM)
                    res = on_crash(item, f"{type(err).__name__}: {err}")
                on_done(item, res)
        drain(messages, on_message)
    except BaseException:
        _kill(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if old_omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old_omp


def drain(messages, on_message: Callable[..., None] | None) -> None:
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
