"""One experiment trained by many machines: every machine runs the same command against one
PostgreSQL store (:mod:`reglab.lab.store_sql`) and trains the stacks it claims.

The plan is the single-machine plan: :func:`reglab.lab.execute.plan` cuts the runs into the
same stacks, the first machine records them (with every spec and data hash), the others
check theirs is the same plan and train stacks from the stored list. A stack is trained
whole by one worker (:func:`reglab.lab.execute.run_task`, as in one process) and its results
are written in one transaction, so results.csv equals a single-machine run's, whichever
machine trained what and whether a worker was killed (its stack is trained again, whole).

A worker's loop: claim a stack, train it while a thread renews the claim's heartbeat, write
its results; when nothing is claimable, wait for the stacks others hold (they finish, or
their lease expires and this worker takes them); end when every stack is done or was tried
by this worker. Ctrl-C gives the claimed stack back at once. At the end (and on Ctrl-C) the
worker copies the shared store into its local ``--out/NAME`` folder (results.csv, models,
the report).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from reglab.lab.execute import (INTERRUPTED, Experiment, Interrupted, Job, Outcome, Task,
                                _check_data, _data_description, _plan_data, plan, run_task)
from reglab.lab.model_file import model_metadata
from reglab.lab.store import FINISHED, Store, versions
from reglab.lab.store_sql import SharedStore, weights_bytes

__all__ = ["run_shared_experiment", "fingerprint", "LEASE_SECONDS", "POLL_SECONDS"]

LEASE_SECONDS = 60.0  # a claim without a heartbeat for this long is a dead worker's
POLL_SECONDS = 1.0  # how often a worker with nothing to claim looks again


def fingerprint(jobs: Sequence[Job], hashes: Mapping[str, str]) -> str:
    """SHA-256 of the plan: every run's id, arm, seed and spec, in order, and the data hashes."""
    plan_json = json.dumps([[j.run_id, j.arm, j.spec.seed, json.loads(j.spec.to_json())]
                            for j in jobs], sort_keys=True)
    return hashlib.sha256((plan_json + json.dumps(dict(sorted(hashes.items())))).encode()
                          ).hexdigest()


class _Heartbeat:
    """A daemon thread renewing one claim every ``every`` seconds until stopped."""

    def __init__(self, store: SharedStore, stack_id: int, worker: str, every: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="reglab-heartbeat",
                                        args=(store, stack_id, worker, every))

    def _beat(self, store, stack_id, worker, every) -> None:
        while not self._stop.wait(every):
            with contextlib.suppress(Exception):  # a missed beat only shortens the lease
                store.heartbeat(stack_id, worker)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _result_row(job: Job, res: Any, outcome: Outcome) -> tuple:
    """``(run_id, status, reason, epochs, final, weights)`` of one result, counted in
    outcome; the weights as the bytes of the file ``Store.save_weights`` writes."""
    if isinstance(res, dict):
        outcome.failed[job.run_id] = res["error"]
        return (job.run_id, "interrupted", f"failed: {res['error']}", [], {}, None)
    getattr(outcome, res.status).append(job.run_id)
    weights = None if res.state is None else weights_bytes(res.state, model_metadata(
        job.run_id, job.spec, _data_description(job.spec), versions()))
    return (job.run_id, res.status, res.reason, res.epochs, res.final, weights)


