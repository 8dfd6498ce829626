"""Regularization paths: one model fitted along a grid of strengths, glmnet style.

For ``penalty="l1"`` (and ``"group"``) the grid starts at ``lam_max``, the smallest strength
at which every selected weight is exactly zero, computed from the gradient at zero::

    lam_max = max_j |dL0/dw_j|            at w = 0, biases fitted      (l1)
    lam_max = max_g ||dL0/dw_g||_2         (group lasso, groups = input features)

and goes down log-spaced to ``lam_max * eps``. Each strength is fitted with warm start from
the previous solution, with a proximal method (the core's ``rl.ProximalL1`` /
``rl.ProximalGroupLasso``), so that zeros are exact. Per strength: validation and test accuracy
and loss, sparsity, input features still in use, weight norm. Two selections: the best
validation score, and the one-standard-error rule. The test split is reported, never used to select.

Regression (a data set whose ``task`` is "regression"): the data loss is the mean squared
error of the standardized target, ``L0 = (1/n) ||y - X w - b||^2`` (the lab's training loss,
``F.mse_loss``), so a strength ``lam`` of ``L0 + lam * sum|w|`` is scikit-learn's
``alpha = lam / 2``: ``sklearn.linear_model.lasso_path`` minimizes
``(1/(2n)) ||y - X w||^2 + alpha ||w||_1``, half of reglab's objective at ``lam = 2 alpha``
(the same minimizer; the bias, unpenalized, plays the role of sklearn's centering). Hence
``lam_max = max_j |(2/n) x_j^T (y - mean y)| = 2 alpha_max``. The rows report validation
and test RMSE in the target's units (``val_rmse``, ``test_rmse``) instead of accuracy, and
the loss columns are the standardized MSE; selection is by validation loss.

References: Friedman, Hastie & Tibshirani (2010), "Regularization paths for generalized linear
models via coordinate descent" (glmnet); Breiman et al. (1984) for the one-standard-error rule;
Beck & Teboulle (2009) for FISTA.

Example::

    ds = rl.data.load("sparse")
    res = regularization_path(ds, penalty="l1", n_strengths=20)
    print(res.to_markdown()); res.plot("path.png")
"""

from __future__ import annotations

import copy
import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab import data as rl_data
from reglab._escape import markdown_text
from reglab._files import atomic_write
from reglab._validation import check_bool, check_choice, check_float, check_int, fail
from reglab.lab.spec import RunSpec
from reglab.train import train_one_epoch
from reglab.train.models import build_model

__all__ = ["PathResult", "regularization_path", "lam_max", "main", "PENALTIES",
           "MODELS"]

PENALTIES = ("l1", "l2", "group", "dropout")
MODELS = ("linear", "mlp", "cnn")
_OWNER = "regularization_path"
# The l2 grid spans [L2_TOP * lam_max * eps, L2_TOP * lam_max]: at the top, the ridge solution
# is about w = g / (2 lam) <= lam_max / (2 lam) = 0.05 per weight (a near-constant model).
L2_TOP = 10.0
RELAX_RIDGE = 1e-3                  # relaxed refit: ridge lam = RELAX_RIDGE * lam_max
DROP_MAX = 0.8                      # the dropout grid is linear in [0, DROP_MAX]
COLUMNS = ("strength", "val_acc", "val_loss", "test_acc", "test_loss", "train_loss",
           "sparsity", "features_in_use", "weight_norm", "iterations")
# a regression path's columns: RMSE (target units) in place of accuracy
REGRESSION_COLUMNS = tuple(c.replace("_acc", "_rmse") for c in COLUMNS)


# ----------------------------------------------------------------------------- result


