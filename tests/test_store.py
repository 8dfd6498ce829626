"""The experiment store: transactions, resume, the lock, names, weights and the CSV export."""

import csv
import sqlite3

import pytest
import torch
from safetensors.torch import load_file

from lab_tiny import tiny
from reglab import InvalidParameterError
from reglab.lab import execute as executor
from reglab.lab.execute import Job, execute
from reglab.lab.spec import RunSpec
from reglab.lab.store import ExperimentLocked, Store, check_name, list_experiments

SPEC = RunSpec(data="tiny", hidden=(8,), epochs=2, batch_size=16)


@pytest.fixture(autouse=True)
def tiny_data(monkeypatch):
    monkeypatch.setattr(executor, "load_data", lambda spec: tiny("image", seed=spec.seed))


def _jobs(seeds=(0, 1)):
    return [Job(f"{arm}-s{s}", arm, SPEC.replace(seed=s, **ch)) for arm, ch in
            [("none", {}), ("l2", {"l2": 1e-3})] for s in seeds]


def _register(store, jobs):
    for i, j in enumerate(jobs):
        store.add_run(j.run_id, j.arm, j.spec.seed, j.spec.to_json(), position=i)


def test_runs_are_stored_with_epochs_final_metrics_weights_and_csv(tmp_path):
    jobs = _jobs()
    with Store.open(tmp_path, "exp") as store:
        _register(store, jobs)
        outcome = execute(store, jobs, workers=1, engine="sequential")
        runs = store.runs()
        epochs = store.epochs("l2-s1")
    assert sorted(outcome.done) == sorted(j.run_id for j in jobs)
    assert [r["status"] for r in runs] == ["done"] * 4
    assert runs[0]["versions"]["torch"] == torch.__version__
    assert RunSpec.from_dict(runs[3]["spec"]) == jobs[3].spec
    assert [e["epoch"] for e in epochs] == [0, 1] and epochs[0]["penalty"] > 0
    weights = load_file(tmp_path / "exp" / "models" / "none-s0.safetensors")
    assert set(weights) == {"1.weight", "1.bias", "3.weight", "3.bias"}
    with open(tmp_path / "exp" / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run"] for r in rows] == [j.run_id for j in jobs]
    assert float(rows[1]["test_acc"]) == pytest.approx(runs[1]["final"]["test_acc"])
    assert rows[0]["status"] == "done" and int(float(rows[0]["epochs_trained"])) == 2
    assert not list((tmp_path / "exp" / "models").glob("*.tmp"))  # temp files renamed


def test_resume_reruns_only_unfinished_runs(tmp_path):
    jobs = _jobs()
    with Store.open(tmp_path, "exp") as store:
        _register(store, jobs)
        execute(store, jobs, workers=1, engine="sequential")
        before = {r["id"]: r for r in store.runs()}
        # simulate a crash: one run left 'running' with a partial epoch, one 'interrupted'
        store.conn.execute("UPDATE runs SET status='running' WHERE id='l2-s0'")
        store.conn.execute("UPDATE runs SET status='interrupted' WHERE id='none-s1'")
        store.conn.execute("DELETE FROM epochs WHERE run_id='l2-s0' AND epoch=1")
    with Store.open(tmp_path, "exp") as store:
        _register(store, jobs)  # same plan: accepted
        todo = [j for j in jobs if store.status(j.run_id) not in ("done", "diverged")]
        assert [j.run_id for j in todo] == ["none-s1", "l2-s0"]
        execute(store, todo, workers=1, engine="sequential")
        after = {r["id"]: r for r in store.runs()}
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(store.epochs("l2-s0")) == 2
    for rid in ("none-s0", "l2-s1"):  # finished runs untouched
        assert after[rid]["finished"] == before[rid]["finished"]
    # reruns from scratch with the same seed give the same numbers
    assert after["l2-s0"]["final"]["test_loss"] == before["l2-s0"]["final"]["test_loss"]
    assert all(r["status"] == "done" for r in after.values())


def test_same_run_id_with_another_spec_is_refused(tmp_path):
    with Store.open(tmp_path, "exp") as store:
        store.add_run("none-s0", "none", 0, SPEC.to_json())
        with pytest.raises(InvalidParameterError, match=r"already holds run 'none-s0' with "
                           r"another configuration \(epochs: 2 -> 3\)"):
            store.add_run("none-s0", "none", 0, SPEC.replace(epochs=3).to_json())


def test_a_second_process_is_refused_by_the_lock(tmp_path):
    with Store.open(tmp_path, "exp"):
        with pytest.raises(ExperimentLocked, match="in use by another reglab process"):
            Store.open(tmp_path, "exp")
    Store.open(tmp_path, "exp").close()  # released on close


def test_interrupt_marks_the_running_run_interrupted(tmp_path, monkeypatch):
    def boom(task, specs, data, on_epoch=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(executor, "run_task", boom)
    jobs = _jobs(seeds=(0,))
    with Store.open(tmp_path, "exp") as store:
        _register(store, jobs)
        with pytest.raises(KeyboardInterrupt):
            execute(store, jobs, workers=1, engine="sequential")
        assert [r["status"] for r in store.runs()] == ["interrupted", "pending"]
    assert (tmp_path / "exp" / "results.csv").exists()


def test_a_failing_run_does_not_take_the_others_down(tmp_path, monkeypatch):
    def flaky(spec):
        if spec.l2 > 0:
            raise RuntimeError("disk on fire")
        return tiny("image", seed=spec.seed)
    monkeypatch.setattr(executor, "load_data", flaky)
    jobs = _jobs(seeds=(0,))
    with Store.open(tmp_path, "exp") as store:
        _register(store, jobs)
        outcome = execute(store, jobs, workers=1, engine="sequential")
        status = {r["id"]: (r["status"], r["reason"]) for r in store.runs()}
    assert outcome.done == ["none-s0"] and "disk on fire" in outcome.failed["l2-s0"]
    assert status["l2-s0"] == ("interrupted", "failed: RuntimeError: disk on fire")


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "", ".hidden", "x" * 200, "a b", None])
def test_experiment_names_cannot_escape_the_folder(bad):
    with pytest.raises(InvalidParameterError, match="The 'name' parameter of the experiment"):
        check_name(bad)


def test_list_experiments_counts_statuses(tmp_path):
    with Store.open(tmp_path, "exp") as store:
        _register(store, _jobs())
        store.start_run("none-s0")
    [exp] = list_experiments(tmp_path)
    assert exp["name"] == "exp" and exp["counts"] == {"pending": 3, "running": 1}


def test_store_is_wal_and_rolls_back_a_failed_write(tmp_path):
    with Store.open(tmp_path, "exp") as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.add_run("none-s0", "none", 0, SPEC.to_json())
        with pytest.raises(sqlite3.IntegrityError):
            _failing_finish(store)
        assert store.epochs("none-s0") == [] and store.status("none-s0") == "pending"


def _failing_finish(store):
    # the status CHECK constraint fails after the epochs were inserted: all of it rolls back
    with store._tx():
        store.conn.execute("INSERT INTO epochs (run_id, epoch) VALUES ('none-s0', 0)")
        store.conn.execute("UPDATE runs SET status='bogus' WHERE id='none-s0'")
