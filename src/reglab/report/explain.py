"""``reglab explain``: the seed's five interview questions, each answered by a measurement.

Each topic runs one short, seeded experiment with the reglab core and writes a one-paragraph
answer *from the numbers it measured*: the paragraph's claims are phrased conditionally on
those numbers, never hard-coded. :func:`write_html` puts every answer, its numbers and its
figures on one self-contained page.

Example::

    from reglab.report.explain import explain, write_html
    results = explain(["dropout", "weight-decay"], quick=True)
    write_html(results, "explain.html")
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab._validation import check_choice

__all__ = ["Explanation", "QUESTIONS", "TOPICS", "explain", "main", "write_html"]


@dataclass
class Explanation:
    """One answered question: the paragraph, the numbers it was written from, and figures.

    Attributes:
        topic: key in :data:`TOPICS`, e.g. "l1-vs-l2".
        question: the seed's interview question (section 9), in English.
        answer: one paragraph built from ``numbers``.
        numbers: every measured value the paragraph quotes (floats).
        figures: (title, PNG bytes) pairs drawn with matplotlib's Agg backend.
        seconds: wall time of the experiment.
    """

    topic: str
    question: str
    answer: str
    numbers: dict[str, float]
    figures: list[tuple[str, bytes]] = field(default_factory=list)
    seconds: float = 0.0


# The seed's section 9, in its order (rendered from Vietnamese).
QUESTIONS = {
    "l1-vs-l2": "L1 vs L2: when should you use which?",
    "dropout": "How does dropout act in the forward and the backward pass?",
    "early-stopping": "Can early stopping cause underfitting?",
    "augmentation": "How does data augmentation reduce overfitting?",
    "weight-decay": "What is weight decay, and how does it differ from L2?",
}


# ---------------------------------------------------------------------------------------------
# Shared helpers


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Run with torch's global RNG seeded and one thread, restoring both afterwards."""
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)   # the numbers must not depend on the machine's core count
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def _figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (9.0, 3.2)):
    """A matplotlib Figure and its axes, without pyplot (no global state, Agg when saved)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False).ravel()


def _png(fig) -> bytes:
    """Render a Figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def _flat(X: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, D): the MLPs here see every input as a flat vector."""
    return X.reshape(X.shape[0], -1)


@torch.no_grad()
def _accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose arg-max logit is the label (model put in eval mode)."""
    model.eval()
    return float((model(X).argmax(1) == y).double().mean())


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(d_in, d_hidden), nn.ReLU(),
                         nn.Linear(d_hidden, d_out))


