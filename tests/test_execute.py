"""The one executor (issues 11, 16, 18): results depend on the command alone, not on the
cores, the load or an interruption; results.csv always equals the store; changed data is
refused; a killed command leaves no process behind.

Why grouping matters: a stacked member's float32 result depends on its stack-mates (on
digits, 7 arms x 2 seeds, 5 epochs: stacks of 7 instead of one of 14 change 1 member of 14
by up to 1.8e-7 relative, each run alone changes 8 of 14). So the stacks are cut from the
plan alone, and a resume retrains every stack that holds an unfinished run, whole.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from reglab.cli import main
from reglab.lab import execute as executor
from reglab.lab.store import export_csv

WALL_CLOCK = ("seconds",)  # the one results.csv column measured in wall time
# 7 arms x 2 seeds = 14 runs of one shape: stacks of 5, 5 and 4
SMALL = ["compare", "--data", "digits", "--seeds", "2", "--epochs", "3", "--hidden", "32",
         "--arms", "none,l1,l2,dropout,early_stopping,augment,all",  # the seven: 14 runs
         "--quiet", "--name", "r"]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``reglab ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def results(root: Path) -> list[dict[str, str]]:
    """results.csv without its wall-clock column."""
    with open(root / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(c in rows[0] for c in WALL_CLOCK)
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK} for r in rows]


def store_rows(root: Path) -> list[dict[str, str]]:
    """What results.csv must hold: the store's runs and final metrics, exported afresh."""
    conn = sqlite3.connect(f"file:{root / 'reglab.sqlite'}?mode=ro", uri=True)
    fresh = root.parent / f"{root.name}.fresh.csv"
    try:
        export_csv(conn, fresh)
    finally:
        conn.close()
    rows = results_file(fresh)
    fresh.unlink()
    return rows


