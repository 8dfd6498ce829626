"""Models that travel: the weights file describes itself; load_model and `reglab predict`
reproduce the run's own predictions from raw rows, in a new process."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import reglab.data
from reglab.cli import main
from reglab.lab.model_file import load_model, read_metadata
from reglab.lab.spec import RunSpec
from reglab.lab.store import Store
from reglab.train import build_model, fit

CLASSES = ["setosa", "versicolor", "virginica"]


def _write_table(path, n=150, seed=0):
    """Features on very different scales (so a wrong standardization shows), string labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = np.column_stack([100 + 10 * rng.standard_normal(n) + 5 * y,
                         0.01 * rng.standard_normal(n) - 0.004 * y,
                         3 * rng.standard_normal(n) + y,
                         1000 + 200 * rng.standard_normal(n)])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "a", "b", "c", "d"])  # target first: columns are found by name
        for xi, yi in zip(X, y):
            w.writerow([CLASSES[yi], *(repr(float(v)) for v in xi)])
    return X


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("travel")
    table = root / "table.csv"
    X = _write_table(table)
    argv = ["run", "--data", str(table), "--target", "label", "--hidden", "8", "--epochs", "4",
            "--dropout", "0.2", "--seed", "1", "--out", str(root / "runs"), "--name", "t",
            "--quiet"]
    assert main(argv) == 0
    return root, table, X


def _run_model_on_test(root, table):
    """What the run's model gives on its own (standardized) test split, trained again here
    from the stored spec: results depend on the command and seeds only."""
    with Store.open(root / "runs", "t") as store:
        spec = RunSpec.from_dict(store.runs()[0]["spec"])
    assert (spec.hidden, spec.epochs, spec.dropout, spec.seed) == ((8,), 4, 0.2, 1)
    ds = reglab.data.load(str(table), seed=1, target="label")
    res = fit(spec, ds)
    model = build_model(spec, ds.kind, ds.input_shape, ds.num_classes)
    model.load_state_dict(res.state)
    model.eval()
    with torch.no_grad():
        proba = torch.softmax(model(ds.test.X), dim=1).numpy()
    return ds, res, proba


def test_weights_file_carries_spec_names_and_standardization(trained):
    root, table, _ = trained
    meta = read_metadata(root / "runs" / "t" / "models" / "run-s1.safetensors")
    ds = reglab.data.load(str(table), seed=1, target="label")
    with Store.open(root / "runs", "t") as store:
        stored_spec = store.runs()[0]["spec"]
    assert meta["format"] == "reglab.model/1" and meta["run"] == "run-s1"
    assert meta["spec"] == stored_spec
    assert meta["data"] == {"name": str(table), "kind": "tabular", "input_shape": [4],
                            "num_classes": 3, "class_names": CLASSES,
                            "feature_names": ["a", "b", "c", "d"]}
    scale = meta["standardization"]
    assert scale["shape"] == [4]
    assert torch.equal(torch.tensor(scale["mean"], dtype=torch.float32), ds.mean)  # bit for bit
    assert torch.equal(torch.tensor(scale["std"], dtype=torch.float32), ds.std)
    assert meta["versions"]["torch"] == torch.__version__


def test_predict_in_a_new_process_matches_the_run(trained, tmp_path):
    root, table, X = trained
    ds, res, ref = _run_model_on_test(root, table)
    rows = tmp_path / "new.csv"  # raw test rows, columns in another order, no label column
    idx = ds.test.indices.numpy()
    with open(rows, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["d", "extra", "c", "b", "a"])
        for x in X[idx]:
            w.writerow([repr(float(x[3])), "ignored", *(repr(float(v)) for v in x[2::-1])])
    out = tmp_path / "preds.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "reglab.cli", "predict",
                           str(root / "runs" / "t"), "--data", str(rows), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with open(out) as fh:
        got = list(csv.reader(fh))
    assert got[0] == ["prediction", "prob_setosa", "prob_versicolor", "prob_virginica"]
    proba = np.array([[float(v) for v in r[1:]] for r in got[1:]])
    assert proba.shape == ref.shape
    np.testing.assert_allclose(proba, ref, rtol=0, atol=1e-6)
    assert [r[0] for r in got[1:]] == [CLASSES[c] for c in ref.argmax(1)]
    acc = np.mean([r[0] == CLASSES[c] for r, c in zip(got[1:], ds.test.y.tolist())])
    assert acc == pytest.approx(res.final["test_acc"], abs=1e-12)


