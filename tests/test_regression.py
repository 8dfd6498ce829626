"""Regression end to end: task inference, the MSE loop against the ridge closed form, the L1
path against scikit-learn's lasso_path, compare's verdict direction, predict round trip."""

from __future__ import annotations

import csv
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import reglab as rl
from reglab import InvalidParameterError
from reglab.lab.arms import arm_changes
from reglab.cli import main
from reglab.data import DataError
from reglab.data._prepare import infer_task
from reglab.data._types import Raw
from reglab.lab.compare import summarize_arms
from reglab.lab.execute import group_key
from reglab.lab.model_file import load_model
from reglab.lab.path import regularization_path
from reglab.lab.spec import RunSpec
from reglab.lab.store import Store
from reglab.train.sequential import fit


def _raw(y, **kw) -> Raw:
    y = np.asarray(y)
    return Raw(X=np.zeros((len(y), 1)), y=y, kind="tabular", where="file 't.csv'",
               description="", **kw)


# -- the task rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("y, task", [
    ([0.5, 1.0, 2.0, 1.0], "regression"),                      # a non-integer value
    (np.arange(200) % 21, "regression"),                      # 21 > 20 distinct and > 5% of 200
    (np.arange(200) % 20, "classification"),                  # 20 distinct: not more than 20
    (np.arange(1000) % 30, "classification"),                 # 30 distinct, < 5% of 1000 rows
    (np.array([str(v) for v in np.arange(200) % 21]), "regression"),  # numeric text (a CSV)
    (np.array(["cat", "dog"] * 20), "classification"),        # text
])
def test_the_task_is_inferred_from_the_target(y, task):
    assert infer_task(_raw(y), "auto") == task


def test_forcing_the_task_wins_and_regression_needs_numbers():
    assert infer_task(_raw([0.5, 1.5, 2.5]), "classification") == "classification"
    assert infer_task(_raw([0, 1, 0, 1]), "regression") == "regression"
    assert infer_task(_raw([0, 1, 2], class_names=["a", "b", "c"]), "auto") == "classification"
    with pytest.raises(DataError) as err:
        infer_task(_raw(np.array(["1.5", "cat", "2"])), "regression")
    assert str(err.value) == (
        "The 'task' parameter of reglab.data.load must be 'classification' or 'auto' for file "
        "'t.csv': a regression target must be finite numbers, and it holds 'cat'. Got "
        "'regression' instead.")
    with pytest.raises(DataError, match=r"^The 'task' parameter of reglab\.data\.load must be "
                       r"one of \{'auto', 'classification', 'regression'\}\. Got 'ordinal'"):
        rl.data.load("diabetes", task="ordinal")


def test_a_regression_split_is_standardized_with_the_training_target():
    ds = rl.data.load("diabetes", seed=1)
    assert ds.task == "regression" and ds.num_classes == 1 and ds.class_names is None
    assert len(ds.train) + len(ds.val) + len(ds.test) == 442
    assert ds.train.y.dtype == torch.float32
    raw = rl.data.load("diabetes", seed=1, standardize=False)
    y = raw.train.y.double()
    assert ds.target_mean == pytest.approx(float(y.mean()), rel=1e-12)
    assert ds.target_std == pytest.approx(float(y.std(unbiased=False)), rel=1e-6)
    torch.testing.assert_close(ds.train.y.double() * ds.target_std + ds.target_mean, y,
                               rtol=0, atol=1e-4)
    assert float(ds.train.y.mean()) == pytest.approx(0.0, abs=1e-6)
    sparse = rl.data.load("sparse_regression")
    assert sparse.task == "regression" and sparse.informative.tolist() == [13, 28, 44, 50, 79]


# -- training: the MSE loop against the ridge closed form ------------------------------------

def _linear_regression_data(n: int = 64, f: int = 5, seed: int = 0) -> SimpleNamespace:
    g = torch.Generator().manual_seed(seed)
    w = torch.tensor([1.5, -2.0, 0.0, 0.5, 3.0], dtype=torch.float64)[:f]

    def split(m):
        X = torch.randn(m, f, generator=g, dtype=torch.float64) + 0.3
        y = X @ w + 0.7 + 0.5 * torch.randn(m, generator=g, dtype=torch.float64)
        return SimpleNamespace(X=X, y=y)

    return SimpleNamespace(name="lin", kind="tabular", input_shape=(f,), num_classes=1,
                           task="regression", target_std=1.0, train=split(n),
                           val=split(32), test=split(32))


