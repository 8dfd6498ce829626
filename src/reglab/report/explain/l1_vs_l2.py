"""L1 vs L2: proximal L1 and L2 softmax regression on "sparse": what each keeps, and accuracy."""

from __future__ import annotations

import torch
from torch import nn

import reglab as rl
from reglab.report.explain._shared import Explanation, figure, pct, pcts, png
from reglab.report.i18n import t
from reglab.train import evaluate, train_one_epoch

__all__ = ["measure"]

TOPIC = "l1-vs-l2"


def _fit_linear(ds, kind: str, lam: float, steps: int, lr: float, seed: int) -> nn.Linear:
    """Full-batch softmax regression: SGD + ProximalL1 (ISTA) for "l1", SGD + L2 loss for "l2".

    The proximal step alone minimizes L0 + lam * sum|w| and leaves exact zeros; adding the
    rl.L1 subgradient as well would count the penalty twice. Trained by ``train_one_epoch``
    with one batch of every row, so each epoch is one gradient step. Not ``fit``: a RunSpec's
    SGD has momentum 0.9, and a heavy-ball step followed by the prox settles where
    ``L0 + (1 - 0.9) * lam * sum|w|`` is smallest, not at the lam this answer quotes.
    """
    X, y = ds.train.X, ds.train.y
    model = nn.Linear(X.shape[1], ds.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    penalty = rl.L2(lam) if kind == "l2" else None
    handle = rl.ProximalL1(lam).attach(opt, model) if kind == "l1" else None
    order = torch.Generator().manual_seed(seed)
    try:
        for _ in range(steps):
            train_one_epoch(model, X, y, opt, batch_size=len(y), generator=order,
                            num_classes=ds.num_classes, penalty=penalty)
    finally:
        if handle is not None:
            handle.remove()
    return model


def _selection(model: nn.Linear, ds, prefix: str) -> dict[str, float]:
    """Sparsity, features in use, precision/recall against ds.informative, test accuracy."""
    W = model.weight.detach()                                  # (C, F)
    used = (W != 0).any(0)                                     # (F,) feature has any weight
    informative = torch.zeros_like(used)
    informative[ds.informative] = True
    hits = int((used & informative).sum())
    n_used = int(used.sum())
    return {
        f"{prefix}_sparsity": float((W == 0).double().mean()),
        f"{prefix}_features_used": float(n_used),
        f"{prefix}_informative_found": float(hits),
        f"{prefix}_precision": hits / n_used if n_used else 0.0,
        f"{prefix}_recall": hits / int(informative.sum()),
        f"{prefix}_test_acc": evaluate(model, ds.test.X, ds.test.y)[1],
    }


def _pick_lambda(ds, kind: str, grid: list[float], steps: int, lr: float, seed: int):
    """Fit each lambda of the grid; keep the best validation accuracy (ties: the stronger)."""
    best = None
    for lam in grid:
        torch.manual_seed(seed)   # same initial weights for every candidate
        model = _fit_linear(ds, kind, lam, steps, lr, seed)
        acc = evaluate(model, ds.val.X, ds.val.y)[1]
        if best is None or acc >= best[0]:
            best = (acc, lam, model)
    return best[1], best[2]


def measure(seed: int, quick: bool, lang: str = "en") -> Explanation:
    """Fit L1 (proximal) and L2 softmax regression on "sparse"; compare what they keep."""
    ds = rl.data.load("sparse", seed=seed)
    steps = 150 if quick else 400
    l1_grid = [0.03] if quick else [0.01, 0.03, 0.1]
    l2_grid = [0.01] if quick else [0.001, 0.01, 0.1]
    lam1, m1 = _pick_lambda(ds, "l1", l1_grid, steps, 0.5, seed)
    lam2, m2 = _pick_lambda(ds, "l2", l2_grid, steps, 0.5, seed)
    n = {"n_features": float(ds.train.X.shape[1]), "n_informative": float(len(ds.informative)),
         "l1_lambda": lam1, "l2_lambda": lam2, **_selection(m1, ds, "l1"),
         **_selection(m2, ds, "l2")}
    return Explanation(TOPIC, t(f"explain.{TOPIC}.question", lang), _answer(n, lang), n,
                       [(t(f"explain.{TOPIC}.fig.title", lang), _figure(m1, m2, ds, n, lang))])


def _answer(n: dict[str, float], lang: str = "en") -> str:
    more_sparse = n["l1_sparsity"] > n["l2_sparsity"]
    diff = n["l1_test_acc"] - n["l2_test_acc"]
    acc = "acc_same" if abs(diff) < 0.01 else ("acc_higher" if diff > 0 else "acc_lower")
    text = t(f"explain.{TOPIC}.result", lang, n=n, p=pcts(n),
             acc=t(f"explain.{TOPIC}.{acc}", lang))
    selects = more_sparse and n["l1_precision"] > n["l2_precision"]
    return text + t(f"explain.{TOPIC}.{'selects' if selects else 'no_select'}", lang)


def _figure(m1: nn.Linear, m2: nn.Linear, ds, n: dict[str, float], lang: str = "en") -> bytes:
    fig, axes = figure(nrows=2, size=(9.0, 4.6))
    informative = set(ds.informative.tolist())
    names = (("l1", t(f"explain.{TOPIC}.fig.l1", lang)), ("l2", "L2"))
    for ax, model, (prefix, name) in zip(axes, (m1, m2), names):
        w = model.weight.detach().abs().amax(0)                    # (F,)
        colors = ["tab:red" if i in informative else "tab:gray" for i in range(len(w))]
        ax.bar(range(len(w)), w.numpy(), color=colors, width=1.0)
        ax.set_ylabel("max |w|")
        ax.set_title(t(f"explain.{TOPIC}.fig.panel", lang, name=name,
                       zeros=pct(n[f"{prefix}_sparsity"])), fontsize=9)
    axes[-1].set_xlabel(t(f"explain.{TOPIC}.fig.feature", lang))
    return png(fig)
