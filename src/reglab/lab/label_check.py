"""Label-safety check: does an augmentation change what a sample *is*?

A quick model is trained on clean data, then scored on clean and on augmented validation
data, transform by transform and class by class. A transform that costs far more accuracy
than the others is teaching wrong patterns (a mirrored 3 is not a 3): it is flagged.

The quick model trains through the library's loop (``reglab.train.train_one_epoch``), which is
why the check lives in the lab and not in ``reglab.augment`` (the core never imports training).
It runs on one torch thread, like every lab worker, and reports its progress through an
optional ``progress(done, total)`` callback.

Example::

    from reglab.lab.label_check import check_labels
    report = check_labels(rl.data.load("digits"), ["rotate", "flip"])
    report.flagged      # ['flip']
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from reglab._validation import check_float, check_int, fail
from reglab.augment import NAMES, Compose, Transform
from reglab.augment.names import parse_names
from reglab.train import train_one_epoch

__all__ = ["check_labels", "train_quick_model", "LabelCheckReport", "LabelCheckRow"]

Progress = Callable[[int, int], None]


# The report's prose (English); reglab.report.i18n pairs each with its Vietnamese.
TEXTS = {
    "head": ("Label-safety check{of}: quick model, clean validation accuracy {clean:.3f}, "
             "{draws} augmented draws per transform"),
    "of": " of {name!r}",
    "rule": ("rule: flagged when drop > limit = min(max({threshold:g}, {k:g} x median drop of "
             "the others), {ceiling:g} x (clean accuracy - chance))"),
    "per_class": "accuracy drop per class:",
    # the table's column names and a row's flag
    "transform": "transform",
    "clean": "clean",
    "augmented": "augmented",
    "drop": "drop",
    "limit": "limit",
    "flag": "flag",
    "flagged": "FLAGGED",
    "ok": "ok",
}


@dataclass(frozen=True)
class LabelCheckRow:
    """One transform's result: accuracies are means over the draws, ``drop = clean - augmented``."""

    name: str
    clean_accuracy: float
    augmented_accuracy: float
    drop: float
    drop_std: float  # standard deviation of the drop over the draws
    limit: float  # the drop above which this transform is flagged
    flagged: bool


