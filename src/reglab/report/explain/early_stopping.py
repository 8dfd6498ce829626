"""Can early stopping underfit? Patience 1 vs 15 vs none, each a real run of the lab's ``fit``.

The three runs share one RunSpec but their patience: same seed, same initial weights, same
batches, so their curves agree epoch by epoch until a rule stops one of them. Small batches
and a large learning rate make the validation loss noisy on purpose.
"""

from __future__ import annotations

import reglab as rl
from reglab.lab.spec import RunSpec
from reglab.report.explain._shared import QUESTIONS, Explanation, figure, pct, png
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
    """Feed the validation losses to rl.EarlyStopping: (epochs trained, best epoch)."""
    es = rl.EarlyStopping(monitor="val_loss", patience=patience, restore_best=False)
    for epoch, v in enumerate(val):
        if es.step({"val_loss": v}):
            return epoch + 1, int(es.best_epoch)
    return len(val), int(es.best_epoch)


def measure(seed: int, quick: bool) -> Explanation:
    """Train the three arms; read stops, best epochs and accuracies off their results."""
    ds = rl.data.load("digits", seed=seed)
    epochs = 20 if quick else 60
    runs = _runs(ds, epochs, seed)
    n: dict[str, float] = {"max_epochs": float(epochs)}
    for arm, run in runs.items():
        n[f"{arm}_epochs"] = float(run.final["epochs_trained"])
        n[f"{arm}_best_epoch"] = float(run.final["best_epoch"])
        n[f"{arm}_train_acc"] = run.final["train_acc"]   # on the weights the rule restored
        n[f"{arm}_test_acc"] = run.final["test_acc"]
    # The stops fit made must be those of rl.EarlyStopping replayed on the full run's curve.
    val = [row["val_loss"] for row in runs["none"].epochs]
    n["replay_agrees"] = float(all(
        _stop_points(val, p) == (n[f"{arm}_epochs"], n[f"{arm}_best_epoch"])
        for arm, p in ARMS.items() if p))
    train = [row["data_loss"] for row in runs["none"].epochs]
    return Explanation(TOPIC, QUESTIONS[TOPIC], _answer(n), n,
                       [("Loss curves of the full run, with each rule's stop",
                         _figure(train, val, n))])


def _answer(n: dict[str, float]) -> str:
    underfit = n["p1_train_acc"] < n["p15_train_acc"] - 0.02
    text = (
        f"The three arms are one run up to their stopping rule (same seed, same batches, "
        f"noisy validation loss from small batches). With patience 1, training stopped after "
        f"{n['p1_epochs']:.0f} epochs (best epoch {n['p1_best_epoch']:.0f}) at "
        f"{pct(n['p1_train_acc'])} training and {pct(n['p1_test_acc'])} test accuracy; "
        f"with patience 15 it ran {n['p15_epochs']:.0f} epochs (best epoch "
        f"{n['p15_best_epoch']:.0f}) and reached {pct(n['p15_train_acc'])} training and "
        f"{pct(n['p15_test_acc'])} test accuracy; without early stopping, "
        f"{n['none_epochs']:.0f} epochs gave {pct(n['none_train_acc'])} and "
        f"{pct(n['none_test_acc'])}. "
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


def _figure(train: list[float], val: list[float], n: dict[str, float]) -> bytes:
    fig, (ax,) = figure(size=(8.0, 3.4))
    ax.plot(train, label="training loss (mean over the epoch's batches)")
    ax.plot(val, label="validation loss")
    for arm, color in (("p1", "tab:red"), ("p15", "tab:green")):
        ax.axvline(n[f"{arm}_epochs"] - 1, color=color, linestyle="--",
                   label=f"patience {arm[1:]} stops (best epoch {n[f'{arm}_best_epoch']:.0f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return png(fig)
