"""Can early stopping underfit? Patience 1 vs 15 vs none, each a real run of the lab's ``fit``.

The three runs share one RunSpec but their patience: same seed, same initial weights, same
batches, so their curves agree epoch by epoch until a rule stops one of them. Small batches
and a large learning rate make the validation loss noisy on purpose.
"""

from __future__ import annotations

import reglab as rl
from reglab._epochs import shown_epoch
from reglab.lab.spec import RunSpec
from reglab.report.explain._shared import Explanation, figure, pcts, png
from reglab.report.i18n import prefixed, t
from reglab.train import RunResult, fit

__all__ = ["measure"]

TOPIC = "early-stopping"
ARMS = {"p1": 1, "p15": 15, "none": 0}      # arm -> patience (0: no early stopping)


def _runs(ds, epochs: int, seed: int) -> dict[str, RunResult]:
    """One ``fit`` per arm: an MLP (32 hidden) with SGD (lr 0.03, momentum 0.9), batch 16."""
    spec = RunSpec(data=ds.name, model="mlp", hidden=(32,), optimizer="sgd", lr=0.03,
                   epochs=epochs, batch_size=16, seed=seed)
    return {arm: fit(spec.replace(patience=p), ds) for arm, p in ARMS.items()}


def _stop_points(val: list[float], patience: int) -> tuple[int, int]:
    """Feed the validation losses to rl.EarlyStopping: (epochs trained, best epoch, as shown)."""
    es = rl.EarlyStopping(monitor="val_loss", patience=patience, restore_best=False)
    for epoch, v in enumerate(val):
        if es.step({"val_loss": v}):
            return epoch + 1, shown_epoch(es.best_epoch)
    return len(val), shown_epoch(es.best_epoch)


def measure(seed: int, quick: bool, lang: str = "en") -> Explanation:
    """Train the three arms; read stops, best epochs and accuracies off their results."""
    ds = rl.data.load("digits", seed=seed)
    epochs = 20 if quick else 60
    runs = _runs(ds, epochs, seed)
    n: dict[str, float] = {"max_epochs": float(epochs)}
    for arm, run in runs.items():
        n[f"{arm}_epochs"] = float(run.final["epochs_trained"])
        n[f"{arm}_best_epoch"] = float(shown_epoch(run.final["best_epoch"]))  # as people count
        n[f"{arm}_train_acc"] = run.final["train_acc"]   # on the weights the rule restored
        n[f"{arm}_test_acc"] = run.final["test_acc"]
    # The stops fit made must be those of rl.EarlyStopping replayed on the full run's curve.
    val = [row["val_loss"] for row in runs["none"].epochs]
    n["replay_agrees"] = float(all(
        _stop_points(val, p) == (n[f"{arm}_epochs"], n[f"{arm}_best_epoch"])
        for arm, p in ARMS.items() if p))
    train = [row["data_loss"] for row in runs["none"].epochs]
    return Explanation(TOPIC, t(f"explain.{TOPIC}.question", lang), _answer(n, lang), n,
                       [(t(f"explain.{TOPIC}.fig.title", lang), _figure(train, val, n, lang))])


def _answer(n: dict[str, float], lang: str = "en") -> str:
    k = prefixed(f"explain.{TOPIC}", lang)
    underfit = n["p1_train_acc"] < n["p15_train_acc"] - 0.02
    text = k("result", n=n, p=pcts(n))
    if underfit:
        text += k("underfit", short=100 * (n["p15_train_acc"] - n["p1_train_acc"]))
    else:
        text += k("no_underfit")
    gain = n["p15_test_acc"] - n["none_test_acc"]
    return text + k("gained" if gain >= 0 else "lost", points=abs(100 * gain))


def _figure(train: list[float], val: list[float], n: dict[str, float], lang: str = "en"
            ) -> bytes:
    k = prefixed(f"explain.{TOPIC}.fig", lang)
    fig, (ax,) = figure(size=(8.0, 3.4))
    x = [shown_epoch(i) for i in range(len(val))]  # the x axis counts epochs from 1
    ax.plot(x, train, label=k("train"))
    ax.plot(x, val, label=k("val"))
    for arm, color in (("p1", "tab:red"), ("p15", "tab:green")):
        ax.axvline(n[f"{arm}_epochs"], color=color, linestyle="--",  # the last epoch trained
                   label=k("stop", patience=arm[1:], best=n[f"{arm}_best_epoch"]))
    ax.set_xlabel(k("epoch"))
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return png(fig)