def test_load_model_gives_an_eval_model_and_predict_takes_arrays_and_tensors(trained, tmp_path):
    root, table, X = trained
    ds, _, ref = _run_model_on_test(root, table)
    model, predict = load_model(root / "runs" / "t" / "models" / "run-s1.safetensors")
    assert not model.training and not any(m.training for m in model.modules())
    raw = X[ds.test.indices.numpy()]
    a, b = predict(raw), predict(torch.from_numpy(raw))
    out = tmp_path / "p.csv"  # the run named as runs/NAME/RUN_ID gives the same file
    assert main(["predict", str(root / "runs" / "t" / "run-s1"), "--data", str(table),
                 "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 1 + len(X)
    np.testing.assert_allclose(a.proba, ref, rtol=0, atol=1e-6)
    assert np.array_equal(a.proba, b.proba) and a.labels == b.labels
    assert a.class_names == CLASSES and predict.feature_names == ["a", "b", "c", "d"]


def test_predict_errors_are_one_line(trained, tmp_path, capsys):
    root, table, _ = trained
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    assert main(["predict", str(root / "runs" / "t"), "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (f"reglab: error: The file {str(bad)!r} lacks the feature column(s) 'd' the "
                   "model was trained on (it needs: a, b, c, d).\n")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    assert main(["predict", str(foreign), "--data", str(table)]) == 2
    assert "has no reglab model metadata" in capsys.readouterr().err
    out = tmp_path / "never.csv"
    assert main(["predict", str(root / "runs" / "t"), "--run", "nope", "--data", str(table),
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith(
        "reglab: error: The '--run' option of predict must name a run with weights in ")
    assert not out.exists()


def _npz_cases(d):
    """Rows to predict that are not an .npz archive with an array X, each as a user makes it."""
    np.savez(d / "no_x.npz", Y=np.zeros((2, 4)))
    np.save(d / "bare.npy", np.zeros((2, 4)))
    (d / "bare.npz").write_bytes((d / "bare.npy").read_bytes())  # a renamed .npy
    (d / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    (d / "text.npz").write_text("a,b,c,d\n1,2,3,4\n")
    return {
        "no_x.npz": "has no array 'X' to predict; it holds: Y.",
        "bare.npz": "cannot be read as .npz: it is a single .npy array, not an .npz archive.",
        "junk.npz": "cannot be read as .npz: File is not a zip file.",
        "text.npz": "cannot be read as .npz: ",
    }


def test_predict_rejects_every_kind_of_bad_npz_in_one_line_and_closes_it(trained, tmp_path):
    """One line each, exit 2, the file named once, and no file handle left open (np.load(path)
    leaks its handle on a bad archive: a ResourceWarning, an error under -W error)."""
    root, _, _ = trained
    for name, message in _npz_cases(tmp_path).items():
        path = tmp_path / name
        code = ("import sys, warnings\n"
                "warnings.simplefilter('error', ResourceWarning)\n"
                "from reglab.cli import main\n"
                f"code = main(['predict', {str(root / 'runs' / 't')!r}, '--data', {str(path)!r}])\n"
                "import gc; gc.collect()\n"
                "sys.exit(code)\n")
        proc = subprocess.run([sys.executable, "-X", "dev", "-c", code], capture_output=True,
                              text=True)
        assert proc.returncode == 2, (name, proc.stderr)
        assert proc.stdout == "" and proc.stderr.count("\n") == 1, (name, proc.stderr)
        assert proc.stderr.startswith(f"reglab: error: The file {str(path)!r} " + message), (
            name, proc.stderr)
        assert proc.stderr.count(str(path)) == 1, proc.stderr