def _batches(n: int, batch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Index tensors for one shuffled pass over n rows."""
    yield from torch.randperm(n, generator=generator).split(batch)


# ---------------------------------------------------------------------------------------------
# 1. L1 vs L2 on the sparse data set


def _fit_linear(ds, kind: str, lam: float, steps: int, lr: float) -> nn.Linear:
    """Full-batch softmax regression: SGD + ProximalL1 (ISTA) for "l1", SGD + L2 loss for "l2".

    The proximal step alone minimizes L0 + lam * sum|w| and leaves exact zeros; adding the
    rl.L1 subgradient as well would count the penalty twice.
    """
    X, y = ds.train.X, ds.train.y
    model = nn.Linear(X.shape[1], ds.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    penalty = rl.L2(lam) if kind == "l2" else None
    handle = rl.ProximalL1(lam).attach(opt, model) if kind == "l1" else None
    for _ in range(steps):
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        if penalty is not None:
            loss = loss + penalty(model)
        loss.backward()
        opt.step()
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
        f"{prefix}_test_acc": _accuracy(model, ds.test.X, ds.test.y),
    }


def _pick_lambda(ds, kind: str, grid: list[float], steps: int, lr: float, seed: int):
    """Fit each lambda of the grid; keep the best validation accuracy (ties: the stronger)."""
    best = None
    for lam in grid:
        torch.manual_seed(seed)   # same initial weights for every candidate
        model = _fit_linear(ds, kind, lam, steps, lr)
        acc = _accuracy(model, ds.val.X, ds.val.y)
        if best is None or acc >= best[0]:
            best = (acc, lam, model)
    return best[1], best[2]


def _l1_vs_l2(seed: int, quick: bool) -> Explanation:
    """L1 (proximal) vs L2 softmax regression on "sparse": what each keeps, and accuracy."""
    ds = rl.data.load("sparse", seed=seed)
    steps = 150 if quick else 400
    l1_grid = [0.03] if quick else [0.01, 0.03, 0.1]
    l2_grid = [0.01] if quick else [0.001, 0.01, 0.1]
    lam1, m1 = _pick_lambda(ds, "l1", l1_grid, steps, 0.5, seed)
    lam2, m2 = _pick_lambda(ds, "l2", l2_grid, steps, 0.5, seed)
    n = {"n_features": float(ds.train.X.shape[1]), "n_informative": float(len(ds.informative)),
         "l1_lambda": lam1, "l2_lambda": lam2, **_selection(m1, ds, "l1"),
         **_selection(m2, ds, "l2")}
    return Explanation("l1-vs-l2", QUESTIONS["l1-vs-l2"], _l1_answer(n),
                       n, [("Largest |weight| per feature", _l1_figure(m1, m2, ds, n))])


def _l1_answer(n: dict[str, float]) -> str:
    more_sparse = n["l1_sparsity"] > n["l2_sparsity"]
    diff = n["l1_test_acc"] - n["l2_test_acc"]
    if abs(diff) < 0.01:
        acc = "about the same test accuracy"
    else:
        acc = f"{'higher' if diff > 0 else 'lower'} test accuracy for L1"
    text = (
        f"On the sparse data set ({n['n_features']:.0f} features, of which "
        f"{n['n_informative']:.0f} carry the signal), L1 (proximal, λ={n['l1_lambda']:g}) set "
        f"{_pct(n['l1_sparsity'])} of the weights exactly to zero against L2's "
        f"{_pct(n['l2_sparsity'])} (λ={n['l2_lambda']:g}, both λ chosen on validation). "
        f"L1 kept {n['l1_features_used']:.0f} features, {n['l1_informative_found']:.0f} of them "
        f"informative (precision {_pct(n['l1_precision'])}, recall {_pct(n['l1_recall'])}); "
        f"L2 kept {n['l2_features_used']:.0f} (precision {_pct(n['l2_precision'])}, recall "
        f"{_pct(n['l2_recall'])}). Test accuracy was {_pct(n['l1_test_acc'])} for L1 and "
        f"{_pct(n['l2_test_acc'])} for L2: {acc}. "
    )
    if more_sparse and n["l1_precision"] > n["l2_precision"]:
        text += ("So use L1 when you expect few inputs to matter and want the model to name "
                 "them (feature selection); use L2 when most inputs carry some signal and you "
                 "want small, stable weights, since it shrinks but does not select.")
    else:
        text += ("Here L1 did not select features better than L2, so its usual selling point "
                 "(sparsity, feature selection) did not show up at this λ.")
    return text


def _l1_figure(m1: nn.Linear, m2: nn.Linear, ds, n: dict[str, float]) -> bytes:
    fig, axes = _figure(nrows=2, size=(9.0, 4.6))
    informative = set(ds.informative.tolist())
    for ax, model, name in zip(axes, (m1, m2), ("L1 (proximal)", "L2")):
        w = model.weight.detach().abs().amax(0)                    # (F,)
        colors = ["tab:red" if i in informative else "tab:gray" for i in range(len(w))]
        ax.bar(range(len(w)), w.numpy(), color=colors, width=1.0)
        ax.set_ylabel("max |w|")
        ax.set_title(f"{name}: {_pct(n[name[:2].lower() + '_sparsity'])} exact zeros "
                     "(red: informative features)", fontsize=9)
    axes[-1].set_xlabel("feature")
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# 2. Dropout in the forward and the backward pass


def _dropout_pass(x: torch.Tensor, keep: float, seed: int):
    """One training-mode pass through rl.Dropout(keep=...): layer, output, input grad, mask."""
    layer = rl.Dropout(keep=keep, generator=torch.Generator().manual_seed(seed)).train()
    x = x.clone().requires_grad_(True)
    y = layer(x)
    y.sum().backward()                    # dL/dy = 1, so x.grad is the gate dy/dx
    mask = (y.detach() != 0).to(x.dtype)  # x has no zeros, so a zero output means dropped
    return layer, y.detach(), x.grad, mask


def _dropout(seed: int, quick: bool) -> Explanation:
    """Measure the mask, the 1/keep scaling, the gradient gate and eval-mode identity."""
    keep = 0.8
    g = torch.Generator().manual_seed(seed)
    rows = 200 if quick else 2000
    x = torch.rand(rows, 100, generator=g) + 0.5           # positive "activations", no zeros
    layer, y, grad, mask = _dropout_pass(x, keep, seed)
    with torch.no_grad():
        y_eval = layer.eval()(x)
    n = {
        "keep": keep,
        "n_activations": float(x.numel()),
        "fraction_kept": float(mask.mean()),
        "scale": 1 / keep,
        "max_output_error": float((y - x * mask / keep).abs().max()),
        "mean_ratio": float(y.mean() / x.mean()),
        "max_grad_error": float((grad - mask / keep).abs().max()),
        "dropped_grad_max": float(grad[mask == 0].abs().max()) if (mask == 0).any() else 0.0,
        "eval_max_diff": float((y_eval - x).abs().max()),
    }
    small = x[:6, :12]
    figure = _dropout_figure(small, y[:6, :12], grad[:6, :12], y_eval[:6, :12])
    return Explanation("dropout", QUESTIONS["dropout"], _dropout_answer(n), n,
                       [("One 6 x 12 corner of the batch, train and eval", figure)])


def _dropout_answer(n: dict[str, float]) -> str:
    exact = n["max_grad_error"] == 0
    preserved = ("so the expected activation is preserved" if abs(n["mean_ratio"] - 1) < 0.02
                 else "further from 1 than sampling noise explains")
    grad = "exactly" if exact else f"to within {n['max_grad_error']:.1e}"
    blocked = " (no update through them this step)" if n["dropped_grad_max"] == 0 else ""
    identity = "is the identity" if n["eval_max_diff"] == 0 else "changed the input"
    return (
        f"Forward, in training mode: rl.Dropout(keep={n['keep']:g}) multiplied each of "
        f"{n['n_activations']:.0f} activations by a Bernoulli({n['keep']:g}) mask d_i and by "
        f"1/keep = {n['scale']:.3g}; it kept {_pct(n['fraction_kept'])} of them, and the output "
        f"was x·d/keep to within {n['max_output_error']:.1e}. Because of the 1/keep scaling the "
        f"mean activation was {n['mean_ratio']:.3f} times the input's, {preserved}. "
        f"Backward: the same mask gates the gradient: x.grad equalled mask/keep {grad}; "
        f"dropped units got gradient {n['dropped_grad_max']:g}{blocked}"
        f"{' and kept units got exactly 1/keep' if exact else ''}. "
        f"In eval mode the layer {identity} (max |y − x| = {n['eval_max_diff']:g}), so nothing "
        f"has to be rescaled at test time."
    )


def _dropout_figure(x, y, grad, y_eval) -> bytes:
    fig, axes = _figure(ncols=4, size=(11.0, 2.6))
    panels = [("input x", x), ("train output x·d/keep", y), ("x.grad (= d/keep)", grad),
              ("eval output (= x)", y_eval)]
    vmax = float(max(p.max() for _, p in panels))
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img.numpy(), cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# 3. Early stopping can underfit


def _train_curve(ds, epochs: int, seed: int):
    """Train one MLP for `epochs` epochs; return per-epoch losses and a snapshot per epoch.

    Small batches and a large learning rate make the validation loss noisy on purpose.
    """
    g = torch.Generator().manual_seed(seed)
    model = _mlp(ds.train.X[0].numel(), 32, ds.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    X, y = ds.train.X, ds.train.y
    val, train, states = [], [], []
    for _ in range(epochs):
        model.train()
        for idx in _batches(len(y), 16, g):
            opt.zero_grad()
            F.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            train.append(float(F.cross_entropy(model(X), y)))
            val.append(float(F.cross_entropy(model(ds.val.X), ds.val.y)))
        states.append(copy.deepcopy(model.state_dict()))
    return model, train, val, states


def _stop_points(val: list[float], patience: int) -> tuple[int, int]:
    """Feed the validation losses to rl.EarlyStopping: (epochs trained, best epoch)."""
    es = rl.EarlyStopping(monitor="val_loss", patience=patience, restore_best=False)
    for epoch, v in enumerate(val):
        if es.step({"val_loss": v}):
            return epoch + 1, int(es.best_epoch)
    return len(val), int(es.best_epoch)


def _early_stopping(seed: int, quick: bool) -> Explanation:
    """Patience 1 vs 15 vs none, all read off one shared training run."""
    ds = rl.data.load("digits", seed=seed)
    epochs = 20 if quick else 60
    model, train, val, states = _train_curve(ds, epochs, seed)
    n: dict[str, float] = {"max_epochs": float(epochs)}
    arms = {"p1": 1, "p15": 15, "none": None}
    for arm, patience in arms.items():
        ran, best = (epochs, epochs - 1) if patience is None else _stop_points(val, patience)
        model.load_state_dict(states[best])    # the early-stopped arms restore their best
        n[f"{arm}_epochs"] = float(ran)
        n[f"{arm}_best_epoch"] = float(best)
        n[f"{arm}_train_acc"] = _accuracy(model, ds.train.X, ds.train.y)
        n[f"{arm}_test_acc"] = _accuracy(model, ds.test.X, ds.test.y)
    figure = _early_stopping_figure(train, val, n)
    return Explanation("early-stopping", QUESTIONS["early-stopping"],
                       _early_stopping_answer(n), n,
                       [("Loss curves of the shared run, with each rule's stop", figure)])


def _early_stopping_answer(n: dict[str, float]) -> str:
    underfit = n["p1_train_acc"] < n["p15_train_acc"] - 0.02
    text = (
        f"All three rules read the same training run (same seed, same batches, noisy "
        f"validation loss from small batches). With patience 1, training stopped after "
        f"{n['p1_epochs']:.0f} epochs (best epoch {n['p1_best_epoch']:.0f}) at "
        f"{_pct(n['p1_train_acc'])} training and {_pct(n['p1_test_acc'])} test accuracy; "
        f"with patience 15 it ran {n['p15_epochs']:.0f} epochs (best epoch "
        f"{n['p15_best_epoch']:.0f}) and reached {_pct(n['p15_train_acc'])} training and "
        f"{_pct(n['p15_test_acc'])} test accuracy; without early stopping, "
        f"{n['none_epochs']:.0f} epochs gave {_pct(n['none_train_acc'])} and "
        f"{_pct(n['none_test_acc'])}. "
    )
    if underfit:
        text += (
            f"So yes: the tiny patience took the first bump of the noisy validation loss for "
            f"the minimum and stopped before the model had fit the training data "
            f"({100 * (n['p15_train_acc'] - n['p1_train_acc']):.1f} points of training "
            f"accuracy short), which is underfitting caused by early stopping. "
        )
    else:
        text += ("Here even patience 1 did not stop before the model fit the training data, "
                 "so it did not underfit on this run. ")
    gain = n["p15_test_acc"] - n["none_test_acc"]
    text += (f"A sensible patience {'gained' if gain >= 0 else 'lost'} "
             f"{abs(100 * gain):.1f} points of test accuracy against training to the end.")
    return text


def _early_stopping_figure(train: list[float], val: list[float], n: dict[str, float]) -> bytes:
    fig, (ax,) = _figure(size=(8.0, 3.4))
    ax.plot(train, label="training loss")
    ax.plot(val, label="validation loss")
    for arm, color in (("p1", "tab:red"), ("p15", "tab:green")):
        ax.axvline(n[f"{arm}_epochs"] - 1, color=color, linestyle="--",
                   label=f"patience {arm[1:]} stops (best epoch {n[f'{arm}_best_epoch']:.0f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# 4. Augmentation and the generalization gap


# The 1-D counterparts of the seed's rotation, scaling and noise (mnist1d is a signal data
# set): shift up to 10% of the length, amplitude x U[0.8, 1.2], noise of 0.1 std.
_SHIFT, _AMPLITUDE, _NOISE = 0.1, (0.8, 1.2), 0.1


def _augmentation_pipeline(seed: int):
    from reglab import augment as A

    return A.Compose([A.Shift(_SHIFT), A.AmplitudeScale(*_AMPLITUDE), A.GaussianNoise(_NOISE)],
                     seed=seed)


def _fit_subset(ds, idx: torch.Tensor, augment, steps: int, seed: int) -> tuple[float, float]:
    """Train an MLP on train rows `idx` for a fixed number of steps: (train acc, test acc)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    X, y = ds.train.X[idx], ds.train.y[idx]
    model = _mlp(X[0].numel(), 128, ds.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    done = 0
    while done < steps:
        for b in _batches(len(y), 32, g):
            model.train()
            xb = X[b] if augment is None else augment(X[b])
            opt.zero_grad()
            F.cross_entropy(model(xb), y[b]).backward()
            opt.step()
            done += 1
            if done == steps:
                break
    # The gap is measured on the clean training rows, the ones the model was fit to.
    return _accuracy(model, X, y), _accuracy(model, ds.test.X, ds.test.y)


def _augmentation(seed: int, quick: bool) -> Explanation:
    """Train-test gap against training-set size, with and without shift + scale + noise.

    mnist1d, not digits: on 8 x 8 digits, rotation and scaling mostly blur the images and
    moved the gap by a point or two; mnist1d's signals are shifted and scaled by construction,
    so the transforms match how the data varies.
    """
    ds = rl.data.load("mnist1d", seed=seed)
    full = len(ds.train)
    sizes = [300, 1000] if quick else [300, 1000, full]
    steps = 150 if quick else 800
    order = torch.randperm(full, generator=torch.Generator().manual_seed(seed))
    n: dict[str, float] = {"steps": float(steps)}
    for size in sizes:
        for arm in ("plain", "aug"):
            augment = _augmentation_pipeline(seed) if arm == "aug" else None
            train, test = _fit_subset(ds, order[:size], augment, steps, seed)
            n[f"{arm}_{size}_train_acc"] = train
            n[f"{arm}_{size}_test_acc"] = test
            n[f"{arm}_{size}_gap"] = train - test
    figure = _augmentation_figure(sizes, n)
    return Explanation("augmentation", QUESTIONS["augmentation"],
                       _augmentation_answer(sizes, n), n,
                       [("Generalization gap and test accuracy against training-set size",
                         figure)])


def _augmentation_answer(sizes: list[int], n: dict[str, float]) -> str:
    def row(arm: str) -> str:
        return ", ".join(f"{_pct(n[f'{arm}_{s}_gap'])} at n={s}" for s in sizes)

    narrower = [s for s in sizes if n[f"aug_{s}_gap"] < n[f"plain_{s}_gap"]]
    best = max(sizes, key=lambda s: n[f"plain_{s}_gap"] - n[f"aug_{s}_gap"])
    shrink = all(n[f"plain_{a}_gap"] >= n[f"plain_{b}_gap"] for a, b in zip(sizes, sizes[1:]))
    text = (
        f"Augmentation turns each training example into a family of examples, so the model "
        f"can no longer memorize the exact inputs. Measured on mnist1d signals with random "
        f"shifts up to {_pct(_SHIFT)} of the length, amplitude scaling {_AMPLITUDE[0]:g}-"
        f"{_AMPLITUDE[1]:g} and Gaussian noise {_NOISE:g} (the 1-D forms of the seed's rotation, "
        f"scaling and noise), the same MLP and {n['steps']:.0f} steps: the train-test accuracy "
        f"gap without augmentation was {row('plain')}; with augmentation it was {row('aug')}. "
        f"Augmentation narrowed the gap at {len(narrower)} of {len(sizes)} training-set sizes"
    )
    if narrower:
        text += (f", most at n={best} (from {_pct(n[f'plain_{best}_gap'])} to "
                 f"{_pct(n[f'aug_{best}_gap'])}, test accuracy {_pct(n[f'plain_{best}_test_acc'])}"
                 f" → {_pct(n[f'aug_{best}_test_acc'])})")
    text += (f". Without augmentation the gap {'shrank' if shrink else 'did not shrink steadily'}"
             " as the training set grew")
    if narrower and shrink and best == sizes[0]:
        text += (", and augmentation helped most at the smallest size: it acts like extra "
                 "data, and matters most when data is scarce")
    return text + "."


def _augmentation_figure(sizes: list[int], n: dict[str, float]) -> bytes:
    fig, axes = _figure(ncols=2, size=(9.0, 3.2))
    for arm, label in (("plain", "no augmentation"), ("aug", "rotate + scale + noise")):
        axes[0].plot(sizes, [n[f"{arm}_{s}_gap"] for s in sizes], marker="o", label=label)
        axes[1].plot(sizes, [n[f"{arm}_{s}_test_acc"] for s in sizes], marker="o", label=label)
    axes[0].set_ylabel("train acc − test acc")
    axes[1].set_ylabel("test accuracy")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training-set size")
        ax.legend(fontsize=8)
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# 5. Weight decay vs L2


def _trajectory(ds, make_opt, extra, steps: int, seed: int):
    """Train a float64 linear model; return the stacked flat weights after every step."""
    torch.manual_seed(seed)
    model = nn.Linear(ds.train.X[0].numel(), ds.num_classes).double()
    opt = make_opt(model)
    penalty, handle = extra(model, opt)
    X, y = _flat(ds.train.X).double(), ds.train.y
    g = torch.Generator().manual_seed(seed)
    path = []
    while len(path) < steps:
        for idx in _batches(len(y), 64, g):
            opt.zero_grad()
            loss = F.cross_entropy(model(X[idx]), y[idx])
            if penalty is not None:
                loss = loss + penalty(model)
            loss.backward()
            opt.step()
            path.append(torch.cat([p.detach().ravel() for p in model.parameters()]))
            if len(path) == steps:
                break
    if handle is not None:
        handle.remove()
    test_acc = _accuracy(model, _flat(ds.test.X).double(), ds.test.y)
    return torch.stack(path), test_acc


def _weight_decay_arms(wd: float, lr_sgd: float, lr_adam: float):
    """The six optimizers compared, each as (optimizer factory, extra-term factory)."""
    everything = lambda name, p: True   # noqa: E731  torch's weight_decay touches all params
    none = lambda model, opt: (None, None)  # noqa: E731
    l2 = lambda model, opt: (rl.L2(wd / 2, params=everything), None)  # noqa: E731
    dwd = lambda model, opt: (  # noqa: E731
        None, rl.DecoupledWeightDecay(wd, params=everything).attach(opt, model))
    sgd = lambda **kw: lambda m: torch.optim.SGD(m.parameters(), lr=lr_sgd, **kw)  # noqa: E731
    adam = lambda **kw: lambda m: torch.optim.Adam(m.parameters(), lr=lr_adam, **kw)  # noqa: E731
    return {
        "sgd_wd": (sgd(weight_decay=wd), none),
        "sgd_l2": (sgd(), l2),
        "adam_wd": (adam(weight_decay=wd), none),
        "adam_l2": (adam(), l2),
        "adamw": (lambda m: torch.optim.AdamW(m.parameters(), lr=lr_adam, weight_decay=wd),
                  none),
        "adam_dwd": (adam(), dwd),
    }


def _weight_decay(seed: int, quick: bool) -> Explanation:
    """SGD wd == SGD + L2(wd/2) to rounding; Adam + L2 != AdamW; all in float64."""
    ds = rl.data.load("digits", seed=seed)
    wd, steps = 0.05, (100 if quick else 600)
    paths, accs = {}, {}
    for arm, (make_opt, extra) in _weight_decay_arms(wd, lr_sgd=0.1, lr_adam=0.01).items():
        paths[arm], accs[arm] = _trajectory(ds, make_opt, extra, steps, seed)

    def diff(a: str, b: str) -> torch.Tensor:
        return (paths[a] - paths[b]).abs().amax(1)             # (steps,)

    n = {"weight_decay": wd, "l2_lambda": wd / 2, "steps": float(steps),
         "sgd_max_diff": float(diff("sgd_wd", "sgd_l2").max()),
         "adam_wd_vs_l2_max_diff": float(diff("adam_wd", "adam_l2").max()),
         "adam_l2_vs_adamw_max_diff": float(diff("adam_l2", "adamw").max()),
         "adamw_vs_dwd_max_diff": float(diff("adamw", "adam_dwd").max())}
    for arm in ("sgd_wd", "adam_l2", "adamw", "adam_dwd"):
        n[f"{arm}_norm"] = float(paths[arm][-1].norm())
        n[f"{arm}_test_acc"] = accs[arm]
    figure = _weight_decay_figure(diff, paths)
    return Explanation("weight-decay", QUESTIONS["weight-decay"], _weight_decay_answer(n), n,
                       [("Distance between trajectories, and weight norms, per step", figure)])


def _weight_decay_answer(n: dict[str, float]) -> str:
    same_sgd = n["sgd_max_diff"] < 1e-10
    same_adam = n["adam_wd_vs_l2_max_diff"] < 1e-10
    differ = n["adam_l2_vs_adamw_max_diff"] > 1e-6
    smaller = "smaller" if n["adamw_norm"] < n["adam_l2_norm"] else "larger"
    text = (
        f"Weight decay shrinks the weights inside the update, w ← w − lr·wd·w; L2 adds "
        f"λ·Σw² to the loss, whose gradient 2λw gives the same shrink when λ = wd/2 (the "
        f"seed's L2 has no ½). Measured in float64 over {n['steps']:.0f} steps with wd = "
        f"{n['weight_decay']:g}: SGD(weight_decay={n['weight_decay']:g}) and SGD + "
        f"L2({n['l2_lambda']:g}) stayed within {n['sgd_max_diff']:.1e} of each other, "
        f"{'the same trajectory up to rounding' if same_sgd else 'not the same trajectory'}. "
        f"torch's Adam(weight_decay=...) matched Adam + L2 to {n['adam_wd_vs_l2_max_diff']:.1e}"
        f"{', so it is L2, not decoupled decay' if same_adam else ''}. With Adam, "
        f"the L2 gradient is divided by Adam's running scale like any other gradient, so "
        f"AdamW's decoupled decay {'is' if differ else 'made no difference here, though it is'} "
        f"a different method: "
        f"Adam + L2 and AdamW drifted apart by up to {n['adam_l2_vs_adamw_max_diff']:.3g} per "
        f"weight, ending with weight norms {n['adam_l2_norm']:.3g} (Adam + L2) and "
        f"{n['adamw_norm']:.3g} (AdamW, {smaller}) and test accuracies "
        f"{_pct(n['adam_l2_test_acc'])} and {_pct(n['adamw_test_acc'])}. "
        f"Adam + rl.DecoupledWeightDecay({n['weight_decay']:g}) stayed within "
        f"{n['adamw_vs_dwd_max_diff']:.1e} of AdamW"
        f"{', the same method' if n['adamw_vs_dwd_max_diff'] < 1e-10 else ''}."
    )
    return text


def _weight_decay_figure(diff, paths) -> bytes:
    fig, axes = _figure(ncols=2, size=(10.0, 3.4))
    floor = 1e-18   # exact agreement would vanish from a log axis
    for a, b, label in (("sgd_wd", "sgd_l2", "SGD(wd) vs SGD + L2(wd/2)"),
                        ("adam_wd", "adam_l2", "Adam(wd) vs Adam + L2(wd/2)"),
                        ("adam_l2", "adamw", "Adam + L2(wd/2) vs AdamW(wd)")):
        axes[0].plot(diff(a, b).clamp_min(floor).numpy(), label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("max |Δw|")
    for arm, label in (("sgd_wd", "SGD(wd)"), ("adam_l2", "Adam + L2"), ("adamw", "AdamW")):
        axes[1].plot(paths[arm].norm(dim=1).numpy(), label=label)
    axes[1].set_ylabel("‖w‖")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# Running, the HTML page and the CLI entry point


TOPICS: dict[str, Callable[[int, bool], Explanation]] = {
    "l1-vs-l2": _l1_vs_l2,
    "dropout": _dropout,
    "early-stopping": _early_stopping,
    "augmentation": _augmentation,
    "weight-decay": _weight_decay,
}


def _check_topics(topics: str | Iterable[str] | None) -> list[str]:
    if topics is None:
        return list(TOPICS)
    topics = [topics] if isinstance(topics, str) else list(topics)
    return [check_choice("explain", "topic", t, TOPICS) for t in topics]


def explain(topics: str | Iterable[str] | None = None, out: str | Path | None = None,
            quick: bool = False, seed: int = 0,
            progress: Callable[[str], None] | None = None) -> list[Explanation]:
    """Run the experiments of ``topics`` (all five by default); optionally write the HTML page.

    Args:
        topics: keys of :data:`TOPICS` (one string or several); None runs all, in order.
        out: where to write the HTML page, or None for no file.
        quick: reduced sizes (seconds per topic) for tests and smoke runs.
        seed: seeds data splits, initial weights, batches and masks.
        progress: called with one line before each topic starts, and with the topic's
            answer paragraph when it ends.

    Example::

        [e] = explain("weight-decay", quick=True)
        e.numbers["sgd_max_diff"]        # about 1e-16: SGD weight decay is L2 with lam = wd/2
    """
    names = _check_topics(topics)
    results = []
    for i, name in enumerate(names, 1):
        if progress is not None:
            progress(f"[{i}/{len(names)}] {name}: {QUESTIONS[name]}")
        start = time.perf_counter()
        with _seeded(seed):
            result = TOPICS[name](seed, quick)
        results.append(replace(result, seconds=time.perf_counter() - start))
        if progress is not None:
            progress(result.answer)
    if out is not None:
        write_html(results, out, seed=seed, quick=quick)
    return results


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reglab explain</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
h1 { margin-bottom: 0.2rem; }
nav a { margin-right: 1rem; }
section { border-top: 1px solid #ccc; margin-top: 2rem; padding-top: 0.5rem; }
p.answer { font-size: 1.05rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 1rem 0; }
td, th { border: 1px solid #ddd; padding: 0.15rem 0.6rem; text-align: left; }
td.num { text-align: right; font-family: ui-monospace, monospace; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; }
figcaption, .meta { color: #666; font-size: 0.85rem; }
</style>
</head>
<body>
<h1>reglab explain</h1>
<p class="meta">The interview questions of the seed note (section 9), each answered by a
short experiment. Every sentence below is written from the numbers measured on this run
(seed {{ seed }}{% if quick %}, reduced sizes{% endif %}); reglab {{ version }}.</p>
<nav>{% for e in explanations %}<a href="#{{ e.topic }}">{{ e.topic }}</a>{% endfor %}</nav>
{% for e in explanations %}
<section id="{{ e.topic }}" class="topic">
<h2>{{ e.question }}</h2>
<p class="answer">{{ e.answer }}</p>
{% for title, data in e.images %}
<figure><img src="data:image/png;base64,{{ data }}" alt="{{ title }}">
<figcaption>{{ title }}</figcaption></figure>
{% endfor %}
<details><summary>Measured numbers ({{ e.numbers | length }})</summary>
<table><tr><th>name</th><th>value</th></tr>
{% for key, value in e.numbers.items() %}
<tr><td>{{ key }}</td><td class="num">{{ "%.6g" | format(value) }}</td></tr>
{% endfor %}</table></details>
<p class="meta">topic <code>{{ e.topic }}</code>, ran in {{ "%.1f" | format(e.seconds) }} s</p>
</section>
{% endfor %}
</body>
</html>
"""


def write_html(explanations: list[Explanation], path: str | Path, seed: int = 0,
               quick: bool = False) -> Path:
    """Write one self-contained HTML page (figures as base64 PNG data URIs), atomically.

    Rendered with Jinja2 autoescaping; written to a temporary file in the same folder, then
    moved over ``path`` with ``os.replace`` so a reader never sees half a page.

    Example::

        write_html(explain("dropout", quick=True), "explain.html")
    """
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    items = [{"topic": e.topic, "question": e.question, "answer": e.answer,
              "numbers": e.numbers, "seconds": e.seconds,
              "images": [(t, base64.b64encode(png).decode("ascii")) for t, png in e.figures]}
             for e in explanations]
    html = env.from_string(_PAGE).render(explanations=items, seed=seed, quick=quick,
                                         version=rl.__version__)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def main(topic: str | None, out: Path, quick: bool, echo: Callable[[str], None]) -> int:
    """CLI entry point of ``reglab explain [TOPIC] [--out PATH] [--quick]``; returns 0.

    Raises:
        InvalidParameterError: ``topic`` is not a key of :data:`TOPICS` (the CLI prints the
            one-line message, which lists the topics, and exits 2).
    """
    explain(topic, out=out, quick=quick, progress=echo)
    echo(f"Wrote {out}")
    return 0