def run_shared_experiment(jobs: Sequence[Job], storage: str, out: str | Path, name: str,
                          meta: Mapping[str, Any] | None = None, *, engine: str = "auto",
                          lease: float = LEASE_SECONDS,
                          progress: Callable[[Path, int, int], Any] | None = None,
                          after: Callable[[Store], None] | None = None) -> Experiment:
    """Join (or start) the shared experiment ``name`` in ``storage`` and train stacks until
    none is left; then copy the store into ``out/name`` and call ``after`` with it.

    Args:
        jobs: the plan, one Job per run (every machine must give the same one).
        storage: a ``postgresql://user:password@host:port/db`` URL.
        out, name: the local folder ``out/name`` that receives the copy.
        meta: the experiment's metadata (stored by the first machine).
        engine: as :func:`reglab.lab.execute.execute` (the first machine's stacks are kept).
        lease: seconds without a heartbeat after which a claim is taken over.
        progress: as :func:`reglab.lab.execute.run_experiment`.
        after: called with the local copy (a :class:`Store`) once no stack is left.

    Raises:
        InvalidParameterError: another plan or other data under the same name.
        Interrupted: Ctrl-C or SIGTERM, once the claimed stack is given back.
    """
    jobs = list(jobs)
    specs = [j.spec for j in jobs]
    store = SharedStore.open(storage, name, Path(out) / name, meta=meta)
    try:
        hashes = _check_data(store, jobs)
        tasks = plan(specs, _plan_data(specs), engine)
        index = {j.run_id: i for i, j in enumerate(jobs)}
        store.fix_plan([(j.run_id, j.arm, j.spec.seed, j.spec.to_json()) for j in jobs], hashes,
                       [([jobs[i].run_id for i in t.indices], t.stacked) for t in tasks],
                       fingerprint(jobs, hashes))
        skipped = sum(r["status"] in FINISHED for r in store.runs())
        shown = None if progress is None else progress(store.root, len(jobs), skipped)
        outcome = Outcome()
        try:
            with shown if hasattr(shown, "__enter__") else contextlib.nullcontext():
                _work(store, jobs, index, lease, outcome, shown)
        except KeyboardInterrupt:
            store.snapshot()
            raise Interrupted(store.root) from None

        def finish(local: Store) -> list[dict[str, Any]]:
            if after is not None:
                after(local)
            return local.runs()

        return Experiment(store.root, outcome, store.snapshot(finish), skipped)
    finally:
        store.close()


def _work(store: SharedStore, jobs: list[Job], index: dict[str, int], lease: float,
          outcome: Outcome, progress) -> None:
    """Claim, train and write stacks until none is left for this worker."""
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    specs = [j.spec for j in jobs]
    tried: set[int] = set()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        while True:
            claim = store.claim(worker, lease, tried)
            if claim is None:
                if store.waiting(tried) == 0:
                    return
                time.sleep(POLL_SECONDS)  # others hold the rest: they finish or expire
                continue
            stack_id, members, stacked, open_ids = claim
            tried.add(stack_id)
            task = Task(tuple(index[m] for m in members), stacked)
            _train_claimed(store, worker, stack_id, task, jobs, specs, open_ids, lease,
                           outcome, progress)
    finally:
        torch.set_num_threads(threads)


def _train_claimed(store, worker, stack_id, task, jobs, specs, open_ids, lease, outcome,
                   progress) -> None:
    mine = [i for i in task.indices if jobs[i].run_id in open_ids]
    if progress is not None:
        for i in mine:
            progress.start(jobs[i].run_id)

    def epoch(i: int, e: int, row: dict) -> None:
        if progress is not None and jobs[i].run_id in open_ids:
            progress.epoch(jobs[i].run_id, e, row.get("val_acc"), row.get("val_loss"))

    try:
        with _Heartbeat(store, stack_id, worker, max(lease / 4, 0.5)):
            try:
                results = run_task(task, specs, None, epoch)
            except Exception as err:  # noqa: BLE001 - one stack's failure ends only its runs
                results = [{"error": f"{type(err).__name__}: {err}",
                            "trace": traceback.format_exc()}] * len(task.indices)
    except BaseException as err:
        store.release(stack_id, worker, INTERRUPTED if isinstance(err, KeyboardInterrupt)
                      else f"interrupted by an error: {type(err).__name__}: {err}")
        raise
    rows = [_result_row(jobs[i], res, outcome)
            for i, res in zip(task.indices, results) if jobs[i].run_id in open_ids]
    store.finish_stack(stack_id, worker, rows)
    if progress is not None:
        for run_id, status, *_ in rows:
            progress.finish(run_id, status if status != "interrupted" else "failed")
