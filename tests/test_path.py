"""Regularization paths: lam_max, exact zeros, agreement with scikit-learn, selection rules."""

import csv
import warnings

import numpy as np
import pytest
import torch

import reglab as rl
from reglab.lab import path as P

# Binary, small: the default "sparse" is 1000 features; 50 keep the tests fast.
BIN = dict(n_samples=600, n_features=50, n_informative=5, n_classes=2)


@pytest.fixture(scope="module")
def binary():
    return rl.data.load("sparse", seed=0, **BIN)


@pytest.fixture(scope="module")
def l1_path(binary):
    return P.regularization_path(binary, "l1", n_strengths=10, eps=0.01)


def _fit_at(ds, lam, penalty="l1"):
    """Linear model fitted at one strength from the lam_max start (all weights 0, bias fitted)."""
    net = P._build(ds, "linear", (), 0.0, 0)
    P._zero_start(net, ds.train.y, ds.num_classes)
    P._fista(net, ds.train.X, ds.train.y, penalty, lam, 5000, 1e-9)
    return P._linears(net)[0].weight.detach()


def test_lam_max_is_the_gradient_at_zero_float64_reference(binary, l1_path):
    # Reference: max_j |X^T (Y - prior)|_cj / n in float64 numpy, for mean cross-entropy.
    X, y = binary.train.X.double().numpy(), binary.train.y.numpy()
    Y = np.eye(2)[y]
    g = X.T @ (Y - Y.mean(0)) / len(y)
    assert l1_path.lam_max == pytest.approx(np.abs(g).max(), rel=1e-10)


@pytest.mark.parametrize("penalty", ["l1", "group"])
def test_lam_max_zeroes_everything_just_above_and_not_below(binary, penalty):
    net = P._build(binary, "linear", (), 0.0, 0)
    P._zero_start(net, binary.train.y, binary.num_classes)
    top = P.lam_max(net, binary.train.X, binary.train.y, penalty)
    assert torch.count_nonzero(_fit_at(binary, 1.01 * top, penalty)) == 0
    assert torch.count_nonzero(_fit_at(binary, 0.9 * top, penalty)) > 0


def test_path_has_exact_zeros_and_starts_empty(l1_path):
    rows = l1_path.rows
    assert rows[0]["features_in_use"] == 0 and rows[0]["sparsity"] == 1.0
    assert any(0.0 < r["sparsity"] < 1.0 for r in rows)
    strengths = [r["strength"] for r in rows]
    assert strengths == sorted(strengths, reverse=True)
    assert strengths[-1] == pytest.approx(strengths[0] * 0.01)