@dataclass
class LabelCheckReport:
    """What :func:`check_labels` measured: one row per transform, per-class drops, the rule."""

    rows: list[LabelCheckRow]
    per_class: dict[str, list[float]]  # transform -> drop of each class's accuracy
    class_names: list[str]
    clean_accuracy: float
    threshold: float
    k: float
    ceiling: float
    draws: int
    data_name: str = ""
    kind: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        """Names of the flagged transforms, in the order they were given."""
        return [r.name for r in self.rows if r.flagged]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (rows as dicts)."""
        out = asdict(self)
        out["flagged"] = self.flagged
        return out

    def __str__(self) -> str:
        return self.render()

    def render(self, texts: Mapping[str, str] = TEXTS) -> str:
        """The report as text; ``texts``: the prose templates (:data:`TEXTS`, English; the
        CLI passes ``reglab.report.i18n.texts("label_check", lang)``), the column names and
        FLAGGED / ok included. A column is as wide as its numbers or its name, the wider;
        the limit's name sits one space right of its numbers when they are as wide (as the
        English table always printed it)."""
        of = texts["of"].format(name=self.data_name) if self.data_name else ""
        head = texts["head"].format(of=of, clean=self.clean_accuracy, draws=self.draws)
        width = max([len(texts["transform"])] + [len(r.name) for r in self.rows])
        # (its name, its numbers' width, its name's width) for the numeric columns
        cols = [(texts["clean"], 5, 5), (texts["augmented"], 9, 9), (texts["drop"], 6, 6),
                (texts["limit"], 5, 6)]
        widths = [(max(v, len(n)), max(h, len(n))) for n, v, h in cols]
        lines = [head, "", f"{texts['transform']:<{width}}"
                 + "".join(f"  {n:>{h}}" for (n, _, _), (_, h) in zip(cols, widths))
                 + f"  {texts['flag']}"]
        for r in self.rows:
            values = (f"{r.clean_accuracy:.3f}", f"{r.augmented_accuracy:.3f}", f"{r.drop:+.3f}",
                      f"{r.limit:.3f}")
            flag = texts["flagged"] if r.flagged else texts["ok"]
            lines.append(f"{r.name:<{width}}"
                         + "".join(f"  {v:>{w}}" for v, (w, _) in zip(values, widths))
                         + f"  {flag}")
        lines += ["", texts["rule"].format(threshold=self.threshold, k=self.k,
                                           ceiling=self.ceiling),
                  "", texts["per_class"]]
        cw = max([6] + [len(c) for c in self.class_names])
        lines.append(f"{texts['transform']:<{width}}  "
                     + " ".join(f"{c:>{cw}}" for c in self.class_names))
        for name, drops in self.per_class.items():
            lines.append(f"{name:<{width}}  " + " ".join(f"{d:>+{cw}.2f}" for d in drops))
        return "\n".join(lines + self.notes)


def check_labels(data: Any, augmentation: Any, epochs: int = 30, seed: int = 0,
                 threshold: float = 0.25, k: float = 3.0, ceiling: float = 0.5,
                 draws: int = 5, progress: Progress | None = None) -> LabelCheckReport:
    """Train a quick model on clean data; measure each transform's accuracy drop; flag outliers.

    For each transform ``t`` (applied to every sample, ``p = 1``, at the pipeline's current
    strength): ``drop_t = acc(clean val) - mean_d acc(t_d(val))`` over ``draws`` seeded draws,
    overall and per class. Rule: ``t`` is flagged when ``drop_t > limit_t``,

        limit_t = min(max(threshold, k * median({drop_u : u != t})), ceiling * (clean - 1/K))

    (the median of the others is 0 when ``t`` is alone). The floor keeps harmless transforms
    quiet on easy data; the median keeps a fragile quick model (every transform costs a lot)
    from flagging everything; the ceiling flags a transform that destroys more than half of
    the model's skill above chance even when the others are just as bad (flip *and* vflip).

    Args:
        data: has ``.train.X``, ``.train.y``, ``.val.X``, ``.val.y``, ``.num_classes``,
            ``.kind`` (a :mod:`reglab.data` data set); optional ``.name``, ``.class_names``.
        augmentation: a :class:`Compose`, a transform, a list of transforms and/or short names
            (``NAMES[data.kind]``), or a comma-separated string of names.
        epochs: training epochs of the quick model (an MLP with one hidden layer of 128).
        seed: seeds the model, its batches and the augmentation draws.
        threshold: absolute floor of the flagging rule, in accuracy (0.15 = 15 points).
        k: how many times the others' median drop a flagged drop must exceed.
        ceiling: fraction of the above-chance accuracy whose loss is always flagged, (0, 1].
        draws: augmented copies of the validation set per transform.
        progress: called as ``progress(done, total)`` after each training epoch and after
            each transform is scored (``total = epochs + number of transforms``).

    Runs with ``torch.set_num_threads(1)`` (restored afterwards): the lab's workers train on
    one thread each, and two threads of a check beside them only contend for the same cores.

    Example::

        report = check_labels(rl.data.load("digits"), ["rotate", "flip"])
        report.flagged      # ['flip']
    """
    _check_data(data)
    epochs = check_int("check_labels", "epochs", epochs, 1)
    seed = check_int("check_labels", "seed", seed, 0)
    threshold = check_float("check_labels", "threshold", threshold, 0, 1)
    k = check_float("check_labels", "k", k, 0)
    ceiling = check_float("check_labels", "ceiling", ceiling, 0, 1, low_open=True)
    draws = check_int("check_labels", "draws", draws, 1)
    named, strength = _resolve(augmentation, data.kind)
    num_classes = int(data.num_classes)
    total = epochs + len(named)
    tick = None if progress is None else (lambda done: progress(done, total))
    with _one_thread():
        model = train_quick_model(data.train.X, data.train.y, num_classes, epochs, seed,
                                  per_feature=data.kind == "tabular", on_epoch=tick)
        x, y = data.val.X, data.val.y.to(data.val.X.device)
        clean_acc, clean_cls = _accuracy(model, x, y, num_classes)
        drops, stds, per_class = [], [], {}
        for i, (name, t) in enumerate(named, 1):
            # the same draws whatever else the list holds
            gen = torch.Generator(device=x.device).manual_seed(seed)
            accs, cls = zip(*(_accuracy(model, t(x, generator=gen, strength=strength), y,
                                        num_classes) for _ in range(draws)))
            drops.append(clean_acc - sum(accs) / draws)
            stds.append(statistics.pstdev(accs))
            per_class[name] = (clean_cls - torch.stack(cls).mean(0)).tolist()
            if tick is not None:
                tick(epochs + i)
    rows = [LabelCheckRow(name, clean_acc, clean_acc - d, d, s, lim, d > lim)
            for (name, _), d, s, lim in zip(named, drops, stds, _limits(drops, threshold, k, ceiling * (clean_acc - 1 / num_classes)))]
    return LabelCheckReport(rows, per_class, _class_names(data, num_classes), clean_acc,
                            threshold, k, ceiling, draws, str(getattr(data, "name", "") or ""),
                            str(data.kind))


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one intra-op thread for the block, the caller's thread count restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _limits(drops: list[float], threshold: float, k: float, cap: float) -> list[float]:
    """Per transform: ``min(max(threshold, k * median of the other drops), cap)``."""
    out = []
    for i in range(len(drops)):
        others = drops[:i] + drops[i + 1:]
        ref = max(statistics.median(others), 0.0) if others else 0.0
        out.append(min(max(threshold, k * ref), max(cap, 0.0)))
    return out


def _check_data(data: Any) -> None:
    if getattr(data, "task", "classification") == "regression":
        raise fail("check_labels", "data", "a classification data set (the check measures how "
                   "much an augmentation changes class labels; a regression target has none)",
                   getattr(data, "name", type(data).__name__))
    try:
        ok = all(isinstance(t, torch.Tensor) for t in
                 (data.train.X, data.train.y, data.val.X, data.val.y))
        ok = ok and int(data.num_classes) >= 2 and data.kind in NAMES and len(data.val.y) > 0
    except (AttributeError, TypeError, ValueError):
        ok = False
    if not ok:
        raise fail("check_labels", "data", "a data set with .train and .val splits (X, y "
                   "tensors, val not empty), .num_classes >= 2 and .kind in "
                   f"{{{', '.join(repr(k) for k in NAMES)}}}", type(data).__name__)


def _resolve(augmentation: Any, kind: str) -> tuple[list[tuple[str, Transform]], float]:
    """``[(name, transform with p=1)]`` and the strength to apply them at."""
    strength = 1.0
    if isinstance(augmentation, Compose):
        strength = augmentation.value_of(augmentation.strength)
        items: Iterable[Any] = list(augmentation)
    elif isinstance(augmentation, Transform):
        items = [augmentation]
    elif isinstance(augmentation, str):
        items = parse_names(augmentation, kind, "check_labels")
    else:
        items = list(augmentation) if isinstance(augmentation, (list, tuple)) else []
    named: list[tuple[str, Transform]] = []
    for item in items:
        if isinstance(item, str):
            parse_names([item], kind, "check_labels")
            name, t = item, NAMES[kind][item]()
        elif isinstance(item, Transform):
            name, t = repr(item), item
        else:
            named = []
            break
        seen = sum(n == name or n.startswith(name + "#") for n, _ in named)
        named.append((f"{name}#{seen + 1}" if seen else name, t.with_p(1.0)))
    if not named:
        raise fail("check_labels", "augmentation", "a Compose, a transform, or a non-empty "
                   "list of transforms or short names", augmentation)
    return named, strength


def _class_names(data: Any, num_classes: int) -> list[str]:
    names = getattr(data, "class_names", None)
    return [str(c) for c in names] if names and len(names) == num_classes else \
        [str(c) for c in range(num_classes)]


class _QuickMLP(nn.Module):
    """Standardize the input with train statistics, then one hidden layer of 128 ReLU units.

    Images and signals share one mean / std over all values (per-pixel statistics would turn
    a constant corner pixel plus a little noise into a huge input); tabular features get their
    own, with a floor so that a near-constant feature cannot blow up either.
    """

    def __init__(self, x: torch.Tensor, num_classes: int, per_feature: bool, hidden: int = 128):
        super().__init__()
        flat = x.flatten(1)
        if per_feature:
            mean, std = flat.mean(0), flat.std(0)
            std = std.clamp_min(max(0.1 * float(std.median()), 1e-6))
        else:
            mean, std = flat.mean(), flat.std().clamp_min(1e-6)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = nn.Sequential(nn.Linear(flat.shape[1], hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x.flatten(1) - self.mean) / self.std)


def train_quick_model(x: torch.Tensor, y: torch.Tensor, num_classes: int, epochs: int = 30,
                      seed: int = 0, per_feature: bool = False, batch_size: int = 64,
                      lr: float = 3e-3, on_epoch: Callable[[int], None] | None = None
                      ) -> nn.Module:
    """A seeded MLP trained on clean data with Adam (no augmentation, no regularization).

    Trained by the library's ``train_one_epoch`` (a RunSpec cannot say "standardize inside
    the model", which the quick model needs for raw user data); ``on_epoch(done)`` is called
    after each epoch with the number of epochs done.
    """
    x, y = x.float(), y.to(x.device)
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
        torch.manual_seed(seed)
        model = _QuickMLP(x, num_classes, per_feature).to(x.device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        train_one_epoch(model, x, y, opt, batch_size=batch_size, generator=order,
                        num_classes=num_classes)
        if on_epoch is not None:
            on_epoch(epoch + 1)
    return model.eval()


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
              num_classes: int) -> tuple[float, torch.Tensor]:
    """Overall accuracy and per-class accuracy ``(K,)`` (NaN for a class with no samples)."""
    hit = (model(x.float()).argmax(1) == y).double()
    per = torch.zeros(num_classes, dtype=torch.float64, device=y.device).index_add_(0, y, hit)
    count = torch.bincount(y, minlength=num_classes).double()
    return float(hit.mean()), (per / count).cpu()