def results_file(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def start(argv: list[str], cores: set[int] | None = None) -> subprocess.Popen:
    """``reglab ARGV`` as its own process in its own process group, one thread; on ``cores``
    only when given (as ``taskset`` does)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pin = None if cores is None else (lambda: os.sched_setaffinity(0, cores))
    return subprocess.Popen([sys.executable, "-m", "reglab.cli", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=pin)


# -- grouping never changes numbers ---------------------------------------------------------

@pytest.mark.slow  # three compares with reports, one with a spawned pool: ~60 s on 2 busy cores
def test_workers_and_a_one_core_affinity_give_identical_results(tmp_path):
    """Fails on the engine that cut stacks by free cores: --workers 2 made stacks of 7 and
    changed dropout-s0 and all-s1 against --workers 1 (one stack of 14)."""
    one = run_cli([*SMALL, "--workers", "1", "--out", str(tmp_path / "w1")])
    two = run_cli([*SMALL, "--workers", "2", "--out", str(tmp_path / "w2")])
    assert one[0] == 0 and two[0] == 0, (one[2], two[2])
    pinned = start([*SMALL, "--out", str(tmp_path / "c1")], cores={min(os.sched_getaffinity(0))})
    _, err = pinned.communicate(timeout=600)
    assert pinned.returncode == 0, err
    reference = results(tmp_path / "w1" / "r")
    assert len(reference) == 14 and all(r["status"] == "done" for r in reference)
    assert results(tmp_path / "w2" / "r") == reference  # every column to the last digit
    assert results(tmp_path / "c1" / "r") == reference


def test_workers_get_the_parents_data_with_their_tasks(monkeypatch):
    """A worker trains on the splits the parent loaded (sent with the task, so it does not
    import and load them again: 2-5.5 s per worker here), unless they are too large; a run
    whose data is not among them loads its own, and the numbers are those of a run that
    loaded its data itself."""
    import reglab as rl
    from reglab.lab.spec import RunSpec
    spec = RunSpec.from_dict({"data": "digits", "epochs": 1, "hidden": [16]})
    specs = [spec.replace(seed=s) for s in range(3)]
    data = executor.load_data(specs[0])
    loaded = [data, None, data]
    task = executor.Task((0, 1, 2), True)
    sent = executor._shipped(task, loaded)
    assert sorted(sent) == [0, 2] and sent[0] is sent[2]  # one copy of a shared split
    # as arrays (a tensor would leave a file descriptor open here per message), restored
    # to the same tensors: values, dtypes, shapes
    assert isinstance(sent[0].train.X, executor._Array)
    back = executor._restored(sent[0])
    for part in ("train", "val", "test"):
        for name in ("X", "y", "indices"):
            a, b = getattr(getattr(back, part), name), getattr(getattr(data, part), name)
            assert isinstance(a, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    assert back.input_shape == data.input_shape and back.num_classes == data.num_classes
    assert executor._shipped(task, None) is None
    assert executor._shipped(executor.Task((1,), False), loaded) is None
    monkeypatch.setattr(executor, "SHIP_BYTES", executor._nbytes(data) - 1)
    assert executor._shipped(task, loaded) is None  # too large: the worker loads its own
    monkeypatch.undo()
    reference = executor.run_task(executor.Task((0, 1), True), specs, None)
    other = rl.data.load("digits", seed=5)  # not what spec 0 would load: it must be used
    calls = []
    real = executor.load_data
    monkeypatch.setattr(executor, "load_data", lambda s: calls.append(s.seed) or real(s))
    shipped = executor.run_task(executor.Task((0, 1), True), specs, {0: data})
    assert calls == [1]  # only the index that was not sent
    def scores(res):
        return [{k: v for k, v in r.final.items() if k not in WALL_CLOCK} for r in res]
    assert scores(shipped) == scores(reference)
    moved = executor.run_task(executor.Task((0,), False), specs, {0: other})
    assert calls == [1] and scores(moved) != scores(reference[:1])


def test_sending_data_to_workers_leaves_no_file_descriptor_open():
    """A process pool pickles its messages with multiprocessing's ForkingPickler, which
    sends a tensor through shared memory and keeps a file descriptor open here for it (150
    tasks of digits: 178 descriptors); the splits travel as arrays instead."""
    from multiprocessing.reduction import ForkingPickler

    from reglab.lab.spec import RunSpec
    spec = RunSpec.from_dict({"data": "digits", "epochs": 1, "hidden": [8]})
    data = executor.load_data(spec)
    task = executor.Task((0,), False)
    fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    before = fds()
    messages = [ForkingPickler.dumps(executor._shipped(task, [data])) for _ in range(5)]
    assert fds() == before and all(len(m) > data.train.X.nbytes for m in messages)
    tensors = [ForkingPickler.dumps({0: executor.load_data(spec.replace(seed=s))})
               for s in range(1, 3)]
    assert fds() > before and tensors  # what the arrays avoid (the check can fail)


def test_resuming_a_partly_finished_stack_gives_the_uninterrupted_numbers(tmp_path):
    """One member of a stack lost (as after a kill between two writes): the rerun trains the
    whole stack again and stores only that member, equal to the uninterrupted run; its
    finished stack-mates keep their rows and weight files untouched."""
    argv = ["compare", "--data", "digits", "--arms", "none,l2,dropout", "--seeds", "2",
            "--epochs", "3", "--workers", "1", "--quiet", "--out", str(tmp_path), "--name", "p"]
    assert run_cli(argv)[0] == 0
    root = tmp_path / "p"
    uninterrupted = results(root)
    conn = sqlite3.connect(root / "reglab.sqlite")
    with conn:
        conn.execute("UPDATE runs SET status='interrupted' WHERE id='none-s0'")
        conn.execute("DELETE FROM epochs WHERE run_id='none-s0'")
        conn.execute("DELETE FROM final WHERE run_id='none-s0'")
    kept = dict(conn.execute("SELECT id, finished FROM runs WHERE id != 'none-s0'"))
    conn.close()
    lost = (root / "models" / "none-s0.safetensors").read_bytes()
    (root / "models" / "none-s0.safetensors").unlink()
    weights = {p.name: p.stat().st_mtime_ns for p in (root / "models").iterdir()}
    code, _, err = run_cli(argv)
    assert code == 0, err
    assert results(root) == uninterrupted
    conn = sqlite3.connect(root / "reglab.sqlite")
    assert dict(conn.execute("SELECT id, finished FROM runs WHERE id != 'none-s0'")) == kept
    conn.close()
    assert {p: t for p, t in ((p.name, p.stat().st_mtime_ns) for p in
                              (root / "models").iterdir()) if p in weights} == weights
    assert (root / "models" / "none-s0.safetensors").read_bytes() == lost  # the same weights


# -- results.csv equals the store after every successful command ----------------------------

def test_results_csv_is_written_even_when_nothing_is_left_to_run(tmp_path):
    argv = ["compare", "--data", "digits", "--arms", "none", "--seeds", "2", "--epochs", "1",
            "--hidden", "8", "--workers", "1", "--quiet", "--out", str(tmp_path), "--name", "c"]
    assert run_cli(argv)[0] == 0
    csv_path = tmp_path / "c" / "results.csv"
    first = results_file(csv_path)
    csv_path.unlink()  # deleted: the rerun (0 runs to do) writes it again
    assert run_cli(argv)[0] == 0
    assert results_file(csv_path) == first == store_rows(tmp_path / "c")
    csv_path.write_text("run,arm\nstale,none\n")  # stale: refreshed
    assert run_cli(argv)[0] == 0
    assert results_file(csv_path) == first


# -- changed data is refused ----------------------------------------------------------------

def _write_csv(path: Path, rows: int, classes: tuple[str, ...], shift: float) -> None:
    lines = ["a,b,c,label"]
    for i in range(rows):
        k = i % len(classes)
        lines.append(f"{i * 0.37 + shift + k},{(i * 3) % 5 - k},{(i * i) % 13},{classes[k]}")
    path.write_text("\n".join(lines) + "\n")


def test_changed_data_is_refused_with_one_line_naming_the_file(tmp_path):
    data = tmp_path / "x.csv"
    _write_csv(data, 60, ("cat", "dog"), 0.0)
    argv = ["compare", "--data", str(data), "--target", "label", "--arms", "none",
            "--seeds", "1", "--epochs", "1", "--hidden", "8", "--workers", "1", "--quiet",
            "--out", str(tmp_path / "o"), "--name", "e"]
    assert run_cli(argv)[0] == 0
    db = tmp_path / "o" / "e" / "reglab.sqlite"
    before = sqlite3.connect(db).execute("SELECT id, status, finished FROM runs").fetchall()
    _write_csv(data, 72, ("cat", "dog", "eel"), 0.5)  # other rows, other classes
    code, _, err = run_cli([*argv[:6], "none,l2", *argv[7:]])  # and one more arm
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err == (f"reglab: error: The data {str(data)!r} is not what the experiment "
                   f"{str(tmp_path / 'o' / 'e')!r} was trained on (its content or its split "
                   "for seed 0 changed); pass another --name to start a new experiment.\n")
    after = sqlite3.connect(db).execute("SELECT id, status, finished FROM runs").fetchall()
    assert after == before  # nothing registered, nothing trained
    _write_csv(data, 60, ("cat", "dog"), 0.0)  # the original data again: accepted
    assert run_cli(argv)[0] == 0


# -- a killed command: no process left behind, the rerun equals an uninterrupted run --------

def _processes() -> dict[int, tuple[str, int, int]]:
    """pid -> (state, ppid, process group) of every process, from /proc/PID/stat."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        found[int(name)] = (rest[0], int(rest[1]), int(rest[2]))
    return found


def _descendants(pid: int) -> set[int]:
    procs, found, frontier = _processes(), set(), [pid]
    while frontier:
        parent = frontier.pop()
        for child, (_, ppid, _) in procs.items():
            if ppid == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _alive(pids: set[int], group: int) -> set[int]:
    """The pids (and members of the process group) still running; zombies count as ended."""
    procs = _processes()
    return {p for p, (state, _, pgrp) in procs.items()
            if (p in pids or pgrp == group) and state not in ("Z", "X")}


def _statuses(db: Path) -> list[str]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return [r[0] for r in conn.execute("SELECT status FROM runs")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


@pytest.mark.slow  # three compares of 14 runs x 40 epochs, two with spawned workers: ~1 min
def test_sigkill_leaves_no_process_and_the_rerun_equals_an_uninterrupted_run(tmp_path):
    argv = ["compare", "--data", "digits", "--seeds", "2", "--epochs", "40", "--quiet",
            "--arms", "none,l1,l2,dropout,early_stopping,augment,all", "--name", "k"]
    killed = tmp_path / "killed"
    proc = start([*argv, "--workers", "2", "--out", str(killed)])
    db, seen = killed / "k" / "reglab.sqlite", set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # a stack finished, another one still training
        assert proc.poll() is None, proc.communicate()[1]
        seen |= _descendants(proc.pid)
        runs = _statuses(db)
        if "done" in runs and "running" in runs:
            break
        time.sleep(0.05)
    seen |= _descendants(proc.pid)
    assert len(_alive(seen, -1)) >= 3, seen  # two workers and the resource tracker
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    left = _alive(seen, proc.pid)
    for _ in range(100):  # within a few seconds nothing of it runs any more
        if not left:
            break
        time.sleep(0.1)
        left = _alive(seen, proc.pid)
    assert not left, [(p, open(f"/proc/{p}/cmdline").read()) for p in left]
    runs = _statuses(db)
    if "running" not in runs:
        pytest.skip("every run had finished before the kill landed")
    code, _, err = run_cli([*argv, "--workers", "2", "--out", str(killed)])  # the rerun
    assert code == 0, err
    assert _statuses(db) == ["done"] * 14
    code, _, err = run_cli([*argv, "--workers", "1", "--out", str(tmp_path / "clean")])
    assert code == 0, err
    assert results(killed / "k") == results(tmp_path / "clean" / "k")