def test_a_linear_l2_fit_is_the_ridge_closed_form(float64):
    """Full-batch heavy-ball on MSE + lam * sum w^2 (bias unpenalized) converges to
    w = (Xc^T Xc / n + lam I)^-1 Xc^T yc / n, b = mean(y) - mean(x)^T w."""
    data, lam = _linear_regression_data(), 0.05
    spec = RunSpec(model="linear", optimizer="sgd", lr=0.1, batch_size=64, epochs=700,
                   l2=lam, seed=0)
    res = fit(spec, data)
    X, y = data.train.X, data.train.y
    n = len(y)
    Xc, yc = X - X.mean(0), y - y.mean()
    w = torch.linalg.solve(Xc.T @ Xc / n + lam * torch.eye(5, dtype=torch.float64), Xc.T @ yc / n)
    b = y.mean() - X.mean(0) @ w
    state = res.state
    torch.testing.assert_close(state["1.weight"].reshape(-1), w, rtol=0, atol=1e-9)
    torch.testing.assert_close(state["1.bias"].reshape(()), b, rtol=0, atol=1e-9)
    objective = float(((X @ w + b - y) ** 2).mean())
    assert res.final["train_loss"] == pytest.approx(objective, rel=1e-9)  # data term only
    assert res.final["train_rmse"] == pytest.approx(math.sqrt(objective), rel=1e-9)
    assert set(res.epochs[0]) == {"data_loss", "penalty", "val_loss", "sparsity",
                                  "weight_norm", "lr", "seconds", "val_rmse", "val_mae", "val_r2"}


def test_label_smoothing_and_cutmix_do_not_apply_to_a_regression_target():
    data = _linear_regression_data()
    data = SimpleNamespace(**{**vars(data), **{p: SimpleNamespace(
        X=getattr(data, p).X.float(), y=getattr(data, p).y.float())
        for p in ("train", "val", "test")}})
    with pytest.raises(InvalidParameterError) as err:
        fit(RunSpec(model="linear", epochs=1, label_smoothing=0.1), data)
    assert str(err.value) == ("The 'label_smoothing' parameter of RunSpec must be 0 for a "
                              "regression target (label smoothing softens class targets). "
                              "Got 0.1 instead.")
    assert group_key(RunSpec(model="linear"), data) is None   # trained by fit, not stacked
    res = fit(RunSpec(model="linear", epochs=2, mixup=0.2), data)  # mixup mixes the targets
    assert res.status == "done" and math.isfinite(res.final["test_rmse"])


def test_mixup_mixes_regression_targets_as_it_mixes_the_inputs():
    """For y = x w exactly, the mixed target is the mixed input's target: lam y_i +
    (1 - lam) y_j = (lam x_i + (1 - lam) x_j) w."""
    from reglab import augment as A

    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g, dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    xm, ym = A.Mixup(0.4, seed=1)(x, (x @ w)[:, None], 1)
    assert ym.shape == (32, 1) and not torch.equal(xm, x)
    torch.testing.assert_close(ym[:, 0], xm @ w, rtol=0, atol=1e-12)


# -- the L1 path against scikit-learn -----------------------------------------------------------

def test_the_l1_path_support_is_sklearns_lasso_path_at_alpha_lam_over_2():
    from sklearn.linear_model import lasso_path

    ds = rl.data.load("sparse_regression")
    res = regularization_path(ds, "l1", "linear", n_strengths=10, tol=1e-10, relax=False)
    X, y = ds.train.X.double().numpy(), ds.train.y.double().numpy()
    Xc, yc = X - X.mean(0), y - y.mean()
    assert res.lam_max == pytest.approx(2 * np.abs(Xc.T @ yc).max() / len(y), rel=1e-9)
    lams = np.array([r["strength"] for r in res.rows])
    _, coefs, _ = lasso_path(Xc, yc, alphas=lams / 2, tol=1e-12, max_iter=100_000)
    sizes = []
    for k in range(len(lams)):
        assert res.supports[k] == np.flatnonzero(coefs[:, k]).tolist(), lams[k]
        sizes.append(len(res.supports[k]))
    assert sizes[0] == 0 and sizes[-1] > 50 and 5 in sizes   # from empty to dense, via the truth
    assert {"val_rmse", "test_rmse"} <= set(res.rows[0]) and "val_acc" not in res.rows[0]