@dataclass
class PathResult:
    """A fitted regularization path: one row per strength, strongest first.

    Attributes:
        penalty, model: what was fitted ("l1" / "l2" / "group" / "dropout"; "linear" / "mlp" /
            "cnn").
        rows: one dict per strength with the keys in ``COLUMNS`` (``strength`` is ``lam``, or
            the drop rate for the dropout path).
        lam_max: the computed smallest strength that zeroes every selected weight (l1, group),
            or the l1 ``lam_max`` used as the unit of the l2 grid; None for dropout.
        selected_best: the row with the best validation score.
        selected_1se: the row chosen by the one-standard-error rule.
        supports: per row, the input feature indices still in use (first layer).
        select_by: "loss" (validation mean log loss) or "accuracy".
        se: the standard error used by the 1-SE rule and how it was computed.
        relaxed: whether the scores are those of the relaxed lasso (refit on each support).
    """

    penalty: str
    model: str
    rows: list[dict[str, float]]
    lam_max: float | None
    selected_best: dict[str, float]
    selected_1se: dict[str, float]
    supports: list[list[int]] = field(default_factory=list)
    select_by: str = "loss"
    se: float = 0.0
    data_name: str = ""
    relaxed: bool = False
    task: str = "classification"

    @property
    def columns(self) -> tuple[str, ...]:
        """The row keys: :data:`COLUMNS`, or :data:`REGRESSION_COLUMNS` for regression."""
        return REGRESSION_COLUMNS if self.task == "regression" else COLUMNS

    @property
    def strength_name(self) -> str:
        return "drop" if self.penalty == "dropout" else "lam"

    def to_markdown(self) -> str:
        """The path as a Markdown table; the two selections are marked in the last column."""
        head = [self.strength_name, *self.columns[1:], "selected"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            mark = []
            if row is self.selected_best:
                mark.append("best")
            if row is self.selected_1se:
                mark.append("1se")
            cells = [_fmt(row[c]) for c in self.columns] + [", ".join(mark)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def to_csv(self, path: str | Path) -> Path:
        """Write the rows as CSV (one line per strength, plus ``selected``); return the path."""
        path = Path(path)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[*self.columns, "selected"])
            writer.writeheader()
            for row in self.rows:
                sel = "+".join(n for n, r in (("best", self.selected_best),
                                              ("1se", self.selected_1se)) if r is row)
                writer.writerow({**{c: row[c] for c in self.columns}, "selected": sel})
        return path

    def plot(self, path: str | Path) -> Path:
        """Write a PNG: val/test accuracy and features in use vs strength, selections marked."""
        import matplotlib  # heavy (~1 s to import): only when a plot is written, not by the CLI

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        x = [r["strength"] for r in self.rows]
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        score = "rmse" if self.task == "regression" else "acc"
        for key, style in ((f"val_{score}", "o-"), (f"test_{score}", "s--")):
            ax1.plot(x, [r[key] for r in self.rows], style, ms=3, label=key.replace("_", " "))
        ax1.set_ylabel("RMSE (target units)" if self.task == "regression" else "accuracy")
        ax2.plot(x, [r["features_in_use"] for r in self.rows], "o-", ms=3, color="C2")
        ax2.set_ylabel("input features in use")
        ax2.set_xlabel(self.strength_name + ("" if self.penalty == "dropout" else " (log scale)"))
        for ax in (ax1, ax2):
            if self.penalty != "dropout":
                ax.set_xscale("log")
            ax.axvline(self.selected_best["strength"], color="C3", ls=":", label="best val")
            ax.axvline(self.selected_1se["strength"], color="C4", ls="-.", label="1-SE rule")
            ax.grid(alpha=0.3)
        ax1.legend(fontsize=8)
        ax1.set_title(f"{self.penalty} path, {self.model} model"
                      + (f", {self.data_name}" if self.data_name else ""))
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return Path(path)


def _fmt(v: float) -> str:
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.4g}"


# ----------------------------------------------------------------------------- models


def _build(data: Any, model: str, hidden: Sequence[int], drop: float, seed: int) -> nn.Sequential:
    """``Flatten -> Linear`` (linear), ``Flatten -> [Linear -> ReLU -> Dropout]* -> Linear``
    (mlp), or the lab's CNN (``reglab.train.models``: two conv blocks, classifier width
    ``hidden[0]``, ``rl.Dropout`` before the output layer)."""
    torch.manual_seed(seed)
    if model == "cnn":
        spec = RunSpec(model="cnn", hidden=tuple(hidden), dropout=drop)
        return build_model(spec, data.kind, tuple(data.input_shape), data.num_classes)
    n_in, layers = math.prod(data.input_shape), [nn.Flatten()]
    # A linear model is fitted and measured in float64 so that lam_max and the zeros are exact.
    widths = [] if model == "linear" else list(hidden)
    for h in widths:
        layers += [nn.Linear(n_in, h), nn.ReLU()]
        if drop > 0:
            layers.append(rl.Dropout(drop=drop))
        n_in = h
    layers.append(nn.Linear(n_in, data.num_classes))
    net = nn.Sequential(*layers)
    return net.double() if model == "linear" else net


def _dtype(net: nn.Module) -> torch.dtype:
    return _linears(net)[0].weight.dtype


def _linears(net: nn.Module) -> list[nn.Module]:
    """The layers with weights, in order: Linear and (for the CNN) Conv layers; the first is
    the layer the l1 / group penalty acts on, its input features / channels the groups."""
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def _inputs(W: torch.Tensor) -> torch.Tensor:
    """The first layer's weight as (input feature or channel, everything else)."""
    return W.transpose(0, 1).flatten(1)


