"""Per-epoch cost of reglab's training loop versus a hand-written tensor-slicing loop.

One run: the default ``reglab compare`` model on digits (64-256-256-10 MLP, Adam 1e-3,
batch 64), no regularizer, so only the loop itself differs. An epoch is one pass over the
training rows in a seeded random order plus the validation loss and accuracy; reglab's loop
also records penalty, train accuracy, sparsity and the weight norm. Both loops run epoch by
epoch, interleaved in a fresh random order each round, on one thread; the figure is the
median epoch time. Target: reglab <= 1.10x the hand-written loop. The same model, optimizer,
batch size and per-epoch validation in PyTorch Lightning and in skorch, each with its
EarlyStopping callback (patience larger than the run, so every epoch runs), are timed after
them when installed (`pip install -e '.[bench]'`, which `make bench` does); they are not
dependencies of reglab. Their epochs cannot be interleaved with the others, so they run
one after another, on the same clock, with the same warm-up.

    .venv/bin/python bench/trainer_overhead.py [--epochs 30] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import platform
import random
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import reglab as rl
from reglab.train.sequential import evaluate, make_optimizer, train_one_epoch, weight_stats
from reglab.train.models import build_model
from reglab.lab.spec import RunSpec

SPEC = RunSpec(data="digits", hidden=(256, 256), optimizer="adam", lr=1e-3, batch_size=64)
TARGET = 1.10


def reglab_epoch(data):
    """One epoch exactly as ``loop.fit`` runs it (train_one_epoch, evaluate, weight stats)."""
    torch.manual_seed(0)
    model = build_model(SPEC, data.kind, tuple(data.input_shape), data.num_classes)
    opt = make_optimizer(SPEC, model)
    gen = torch.Generator().manual_seed(0)
    X, y, Xv, yv = data.train.X, data.train.y, data.val.X, data.val.y

    def epoch():
        sums = train_one_epoch(model, X, y, opt, batch_size=SPEC.batch_size, generator=gen,
                               num_classes=data.num_classes)
        row = {k: float(v) for k, v in sums.items()}
        row["val_loss"], row["val_acc"] = evaluate(model, Xv, yv)
        row["sparsity"], row["weight_norm"] = weight_stats(model)
    return epoch


def plain_epoch(data):
    """The loop one writes by hand: slicing, cross-entropy, Adam, val loss and accuracy."""
    torch.manual_seed(0)
    model = build_model(SPEC, data.kind, tuple(data.input_shape), data.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=SPEC.lr)
    gen = torch.Generator().manual_seed(0)
    X, y, Xv, yv = data.train.X, data.train.y, data.val.X, data.val.y

    def epoch():
        model.train()
        for idx in torch.randperm(X.shape[0], generator=gen).split(SPEC.batch_size):
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            logits = model(Xv)
            float(F.cross_entropy(logits, yv)), float((logits.argmax(1) == yv).float().mean())
    return epoch


def optional(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def lightning_epochs(data, epochs: int, clock) -> list[float]:
    """Seconds per epoch of the same model in PyTorch Lightning (Trainer + EarlyStopping)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", module="pytorch_lightning")
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = build_model(SPEC, data.kind, tuple(data.input_shape), data.num_classes)

        def training_step(self, batch, _):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def validation_step(self, batch, _):
            x, y = batch
            logits = self.net(x)
            self.log("val_loss", F.cross_entropy(logits, y))
            self.log("val_acc", (logits.argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=SPEC.lr)

    class Clock(pl.Callback):
        def __init__(self):
            self.marks = []

        def on_train_epoch_start(self, *_):
            self.marks.append(clock())

    tick = Clock()
    trainer = pl.Trainer(max_epochs=epochs + 2, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[pl.callbacks.EarlyStopping("val_loss", patience=10**6),
                                    tick])
    train = DataLoader(TensorDataset(data.train.X, data.train.y), batch_size=SPEC.batch_size,
                       shuffle=True, generator=torch.Generator().manual_seed(0))
    val = DataLoader(TensorDataset(data.val.X, data.val.y), batch_size=len(data.val))
    trainer.fit(Module(), train, val)
    marks = tick.marks + [clock()]
    return [b - a for a, b in zip(marks[2:-1], marks[3:])]  # after 2 warm-up epochs


def skorch_epochs(data, epochs: int, clock) -> list[float]:
    """Seconds per epoch of the same model in skorch (NeuralNetClassifier + EarlyStopping)."""
    from skorch import NeuralNetClassifier
    from skorch.callbacks import Callback, EarlyStopping
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    class Clock(Callback):
        def initialize(self):
            self.marks = []
            return self

        def on_epoch_begin(self, net, **_):
            self.marks.append(clock())

    tick = Clock()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        build_model(SPEC, data.kind, tuple(data.input_shape), data.num_classes),
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=SPEC.lr,
        batch_size=SPEC.batch_size, max_epochs=epochs + 2, iterator_train__shuffle=True,
        train_split=predefined_split(Dataset(data.val.X, data.val.y)), verbose=0,
        callbacks=[EarlyStopping(patience=10**6), tick])
    net.fit(data.train.X, data.train.y)
    marks = tick.marks + [clock()]
    return [b - a for a, b in zip(marks[2:-1], marks[3:])]


def measure(data, epochs: int, clock) -> dict[str, float]:
    fns = {"hand-written slicing loop": plain_epoch(data), "reglab loop": reglab_epoch(data)}
    times = {k: [] for k in fns}
    order = random.Random(0)
    for r in range(epochs + 2):
        names = list(fns)
        order.shuffle(names)
        for name in names:
            t0 = clock()
            fns[name]()
            if r >= 2:  # two warm-up epochs
                times[name].append(clock() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30, help="timed epochs per loop")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                    help="cpu: this thread's CPU time (robust on a shared machine); wall")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    data = rl.data.load("digits", seed=0)
    med = measure(data, args.epochs, clock)
    base = med["hand-written slicing loop"]
    lines = ["| loop | ms / epoch | ratio | target |", "|---|---:|---:|---|"]
    for name, t in med.items():
        target = "-"
        if name == "reglab loop":
            target = f"<= {TARGET:.2f}x " + ("ok" if t / base <= TARGET else "MISSED")
        lines.append(f"| {name} | {1e3 * t:.1f} | {t / base:.2f}x | {target} |")
    for name, module, run in (("PyTorch Lightning + EarlyStopping", "pytorch_lightning",
                               lightning_epochs),
                              ("skorch + EarlyStopping", "skorch", skorch_epochs)):
        if not optional(module):
            lines.append(f"| {name} | not installed | - | - |")
            continue
        t = statistics.median(run(data, args.epochs, clock))
        lines.append(f"| {name} | {1e3 * t:.1f} | {t / base:.2f}x | - |")
    print("\n".join(lines))
    if args.markdown:
        head = ["## Trainer overhead (bench/trainer_overhead.py)", "",
                f"One run on digits, MLP 64-256-256-10, Adam, batch 64; median of "
                f"{args.epochs} interleaved epochs ({args.clock} clock, 1 thread) after 2 warm-up "
                "epochs; an epoch = one shuffled pass + validation loss/accuracy.", "",
                f"- machine: {platform.machine()} {platform.processor() or 'cpu'}, "
                f"torch {torch.__version__}, date {dt.date.today().isoformat()}", ""]
        with open(args.markdown, "w") as f:
            f.write("\n".join(head + lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