# -- the lab: compare's verdicts on scripted numbers, the CLI on diabetes and a CSV --------------

def _runs(deltas: list[float], base: list[float] = (52.0, 50.0, 55.0, 51.0)) -> list[dict]:
    """none and l2 runs whose test RMSE / MAE differ by ``deltas`` per seed."""
    out = []
    for arm, shift in (("none", [0.0] * len(base)), ("l2", deltas)):
        for s, (b, d) in enumerate(zip(base, shift)):
            out.append({"id": f"{arm}-s{s}", "arm": arm, "seed": s, "status": "done",
                        "reason": "", "spec": {"l2": 1e-3} if arm == "l2" else {},
                        "final": {"test_rmse": b + d, "test_mae": 0.8 * (b + d),
                                  "test_r2": 0.5, "test_loss": 0.5, "gap": 1.0,
                                  "sparsity": 0.0, "weight_norm": 1.0,
                                  "epochs_trained": 3, "seconds": 0.1}})
    return out


def test_a_lower_rmse_helps_and_a_higher_one_hurts():
    helps = {r.arm: r for r in summarize_arms(_runs([-2.0, -2.1, -1.9, -2.05]))}["l2"]
    assert helps.task == "regression" and helps.d_acc is None
    assert helps.d_rmse.mean == pytest.approx(-2.0125)
    assert helps.effects == ("helps", "helps")
    assert helps.verdict == "RMSE: helps; MAE: helps"
    assert helps.min_effect_rmse == pytest.approx(0.01 * 52.0)   # 1% of none's mean RMSE
    hurts = {r.arm: r for r in summarize_arms(_runs([2.0, 2.1, 1.9, 2.05]))}["l2"]
    assert hurts.effects == ("hurts", "hurts")
    small = {r.arm: r for r in summarize_arms(_runs([-0.1, -0.11, -0.09, -0.1]))}["l2"]
    assert small.effects == ("negligible", "negligible")   # clear of 0, below 0.52
    assert small.verdicts[0] == ("no measurable effect (below the minimum effect of 0.5200 = "
                                 "1% of none's test RMSE)")


def test_tune_minimises_validation_loss_on_a_regression_target():
    from reglab.lab.tune import metric_for

    reg, cls = SimpleNamespace(task="regression"), SimpleNamespace(task="classification")
    assert metric_for(reg) == "val_loss" and metric_for(cls) == "val_acc"
    with pytest.raises(InvalidParameterError) as err:
        metric_for(reg, "val_acc")
    assert str(err.value) == ("The 'metric' parameter of tune must be 'val_loss' for a "
                              "regression target (it has no accuracy). Got 'val_acc' instead.")