def _data_loss(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The path's data loss: cross-entropy of class codes (int64 ``y``), or the squared error
    of a regression target (float ``y``, the model's one output), mean over the samples."""
    if y.is_floating_point():
        return F.mse_loss(out[:, 0], y.to(out.dtype), reduction=reduction)
    return F.cross_entropy(out, y, reduction=reduction)


def _zero_start(net: nn.Module, y: torch.Tensor, num_classes: int) -> None:
    """First-layer weights 0, output bias = log class priors (regression: the mean target):
    the fit at ``lam >= lam_max``.

    Hidden biases are set to 0.1 so that every ReLU passes gradient at this point (a unit with a
    negative bias and zero weights would be dead for good).
    """
    first, last = _linears(net)[0], _linears(net)[-1]
    if y.is_floating_point():
        start = y.double().mean().reshape(1)
    else:
        start = (torch.bincount(y, minlength=num_classes).double().clamp_min(1) / len(y)).log()
    with torch.no_grad():
        first.weight.zero_()
        for lin in _linears(net)[:-1]:
            lin.bias.fill_(0.1)
        last.bias.copy_(start.to(last.bias.dtype))


def lam_max(net: nn.Module, X: torch.Tensor, y: torch.Tensor, penalty: str = "l1") -> float:
    """Smallest strength for which zero first-layer weights are stationary: gradient at zero.

    ``lam_max = max_ij |dL0/dW_ij|`` (l1) or ``max_j ||dL0/dW_:j||_2`` (group, one group per
    input feature), with ``L0`` the mean cross-entropy (regression: the mean squared error),
    evaluated at the network as given (call on a net whose first layer is zero and whose
    biases are fitted, see ``_zero_start``). For a linear model this is the exact lam_max of
    L1 logistic regression (glmnet's lambda_max), or of the lasso: ``2 * alpha_max`` of
    scikit-learn's ``lasso_path`` (see the module docstring for the factor 2).

    Example:
        >>> lam_max(net, ds.train.X, ds.train.y)   # doctest: +SKIP
    """
    W = _linears(net)[0].weight
    net.zero_grad()
    _data_loss(net(X.to(_dtype(net))), y).backward()
    g = W.grad.detach()
    net.zero_grad()
    return float(g.abs().max() if penalty == "l1" else _inputs(g).norm(dim=1).max())


# ----------------------------------------------------------------------------- fitting


def _prox(penalty: str, lam: float):
    """The core's proximal operator for ``penalty``, or None for a smooth penalty."""
    if penalty == "l1":
        return rl.ProximalL1(lam)
    if penalty == "group":
        return rl.ProximalGroupLasso(lam)
    return None


def _group_view(W: torch.Tensor) -> torch.Tensor:
    """The tensor handed to ProximalGroupLasso so that its groups are input features (columns
    of a Linear weight) or input channels (dim 1 of a conv weight)."""
    return W.transpose(0, 1)


def _lipschitz(X: torch.Tensor) -> float:
    """``||[X, 1]||_2^2 / (2 n)``: a Lipschitz constant of the mean softmax cross-entropy gradient.

    The top eigenvalue of the smaller Gram matrix (n x n or F x F) gives the same number as
    an SVD of ``[X, 1]`` at a fraction of the cost; computed once per path.
    """
    Xd = X.flatten(1).double()
    X1 = torch.cat([Xd, torch.ones(Xd.shape[0], 1, dtype=Xd.dtype)], 1)     # (N, F + 1)
    G = X1 @ X1.T if X1.shape[0] <= X1.shape[1] else X1.T @ X1
    return torch.linalg.eigvalsh(G)[-1].item() / (2 * Xd.shape[0])


def _fista(net: nn.Module, X: torch.Tensor, y: torch.Tensor, penalty: str, lam: float,
           max_iter: int, tol: float, lipschitz: float | None = None) -> int:
    """Full-batch FISTA (with adaptive restart) on a linear softmax model, in place.

    A solver for one convex problem to ``tol``, not a training run: no epochs, batches,
    validation or early stop, so it does not go through ``reglab.train``. Its proximal step is
    the core's own (``rl.ProximalL1`` / ``rl.ProximalGroupLasso`` via ``.step``), so the L1 and
    group formulas stay written once.

    Minimizes ``mean CE(X W^T + b, y) + lam * R(W)``, step ``1/L`` with
    ``L = ||[X, 1]||_2^2 / (2 n) (+ 2 lam for l2)``, a Lipschitz bound of the gradient
    (the softmax cross-entropy Hessian in the logits is at most 1/2). Stops when no weight moves
    by more than ``tol`` in one step. ``lipschitz``: the
    smooth part's constant from :func:`_lipschitz`, if already known. Returns the iterations.
    """
    lin = _linears(net)[0]
    Xd = X.flatten(1).double()                                     # (N, F)
    regression = y.is_floating_point()
    Y = y.double()[:, None] if regression else F.one_hot(y, lin.out_features).double()  # (N, C)
    n = Xd.shape[0]
    # the mean squared error's Hessian in the outputs is 2/n, four times the softmax bound
    curvature = 4.0 if regression else 1.0
    L = curvature * (_lipschitz(X) if lipschitz is None else lipschitz) + (
        2 * lam if penalty == "l2" else 0)
    step, prox = 1.0 / L, _prox(penalty, lam)
    W, b = lin.weight.detach().clone(), lin.bias.detach().clone()
    zW, zb, t = W.clone(), b.clone(), 1.0
    for it in range(1, max_iter + 1):
        out = Xd @ zW.T + zb
        R = (2 * (out - Y) if regression else torch.softmax(out, 1) - Y) / n  # (N, C): dL0/dout
        gW = R.T @ Xd + (2 * lam * zW if penalty == "l2" else 0)
        W_new, b_new = zW - step * gW, zb - step * R.sum(0)
        if prox is not None:
            prox.step([W_new if penalty == "l1" else _group_view(W_new)], step)
        dW, db = W_new - W, b_new - b
        if (zW - W_new).mul(dW).sum() + (zb - b_new).mul(db).sum() > 0:   # restart momentum
            t = 1.0
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        zW, zb = W_new + (t - 1) / t_new * dW, b_new + (t - 1) / t_new * db
        W, b, t = W_new, b_new, t_new
        if max(dW.abs().max().item(), db.abs().max().item()) <= tol:
            break
    with torch.no_grad():
        lin.weight.copy_(W)
        lin.bias.copy_(b)
    return it


def _sgd(net: nn.Module, X: torch.Tensor, y: torch.Tensor, penalty: str, lam: float,
         epochs: int, lr: float, seed: int) -> int:
    """Minibatch SGD (momentum 0.9, batch 64) with the proximal update attached; returns epochs.

    Trains with the library's loop (``reglab.train.train_one_epoch``), not ``fit``: a path
    warm-starts each strength from the previous solution and puts the l1 / group step on the
    first layer only, neither of which a RunSpec (a fresh model, every weight) can say.
    """
    first = _linears(net)[0]
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    handle = None
    if penalty == "l1":
        handle = rl.ProximalL1(lam, params=[first.weight]).attach(opt, net)
    elif penalty == "group":
        handle = _GroupOnColumns(lam, first.weight).attach(opt)
    pen = rl.L2(lam) if penalty == "l2" else None
    gen = torch.Generator().manual_seed(seed)
    try:
        for _ in range(epochs):
            train_one_epoch(net, X, y, opt, batch_size=64, generator=gen,
                            num_classes=_linears(net)[-1].out_features,
                            penalty=pen,
                            task="regression" if y.is_floating_point() else "classification")
    finally:
        if handle is not None:
            handle.remove()
    net.eval()
    return epochs


class _GroupOnColumns:
    """Group-lasso prox on the columns (input features) of one weight, after each step."""

    def __init__(self, lam: float, weight: torch.Tensor):
        self.prox, self.weight = rl.ProximalGroupLasso(lam), weight

    def attach(self, opt: torch.optim.Optimizer):
        def hook(optimizer, args, kwargs):
            with torch.no_grad():
                self.prox.step([_group_view(self.weight)], optimizer.param_groups[0]["lr"])
        return opt.register_step_post_hook(hook)


# ----------------------------------------------------------------------------- measuring


@torch.no_grad()
def _scores(net: nn.Module, split, target_std: float | None = None
            ) -> tuple[float, float, torch.Tensor]:
    """Accuracy (regression: RMSE in the target's units, ``target_std`` times the
    standardized one), mean log loss (squared error), and the per-sample losses (for the
    standard error)."""
    net.eval()
    logits = net(split.X.to(_dtype(net)))
    if split.y.is_floating_point():
        sq = _data_loss(logits, split.y, reduction="none").double()
        rmse = math.sqrt(sq.mean().item()) * target_std if len(sq) else math.nan
        return rmse, sq.mean().item(), torch.stack([sq, sq])
    losses = F.cross_entropy(logits, split.y, reduction="none").double()
    acc = (logits.argmax(1) == split.y).double()
    return acc.mean().item(), losses.mean().item(), torch.stack([losses, 1 - acc])


def _selected_weights(net: nn.Module, penalty: str, model: str) -> list[torch.Tensor]:
    """The weights the penalty acts on: the first layer for l1 / group, else every weight."""
    lins = _linears(net)
    return [lins[0].weight] if penalty in ("l1", "group") else [m.weight for m in lins]


def _measure(net, data, penalty, model, strength, iterations, scored=None
             ) -> tuple[dict, list[int], torch.Tensor]:
    """One row: scores of ``scored`` (default ``net``; the relaxed refit), weights of ``net``."""
    scored = net if scored is None else scored
    std = getattr(data, "target_std", None)
    val_acc, val_loss, val_per = _scores(scored, data.val, std)
    test_acc, test_loss, _ = _scores(scored, data.test, std)
    _, train_loss, _ = _scores(scored, data.train, std)
    ws = torch.cat([w.detach().flatten() for w in _selected_weights(net, penalty, model)])
    support = torch.nonzero(_inputs(_linears(net)[0].weight.detach()).ne(0).any(1)
                            ).flatten().tolist()
    score = "rmse" if data.train.y.is_floating_point() else "acc"  # regression: RMSE
    row = {"strength": float(strength), f"val_{score}": val_acc, "val_loss": val_loss,
           f"test_{score}": test_acc, "test_loss": test_loss, "train_loss": train_loss,
           "sparsity": ws.eq(0).double().mean().item(), "features_in_use": len(support),
           "weight_norm": ws.double().norm().item(), "iterations": int(iterations)}
    return row, support, val_per


def select(rows: list[dict], per_sample: list[torch.Tensor], by: str = "loss") -> tuple[int, int, float]:
    """Indices of the best-validation row and of the one-standard-error row, and the SE.

    ``best = argmin_k v_k`` with ``v_k`` the validation mean log loss (``by="loss"``) or error
    rate (``by="accuracy"``); ``SE = std(per-sample loss at best) / sqrt(n_val)``, the standard
    error of that mean over the validation samples. The 1-SE row is the most regularized
    (largest strength) with ``v_k <= v_best + SE`` (Breiman et al. 1984; glmnet's lambda.1se).
    Ties in ``v`` go to the more regularized row.
    """
    k = 0 if by == "loss" else 1
    v = [float(p[k].mean()) for p in per_sample]
    best = min(range(len(rows)), key=lambda i: (v[i], -rows[i]["strength"]))
    p = per_sample[best][k]
    se = float(p.std(unbiased=True) / math.sqrt(p.numel())) if p.numel() > 1 else 0.0
    ok = [i for i in range(len(rows)) if v[i] <= v[best] + se]
    return best, max(ok, key=lambda i: rows[i]["strength"]), se


# ----------------------------------------------------------------------------- the path


def strength_grid(top: float, n: int, eps: float) -> list[float]:
    """``n`` strengths log-spaced from ``top`` down to ``top * eps`` (glmnet's grid)."""
    if n == 1:
        return [top]
    return [top * eps ** (i / (n - 1)) for i in range(n)]


def regularization_path(
    data: Any,
    penalty: str = "l1",
    model: str = "linear",
    n_strengths: int = 20,
    eps: float | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    hidden: Sequence[int] = (64,),
    progress: Callable[[int, int, dict], None] | None = None,
    select_by: str = "loss",
    tol: float = 1e-7,
    relax: bool | None = None,
) -> PathResult:
    """Fit ``model`` along a grid of regularization strengths, strongest first, warm-started.

    Grids (rows are ordered from the most to the least regularized):

    * l1, group: ``lam_k = lam_max * eps^(k/(n-1))``, ``lam_max`` computed (see :func:`lam_max`);
      ``eps`` defaults to glmnet's choice for more features than training samples, 0.01
      (below it such a fit interpolates the training data), and to 1e-3 otherwise;
      penalty ``lam * sum|W1|`` or ``lam * sum_j ||W1[:, j]||_2`` on the first layer, applied
      with the core's proximal step, so zeros are exact.
    * l2: ``lam * sum w^2`` (``rl.L2``) on every weight, ``lam`` log-spaced from
      ``L2_TOP * lam_max`` (= 10 lam_max: a near-constant model) down to ``L2_TOP * lam_max * eps``.
    * dropout: drop rate linear from ``DROP_MAX`` = 0.8 down to 0 on an MLP (``rl.Dropout``
      after each hidden ReLU); each rate is fitted from the same seeded start (no warm start).

    Fitting: a linear model is fitted full batch with FISTA (float64, step ``1/L`` computed,
    ``epochs`` = iteration cap, default 5000, stop when no weight moves more than ``tol``; for
    l1 / group only on the columns kept by the strong rule, then checked, see
    :func:`_screened_fista`); an
    MLP with minibatch SGD (momentum 0.9, ``lr`` default 0.05, ``epochs`` default 30 per strength)
    and the proximal update attached to the optimizer, trained by the library's
    ``train_one_epoch`` (FISTA is a convex solver, not a training run: see :func:`_fista`).

    Selection (validation only; the test columns are reported, never used): best validation
    score, and the one-standard-error rule, where the standard error is that of the mean
    per-sample validation log loss (``select_by="loss"``) or 0/1 loss (``"accuracy"``) at the
    best strength, over the validation samples.

    Args:
        data: a ``reglab.data.Dataset``.
        penalty: "l1" (default), "l2", "group" or "dropout".
        model: "linear" (default), "mlp" or "cnn" (images and signals; the l1 / group
            penalty acts on the first conv layer, its groups are the input channels); a
            linear model becomes "mlp" for dropout (it has no hidden units to drop).
        n_strengths: grid size (default 20). eps: grid ratio in (0, 1) (default None: 0.01
            when the training split has fewer samples than input features, else 1e-3).
        epochs, lr: see Fitting. seed: model initialization and batch order (default 0).
        hidden: MLP hidden widths (default (64,)).
        progress: called as ``progress(k, n, row)`` after each strength.
        select_by: "loss" (default) or "accuracy". tol: FISTA stopping tolerance.
        relax: score each strength by the relaxed lasso, a refit on its support with only a
            tiny ridge (``RELAX_RIDGE * lam_max``); the support, sparsity and norm columns stay
            those of the penalized fit. Validation then compares supports rather than
            shrinkage, so the selections keep far fewer noise features (on the default
            "sparse": F1 about 0.95 against ``ds.informative`` instead of about 0.2 at the
            best-validation strength). Default None: True for "l1" / "group" on a linear
            model (only there is it allowed), else False.

    Example:
        >>> res = regularization_path(rl.data.load("sparse"), "l1")     # doctest: +SKIP
        >>> res.selected_1se["features_in_use"]                           # doctest: +SKIP
    """
    penalty, n_strengths, eps = _check_grid(penalty, n_strengths, eps)
    model = check_choice(_OWNER, "model", model, MODELS)
    if penalty == "dropout" and model == "linear":
        model = "mlp"  # a linear model has no hidden units to drop
    if eps is None:
        eps = 0.01 if len(data.train) < math.prod(data.input_shape) else 1e-3
    select_by = check_choice(_OWNER, "select_by", select_by, ("loss", "accuracy"))
    if getattr(data, "task", "classification") == "regression" and select_by != "loss":
        raise fail(_OWNER, "select_by", "'loss' for a regression target (it has no accuracy)",
                   select_by)
    if relax is None:
        relax = model == "linear" and penalty in ("l1", "group")
    relax = check_bool(_OWNER, "relax", relax)
    if relax and (model != "linear" or penalty not in ("l1", "group")):
        raise fail(_OWNER, "relax", "False unless penalty is 'l1' or 'group' on a linear model",
                   relax)
    if model == "mlp" and len(hidden) == 0:
        raise fail(_OWNER, "hidden", "a non-empty sequence of widths for model='mlp'", hidden)
    if penalty == "dropout":
        return _dropout_path(data, model, n_strengths, epochs or 30, lr or 0.05, seed,
                             hidden, progress, select_by)
    net = _build(data, model, hidden, 0.0, seed)
    X, y = data.train.X, data.train.y
    _zero_start(net, y, data.num_classes)
    top = lam_max(net, X, y, "group" if penalty == "group" else "l1")
    grid = strength_grid(top * (L2_TOP if penalty == "l2" else 1.0), n_strengths, eps)
    rows, supports, per = [], [], []
    for k, lam in enumerate(grid):
        if model == "linear" and penalty != "l2":
            its = _screened_fista(net, X, y, penalty, lam, grid[max(k - 1, 0)],
                                  epochs or 5000, tol)
        elif model == "linear":
            its = _fista(net, X, y, penalty, lam, epochs or 5000, tol)
        else:
            its = _sgd(net, X, y, penalty, lam, epochs or 30, lr or 0.05, seed + k)
        scored = _relaxed(net, X, y, top * RELAX_RIDGE, epochs or 5000, tol) if relax else None
        row, support, val_per = _measure(net, data, penalty, model, lam, its, scored)
        rows.append(row), supports.append(support), per.append(val_per)
        if progress is not None:
            progress(k, len(grid), row)
    return _result(penalty, model, rows, top, supports, per, select_by, data, relax)


def _screened_fista(net: nn.Module, X, y, penalty: str, lam: float, lam_prev: float,
                    max_iter: int, tol: float) -> int:
    """FISTA on the columns kept by glmnet's sequential strong rule, then a KKT check.

    Candidates: the current support and every column j with ``s_j > 2 lam - lam_prev``, where
    ``s_j`` is ``max_c |dL0/dW_cj|`` (l1) or ``||dL0/dW_:j||_2`` (group) at the warm start
    (Tibshirani et al. 2012, "Strong rules for discarding predictors in lasso-type problems").
    After the fit, any other column with ``s_j > lam`` violates the optimality conditions of a
    zero column; it is added and the fit repeated, so the result is the full problem's.
    Each fit costs ``n x |candidates|`` per step instead of ``n x F``. Returns the iterations.
    """
    lin = _linears(net)[0]
    Xd = X.flatten(1).double()

    def scores() -> torch.Tensor:
        net.zero_grad()
        _data_loss(net(Xd), y).backward()
        g = lin.weight.grad.detach()
        net.zero_grad()
        return g.abs().amax(0) if penalty == "l1" else g.norm(dim=0)

    # strict ">": at lam = lam_prev = lam_max nothing enters, the all-zero fit stays exact
    keep = lin.weight.detach().ne(0).any(0) | (scores() > 2 * lam - lam_prev)
    its = 0
    while True:
        its += _fit_columns(net, Xd, y, keep, penalty, lam, max_iter, tol)
        late = ~keep & (scores() > lam * (1 + 1e-6))
        if not bool(late.any()):
            return its
        keep |= late


def _fit_columns(net: nn.Module, Xd, y, keep, penalty: str, lam: float, max_iter: int,
                 tol: float) -> int:
    """Fit ``net``'s linear layer on the columns ``keep`` only (others stay 0), warm-started."""
    lin = _linears(net)[0]
    if not bool(keep.any()):
        return 0              # all weights 0 (keep holds the support): the bias is already fitted
    Xs, w0 = Xd[:, keep], lin.weight.detach()[:, keep]
    small = nn.Linear(Xs.shape[1], lin.out_features).double()
    with torch.no_grad():
        small.weight.copy_(w0)
        small.bias.copy_(lin.bias)
    its = _fista(nn.Sequential(small), Xs, y, penalty, lam, max_iter, tol,
                 lipschitz=_lipschitz(Xs))
    with torch.no_grad():
        lin.weight[:, keep] = small.weight.to(lin.weight.dtype)
        lin.bias.copy_(small.bias)
    return its


def _relaxed(net: nn.Module, X, y, ridge: float, max_iter: int, tol: float) -> nn.Module:
    """The relaxed lasso: a copy of ``net`` refitted on its support with a tiny ridge only.

    Debiases the shrunken nonzero weights so that validation compares supports, not shrinkage
    (Meinshausen 2007; glmnet's ``relax=TRUE`` with gamma = 0). The ridge keeps it finite on
    separable supports. Solved on the support's columns alone (n x |S|, warm-started from the
    penalized weights), with that smaller problem's own step size.
    """
    refit = copy.deepcopy(net)
    lin = _linears(refit)[0]
    keep = lin.weight.detach().ne(0).any(0)                       # (F,) the support
    if not bool(keep.any()):
        return refit                                              # nothing to refit
    Xs = X.flatten(1)[:, keep]                                    # (N, |S|)
    small = nn.Linear(Xs.shape[1], lin.out_features).double()
    with torch.no_grad():
        small.weight.copy_(lin.weight[:, keep])
        small.bias.copy_(lin.bias)
    _fista(nn.Sequential(small), Xs, y, "l2", ridge, max_iter, tol, lipschitz=_lipschitz(Xs))
    with torch.no_grad():
        lin.weight[:, keep] = small.weight.to(lin.weight.dtype)
        lin.bias.copy_(small.bias)
    return refit


def _check_grid(penalty, n_strengths, eps):
    """The penalty and the grid (eps None: chosen from the data later), checked up front."""
    penalty = check_choice(_OWNER, "penalty", penalty, PENALTIES)
    n_strengths = check_int(_OWNER, "n_strengths", n_strengths, 1)
    if eps is not None:
        eps = check_float(_OWNER, "eps", eps, 0, 1, low_open=True, high_open=True)
    return penalty, n_strengths, eps


def _dropout_path(data, model, n, epochs, lr, seed, hidden, progress, select_by
                  ) -> PathResult:
    rows, supports, per = [], [], []
    rates = [DROP_MAX * (1 - i / (n - 1)) for i in range(n)] if n > 1 else [DROP_MAX]
    for k, drop in enumerate(rates):
        net = _build(data, model, hidden, drop, seed)          # same init for every rate
        its = _sgd(net, data.train.X, data.train.y, "dropout", 0.0, epochs, lr, seed)
        row, support, val_per = _measure(net, data, "dropout", model, drop, its)
        rows.append(row), supports.append(support), per.append(val_per)
        if progress is not None:
            progress(k, n, row)
    return _result("dropout", model, rows, None, supports, per, select_by, data)


def _result(penalty, model, rows, top, supports, per, select_by, data, relax=False
            ) -> PathResult:
    best, one_se, se = select(rows, per, select_by)
    return PathResult(penalty, model, rows, top, rows[best], rows[one_se], supports,
                      select_by, se, str(getattr(data, "name", "")), relax,
                      getattr(data, "task", "classification"))


# ----------------------------------------------------------------------------- CLI

# The summary's prose (English); reglab.report.i18n pairs each with its Vietnamese.
SUMMARY_TEXTS = {
    "heading": "# {penalty} path on {data}, {model} model",  # path.md's first line
    "best": "best validation",
    "one_se": "one-standard-error",
    "row": ("{label}: {name} = {strength:.4g}, val acc {val_acc:.4f}, val loss {val_loss:.4f}, "
            "test acc {test_acc:.4f}, features in use {features}"),
    "se": "(1-SE rule: SE = {se:.4g} of the mean validation {loss} over the samples)",
    "row_regression": ("{label}: {name} = {strength:.4g}, val RMSE {val_rmse:.4g}, val loss "
                       "{val_loss:.4f}, test RMSE {test_rmse:.4g}, features in use {features}"),
    "log_loss": "log loss",
    "squared_error": "squared error",
    "zero_one_loss": "0/1 loss",
    "lasso_alpha": "(lam is the MSE loss's: scikit-learn's lasso alpha = lam / 2)",
    "relaxed": ("(scores of the relaxed lasso: each support refitted with a tiny ridge; "
                "support, sparsity and norm of the penalized fit)"),
}


def main(data: str, penalty: str, out: Path, n_strengths: int = 20, eps: float | None = None,
         seed: int = 0, echo: Callable[[str], Any] = print,
         progress: Callable[[int, int], None] | None = None, model: str | None = None,
         texts: Mapping[str, str] = SUMMARY_TEXTS) -> int:
    """``reglab path``: fit the path, print the table and the selections, write csv/png/md.

    The model is ``model``, by default linear for l1 / l2 / group and an MLP for dropout;
    everything else is
    :func:`regularization_path`'s default (l1 / group: scored by the relaxed lasso, the
    1-SE row is the recommended sparse model). ``progress(done, total)`` is called after
    each strength (the CLI's bar); ``texts``: the summary's and path.md's heading's templates
    (its language, printed and in path.md). Returns the exit code 0.
    """
    penalty, n_strengths, eps = _check_grid(penalty, n_strengths, eps)  # every flag first
    if model is None:
        model = "mlp" if penalty == "dropout" else "linear"
    elif model == "linear" and penalty == "dropout":
        raise fail(_OWNER, "model", "'mlp' or 'cnn' for penalty 'dropout' (a linear model has "
                   "no hidden units to drop)", model)
    ds = rl_data.load(data, seed=seed)
    out = Path(out)
    res = regularization_path(ds, penalty, model, n_strengths=n_strengths, eps=eps, seed=seed,
                              progress=None if progress is None
                              else lambda k, n, _row: progress(k + 1, n))
    out.mkdir(parents=True, exist_ok=True)  # only once there is something to write
    table = res.to_markdown()
    echo(table)
    echo(summary(res, texts))
    res.to_csv(out / "path.csv")
    res.plot(out / "path.png")
    heading = texts["heading"].format(penalty=penalty, data=markdown_text(data), model=model)
    atomic_write(out / "path.md", f"{heading}\n\n{table}\n{summary(res, texts)}\n"
                 .encode("utf-8"))
    return 0


def summary(res: PathResult, texts: Mapping[str, str] = SUMMARY_TEXTS) -> str:
    """The selections in words: lam_max, the best-validation and 1-SE rows, the SE rule.
    ``texts``: the templates (:data:`SUMMARY_TEXTS`; the CLI passes another language's)."""
    name = res.strength_name
    lines = [] if res.lam_max is None else [f"lam_max = {res.lam_max:.6g}"]
    regression = res.task == "regression"
    for label, row in ((texts["best"], res.selected_best), (texts["one_se"], res.selected_1se)):
        if regression:
            lines.append(texts["row_regression"].format(
                label=label, name=name, strength=row["strength"], val_rmse=row["val_rmse"],
                val_loss=row["val_loss"], test_rmse=row["test_rmse"],
                features=row["features_in_use"]))
        else:
            lines.append(texts["row"].format(label=label, name=name, strength=row["strength"],
                                             val_acc=row["val_acc"], val_loss=row["val_loss"],
                                             test_acc=row["test_acc"],
                                             features=row["features_in_use"]))
    loss = (texts["squared_error" if regression else "log_loss"] if res.select_by == "loss"
            else texts["zero_one_loss"])
    lines.append(texts["se"].format(se=res.se, loss=loss))
    if regression and res.lam_max is not None and res.penalty == "l1":
        lines.append(texts["lasso_alpha"])
    if res.relaxed:
        lines.append(texts["relaxed"])
    return "\n".join(lines)