def test_support_agrees_with_sklearn_l1_logistic_path(binary, l1_path):
    """Same problem, matched strengths: our mean log loss + lam * |W|_1 on a 2-class softmax.

    The 2-class softmax with L1 on both rows is binary logistic regression with L1 on
    w = w1 - w0 at the same lam (|w0| + |w1| >= |w1 - w0|, equality reached). scikit-learn
    minimizes C * sum(log loss) + |w|_1, so C = 1 / (lam * n_train). liblinear penalizes the
    intercept too; intercept_scaling=30 makes that penalty negligible. Tolerance: Jaccard
    index of the supports >= 0.9 at every strength where liblinear converged (all of them here).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    X, y = binary.train.X.double().numpy(), binary.train.y.numpy()
    compared = 0
    for row, ours in zip(l1_path.rows, l1_path.supports):
        C = 1.0 / (row["strength"] * len(y))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            sk = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", intercept_scaling=30,
                                    tol=1e-8, max_iter=2000).fit(X, y)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            continue
        theirs = set(np.flatnonzero(sk.coef_[0]).tolist())
        union = theirs | set(ours)
        jaccard = len(theirs & set(ours)) / len(union) if union else 1.0
        assert jaccard >= 0.9, (row["strength"], sorted(ours), sorted(theirs))
        compared += 1
    assert compared >= 8
    assert l1_path.rows[-1]["features_in_use"] >= 10     # the comparison reached big supports


def _f1(kept, truth) -> float:
    kept, truth = set(kept), set(truth)
    return 2 * len(kept & truth) / (len(kept) + len(truth))


def test_default_l1_path_recovers_the_informative_features_at_the_1se_strength():
    """F1 >= 0.9 against ds.informative at the 1-SE row, on the default "sparse" data set.

    Everything is ``main``'s default (eps 0.01 as n_train < n_features, scores of the relaxed
    lasso, 1-SE rule) except a coarser grid of 10 strengths to keep the test fast; 20 strengths
    give F1 0.976 on this split. Without relax, validation prefers ~200 features (F1 ~0.2).
    """
    ds = rl.data.load("sparse", seed=0)
    res = P.regularization_path(ds, "l1", n_strengths=10)
    assert res.relaxed and res.rows[-1]["strength"] == pytest.approx(0.01 * res.lam_max)
    truth = ds.informative.tolist()
    kept = res.supports[res.rows.index(res.selected_1se)]
    assert _f1(kept, truth) >= 0.9, (sorted(kept), sorted(truth))


def test_relax_off_keeps_the_penalized_scores(binary):
    res = P.regularization_path(binary, "l1", n_strengths=4, eps=0.05, relax=False)
    assert not res.relaxed
    net = P._build(binary, "linear", (), 0.0, 0)
    P._zero_start(net, binary.train.y, binary.num_classes)
    for row in res.rows:  # warm start along the same grid reproduces each row's val loss
        P._fista(net, binary.train.X, binary.train.y, "l1", row["strength"], 5000, 1e-7)
        assert P._scores(net, binary.val)[1] == pytest.approx(row["val_loss"], rel=1e-5)


def test_relaxed_refit_is_the_unpenalized_fit_on_the_support(binary):
    """The restricted refit equals a ridge fit on the support's columns from scratch."""
    net = P._build(binary, "linear", (), 0.0, 0)
    P._zero_start(net, binary.train.y, binary.num_classes)
    top = P.lam_max(net, binary.train.X, binary.train.y)
    P._fista(net, binary.train.X, binary.train.y, "l1", 0.3 * top, 5000, 1e-10)
    refit = P._relaxed(net, binary.train.X, binary.train.y, 1e-3 * top, 20000, 1e-10)
    keep = P._linears(net)[0].weight.ne(0).any(0)
    W = P._linears(refit)[0].weight.detach()
    assert torch.count_nonzero(W[:, ~keep]) == 0 and 0 < int(keep.sum()) < len(keep)
    # reference: scikit-learn's multinomial L2 logistic regression on the support columns.
    # Ours: mean CE + r (|w0|^2 + |w1|^2), optimal at w1 = -w0 = d / 2, i.e. mean CE + r |d|^2 / 2
    # in d = w1 - w0; sklearn: C * sum CE + |d|^2 / 2 (intercept free), so C = 1 / (r n).
    from sklearn.linear_model import LogisticRegression
    X, y = binary.train.X.double().numpy()[:, keep.numpy()], binary.train.y.numpy()
    sk = LogisticRegression(C=1 / (1e-3 * top * len(y)), tol=1e-12, max_iter=10000).fit(X, y)
    ref, ours = sk.coef_[0], (W[1] - W[0])[keep].numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_one_se_rule_by_hand():
    rows = [{"strength": s} for s in (1.0, 0.5, 0.25, 0.125)]
    # per-sample losses (row 0) and 0/1 losses (row 1); means 0.9, 0.52, 0.5, 0.6
    per = [torch.tensor([[m - 0.1, m + 0.1] * 2, [0.0, 1.0] * 2], dtype=torch.float64)
           for m in (0.9, 0.52, 0.5, 0.6)]
    best, one_se, se = P.select(rows, per, "loss")
    assert best == 2
    assert se == pytest.approx(float(per[2][0].std() / 2))      # std / sqrt(4 samples)
    assert one_se == 1                                           # 0.52 <= 0.5 + 0.0577, 0.9 not


def test_one_se_strength_at_least_best(l1_path):
    assert l1_path.selected_1se["strength"] >= l1_path.selected_best["strength"]
    assert l1_path.selected_1se["val_loss"] <= l1_path.selected_best["val_loss"] + l1_path.se


def test_group_path_zeroes_whole_input_features(binary):
    res = P.regularization_path(binary, "group", n_strengths=6, eps=0.05)
    n_cols = binary.input_shape[0]
    assert res.rows[0]["features_in_use"] == 0
    assert any(0 < r["features_in_use"] < n_cols for r in res.rows)
    for r in res.rows:  # every zero belongs to a fully zero column (2 classes x 50 features)
        zeros = round(r["sparsity"] * 2 * n_cols)
        assert zeros == 2 * (n_cols - r["features_in_use"])


def test_l2_path_norm_shrinks_with_strength(binary):
    res = P.regularization_path(binary, "l2", n_strengths=5, eps=0.01)
    norms = [r["weight_norm"] for r in res.rows]           # strongest first
    assert norms == sorted(norms) and norms[0] < 0.1 * norms[-1]
    assert res.rows[0]["strength"] == pytest.approx(P.L2_TOP * res.lam_max)