def test_compare_on_diabetes_reports_rmse_and_skips_label_smoothing(tmp_path, capsys):
    code = main(["compare", "--data", "diabetes", "--epochs", "2", "--seeds", "2",
                 "--hidden", "8", "--arms", "none,l2", "--workers", "1", "-o", str(tmp_path),
                 "--name", "d", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    assert doc["arms"] == ["none", "l2"]
    assert set(doc["differences"]["l2"]) == {"test_rmse", "test_mae", "test_rmse_unadjusted",
                                             "test_mae_unadjusted", "verdict"}
    assert doc["differences"]["l2"]["verdict"].startswith("RMSE: ")
    none = doc["summaries"]["none"]
    assert 30 < none["test_rmse"]["mean"] < 200 and none["test_rmse"]["n"] == 2  # target units
    md = (tmp_path / "d" / "report.md").read_text()
    assert "| test RMSE | test MAE | test R² |" in md and "test acc" not in md
    # the HTML's inline figures draw the regression's measures, as its PNGs do
    html = (tmp_path / "d" / "report.html").read_text()
    assert 'data-panel="val_rmse"' in html and 'data-panel="train_acc"' not in html
    assert 'aria-label="test-train RMSE gap per arm"' in html
    assert "<title>l2: Δ test RMSE " in html and "<title>l2 (n=2): " in html
    with open(tmp_path / "d" / "epochs.csv") as fh:
        head = next(csv.reader(fh))
    assert head[-3:] == ["val_rmse", "val_mae", "val_r2"] and "val_acc" not in head
    code = main(["compare", "--data", "diabetes", "--epochs", "1", "--seeds", "1",
                 "--hidden", "8", "--arms", "none", "--workers", "1", "-o", str(tmp_path),
                 "--name", "d2", "--quiet"])
    assert code == 0
    capsys.readouterr()
    # an arm that cannot apply, asked for by name: refused before anything is written
    assert main(["compare", "--data", "diabetes", "--epochs", "1", "--arms",
                 "none,label_smoothing", "-o", str(tmp_path), "--name", "d3"]) == 2
    assert capsys.readouterr().err == (
        "reglab: error: The 'label_smoothing' parameter of RunSpec must be 0 for a regression "
        "target (label smoothing softens class targets). Got "
        f"{arm_changes('tabular')['label_smoothing']['label_smoothing']} instead.\n")
    assert not (tmp_path / "d3").exists()


def test_a_csv_with_a_numeric_target_is_regression_through_the_cli(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + 10 + 0.1 * rng.normal(size=80)
    path = tmp_path / "houses.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["a", "b", "c", "price"])
        w.writerows([[*(repr(float(c)) for c in x), repr(float(v))] for x, v in zip(X, y)])
    argv = ["run", "--data", str(path), "--target", "price", "--model", "linear",
            "--epochs", "40", "--lr", "0.05", "-o", str(tmp_path), "--quiet"]
    assert main([*argv, "--name", "r"]) == 0
    assert "test RMSE" in capsys.readouterr().out
    with Store.open(tmp_path, "r") as store:
        final = store.runs()[0]["final"]
    assert final["test_r2"] > 0.95 and "test_acc" not in final  # the true R^2 is about 0.998
    assert main([*argv, "--name", "r2", "--task", "nonsense"]) == 2
    assert capsys.readouterr().err == (
        "reglab: error: Invalid value for '--task': must be one of {'auto', 'classification', "
        "'regression'}. Got 'nonsense' instead.\n")
    text = tmp_path / "pets.csv"
    text.write_text("a,pet\n" + "".join(f"{i},{'cat' if i % 2 else 'dog'}\n" for i in range(12)))
    assert main(["run", "--data", str(text), "--target", "pet", "--task", "regression", "-o",
                 str(tmp_path), "--name", "r3"]) == 2
    assert capsys.readouterr().err == (
        f"reglab: error: Invalid value for '--task': must be 'classification' or 'auto' for "
        f"file {str(text)!r}: a regression target must be finite numbers, and it holds 'dog'. "
        f"Got 'regression' instead.\n")
    assert not (tmp_path / "r3").exists()
    assert main([*argv, "--name", "r4", "--nproc", "2"]) == 2  # DDP trains classification
    assert "Invalid value for '--nproc': must be 1 for a regression target" in (
        capsys.readouterr().err)
    assert not (tmp_path / "r4").exists()


def test_predict_gives_values_in_the_targets_units_as_in_the_run(tmp_path, capsys):
    from sklearn.datasets import load_diabetes

    assert main(["run", "--data", "diabetes", "--epochs", "3", "--hidden", "8", "-o",
                 str(tmp_path), "--name", "p", "--quiet"]) == 0
    with Store.open(tmp_path, "p") as store:
        run = store.runs()[0]
    ds = rl.data.load("diabetes", seed=0)
    bunch = load_diabetes(scaled=False)
    rows = tmp_path / "new.csv"
    idx = ds.test.indices.numpy()
    with open(rows, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(bunch.feature_names)
        w.writerows([[repr(float(v)) for v in x] for x in bunch.data[idx]])
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "p"), "--data", str(rows)]) == 0
    got = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert got[0] == ["prediction"]
    pred = np.array([float(r[0]) for r in got[1:]])
    rmse = math.sqrt(np.mean((pred - bunch.target[idx]) ** 2))
    assert rmse == pytest.approx(run["final"]["test_rmse"], rel=1e-5)
    model, predictor = load_model(tmp_path / "p" / "models" / f"{run['id']}.safetensors")
    with torch.no_grad():
        direct = model(ds.test.X)[:, 0].double().numpy() * ds.target_std + ds.target_mean
    np.testing.assert_allclose(predictor(bunch.data[idx]).values, direct, rtol=0, atol=1e-4)
