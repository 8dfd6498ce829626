"""Results others can read: results.csv (hyperparameters, integer epochs, umask mode),
epochs.csv, TensorBoard files read back with tensorboard's own reader, compare --json."""

import csv
import json
import os
import re
import stat

import pytest

from reglab.cli import main
from reglab.lab.spec import RunSpec
from reglab.lab.stats import paired_difference
from reglab.lab.store import Store, read_epochs, read_runs

ARGV = ["compare", "--data", "wine", "--epochs", "3", "--seeds", "2", "--arms", "none,l1",
        "--l1", "0.002", "--workers", "1", "--hidden", "16", "--json"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    mask = os.umask(0o027)  # a user's umask: files must follow it, not mkstemp's 0600
    try:
        code = main([*ARGV, "--out", str(out), "--name", "x"])
    finally:
        os.umask(mask)
    assert code == 0
    return out / "x"


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _store(experiment):
    conn = Store.read_only(experiment.parent, experiment.name)
    try:
        runs = read_runs(conn)
        return runs, {r["id"]: read_epochs(conn, r["id"]) for r in runs}
    finally:
        conn.close()


def test_results_csv_has_every_hyperparameter_integer_epochs_and_the_umask_mode(experiment):
    rows = _rows(experiment / "results.csv")
    head = list(rows[0])
    params = [k for k in RunSpec.keys() if k != "seed"]
    assert head[:5] == ["run", "arm", "seed", "status", "reason"]
    assert head[5:5 + len(params)] == params
    by_run = {r["run"]: r for r in rows}
    assert by_run["l1-s1"]["l1"] == "0.002" and by_run["none-s0"]["l1"] == "0.0"
    assert by_run["none-s0"]["hidden"] == "16" and by_run["none-s0"]["data"] == "wine"
    assert by_run["none-s0"]["epochs"] == "3" and by_run["none-s0"]["target"] == ""
    for r in rows:
        assert re.fullmatch(r"\d+", r["best_epoch"]) and r["epochs_trained"] == "3"
    for name in ("results.csv", "epochs.csv"):
        assert stat.S_IMODE((experiment / name).stat().st_mode) == 0o640
    assert stat.S_IMODE(next((experiment / "models").iterdir()).stat().st_mode) == 0o640


def test_epochs_csv_has_one_row_per_run_and_epoch(experiment):
    runs, epochs = _store(experiment)
    rows = _rows(experiment / "epochs.csv")
    assert [(r["run"], int(r["epoch"])) for r in rows] == [
        (run["id"], e) for run in runs for e in range(3)]
    for r in rows:
        stored = epochs[r["run"]][int(r["epoch"])]
        assert float(r["val_loss"]) == stored["val_loss"]
        assert float(r["train_acc"]) == stored["train_acc"]
        assert r["seed"] == r["run"][-1]


def test_compare_json_is_one_document_with_the_paired_differences(experiment, tmp_path, capsys):
    code = main([*ARGV, "--out", str(experiment.parent), "--name", "x"])  # resumes: no training
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)  # the whole of stdout is one JSON document
    assert doc["arms"] == ["none", "l1"] and doc["baseline"] == "none"
    assert doc["summaries"]["l1"]["n_done"] == 2
    rows = {r["run"]: r for r in _rows(experiment / "results.csv")}
    want = paired_difference([float(rows[f"l1-s{s}"]["test_acc"]) for s in (0, 1)],
                             [float(rows[f"none-s{s}"]["test_acc"]) for s in (0, 1)])
    got = doc["differences"]["l1"]["test_acc_unadjusted"]
    assert (got["mean"], got["low"], got["high"], got["n"]) == pytest.approx(tuple(want[:4]))
    adjusted = doc["differences"]["l1"]["test_acc"]  # Holm over 2 comparisons: not narrower
    assert adjusted["mean"] == pytest.approx(want.mean) and adjusted["confidence"] >= 0.95
    assert adjusted["low"] <= got["low"] and adjusted["high"] >= got["high"]
    assert "none" not in doc["differences"]
    assert doc["differences"]["l1"]["verdict"].startswith("accuracy: ")
    assert [r["id"] for r in doc["runs"]] == ["none-s0", "none-s1", "l1-s0", "l1-s1"]


def test_tensorboard_export_reads_back_with_tensorboards_event_reader(experiment, tmp_path,
                                                                     capsys):
    # tensorboard is optional for users (the 'tensorboard' extra); the dev extra installs it
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    logdir = tmp_path / "tb"
    for _ in range(2):  # exporting again replaces a run's events instead of doubling them
        assert main(["export", str(experiment), "--tensorboard", "--logdir", str(logdir)]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    runs, epochs = _store(experiment)
    assert sorted(p.name for p in logdir.iterdir()) == sorted(r["id"] for r in runs)
    for run in runs:
        # one file of scalars, one of hparams: the second export replaced the first's
        assert len(list((logdir / run["id"]).glob("events.out.tfevents.*"))) == 2
        acc = EventAccumulator(str(logdir / run["id"]))
        acc.Reload()
        val = acc.Scalars("epoch/val_loss")
        assert [s.step for s in val] == [0, 1, 2]
        assert [s.value for s in val] == pytest.approx(
            [e["val_loss"] for e in epochs[run["id"]]], rel=1e-6)  # float32 in the event file
        assert acc.Scalars("final/test_acc")[0].value == pytest.approx(
            run["final"]["test_acc"], rel=1e-6)
        content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hp = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
        assert hp["l1"].number_value == pytest.approx(run["spec"]["l1"])
        assert hp["hidden"].string_value == "16" and hp["arm"].string_value == run["arm"]
        assert hp["data"].string_value == "wine"


def test_export_needs_something_to_export(experiment, capsys):
    assert main(["export", str(experiment)]) == 2
    assert capsys.readouterr().err == ("reglab: error: reglab export needs --tensorboard "
                                       "and/or --csv: say what to export.\n")


def test_export_csv_rewrites_both_files_from_the_store(experiment, capsys):
    before = {n: (experiment / n).read_text() for n in ("results.csv", "epochs.csv")}
    for n in before:
        (experiment / n).unlink()
    assert main(["export", str(experiment), "--csv"]) == 0
    assert {n: (experiment / n).read_text() for n in before} == before