def test_dropout_path_grid_and_selection(binary):
    res = P.regularization_path(binary, "dropout", n_strengths=3, epochs=2, hidden=(16,))
    assert [r["strength"] for r in res.rows] == pytest.approx([0.8, 0.4, 0.0])
    assert res.model == "mlp" and res.lam_max is None
    assert res.selected_1se["strength"] >= res.selected_best["strength"]


def test_mlp_l1_path_runs_with_exact_zeros(binary):
    res = P.regularization_path(binary, "l1", model="mlp", n_strengths=3, epochs=3, hidden=(8,))
    assert any(r["sparsity"] > 0.5 for r in res.rows)


@pytest.mark.parametrize("penalty", ["l1", "group", "l2"])
def test_mlp_fit_equals_a_hand_written_sgd_loop(binary, penalty):
    """Reference: the plain loop the path used before it called train_one_epoch (same steps,
    same prox on the first layer only, group lasso on its columns)."""
    lam = 0.5
    ours = P._build(binary, "mlp", (8,), 0.0, 0)
    ref = P._build(binary, "mlp", (8,), 0.0, 0)
    P._sgd(ours, binary.train.X, binary.train.y, penalty, lam, 2, 0.05, 3)
    first = P._linears(ref)[0]
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(3)
    X, y = binary.train.X, binary.train.y
    for _ in range(2):
        for idx in torch.randperm(len(y), generator=gen).split(64):
            loss = torch.nn.functional.cross_entropy(ref(X[idx]), y[idx])
            if penalty == "l2":
                loss = loss + lam * sum(m.weight.pow(2).sum() for m in P._linears(ref))
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                W = first.weight
                if penalty == "l1":
                    W.copy_(W.sign() * (W.abs() - 0.05 * lam).clamp_min(0))
                elif penalty == "group":
                    norms = W.norm(dim=0, keepdim=True)             # (1, F): one per column
                    W.mul_((1 - 0.05 * lam / norms.clamp_min(1e-30)).clamp_min(0))
    for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    if penalty != "l2":
        assert (P._linears(ours)[0].weight == 0).any()       # the prox left exact zeros


def test_cnn_path_penalizes_the_first_conv_layer_with_input_channels_as_groups():
    ds = rl.data.load("digits", seed=0)
    net = P._build(ds, "cnn", (8,), 0.0, 0)
    P._zero_start(net, ds.train.y, ds.num_classes)
    first = P._linears(net)[0]
    assert isinstance(first, torch.nn.Conv2d) and torch.count_nonzero(first.weight) == 0
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(ds.train.X), ds.train.y).backward()
    g = first.weight.grad.detach()  # (32, 1, 3, 3): one input channel, one group
    assert P.lam_max(net, ds.train.X, ds.train.y, "l1") == float(g.abs().max())
    assert P.lam_max(net, ds.train.X, ds.train.y, "group") == pytest.approx(float(g.norm()),
                                                                           rel=1e-6)
    res = P.regularization_path(ds, "l1", model="cnn", n_strengths=2, epochs=1, hidden=(8,))
    assert res.model == "cnn" and len(res.rows) == 2
    assert res.rows[0]["sparsity"] > res.rows[1]["sparsity"]  # stronger l1, more exact zeros


def test_main_writes_table_csv_png(tmp_path, monkeypatch):
    lines = []
    real_load = rl.data.load
    monkeypatch.setattr(rl.data, "load", lambda name, seed=0: real_load(name, seed=seed, **BIN))
    assert P.main("sparse", "l1", tmp_path, n_strengths=4, eps=0.1, seed=0, echo=lines.append) == 0
    text = "\n".join(lines)
    assert "| lam |" in text and "one-standard-error" in text and "lam_max" in text
    with (tmp_path / "path.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and any("1se" in r["selected"] for r in rows)
    assert (tmp_path / "path.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "path.md").read_text().count("\n|") == 6


def test_bad_parameters_have_the_one_message(binary):
    with pytest.raises(rl.InvalidParameterError, match=r"^The 'penalty' parameter of "
                       r"regularization_path must be one of \{'l1', 'l2', 'group', 'dropout'\}\. "
                       r"Got 'l0' instead\.$"):
        P.regularization_path(binary, "l0")
    with pytest.raises(rl.InvalidParameterError, match=r"'eps' parameter .* range \(0, 1\)"):
        P.regularization_path(binary, "l1", eps=1.0)
