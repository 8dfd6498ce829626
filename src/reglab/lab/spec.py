"""One validated, frozen description of a training run.

A :class:`RunSpec` holds everything that decides a run's numbers: the data, the model, the
optimizer, the seed and each regularizer with its strength. It is built from CLI flags, a
TOML file or a dict (the store keeps it as JSON), and every value is checked up front with
the library's one message template::

    The 'dropout' parameter of RunSpec must be a float in the range [0, 1). Got 1.5 instead.

Example::

    spec = RunSpec(data="digits", l2=1e-4, dropout=0.2)
    spec.replace(seed=1).to_dict()
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from reglab._validation import (
    InvalidParameterError,
    check_choice,
    check_float,
    check_int,
    did_you_mean,
    fail,
)
from reglab.schedules import LR_SCHEDULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["RunSpec", "load_toml", "MODELS", "OPTIMIZERS", "ACTIVATIONS", "DEVICES",
           "LR_SCHEDULES", "DROPOUT_KINDS", "STOP_CRITERIA", "SCHEDULABLE"]

OWNER = "RunSpec"
MODELS = ("linear", "mlp", "cnn")
OPTIMIZERS = ("sgd", "adam", "adamw")
ACTIVATIONS = ("relu", "gelu", "tanh", "silu")
DEVICES = ("cpu", "cuda", "mps", "auto")
SPLITS = ("random", "time")
TASKS = ("auto", "classification", "regression")
# the keys (besides data and seed) that decide which rows and columns a run sees
DATA_KEYS = ("target", "features", "drop", "split", "order_column", "group_column",
             "split_column", "test_data", "task")
MAX_TOML_BYTES = 1 << 20  # a spec is a few hundred bytes; -c /dev/zero must not fill memory
DROPOUT_KINDS = ("standard", "gaussian", "dropconnect", "dropblock")
CNN_ARCHS = ("two_block", "global_pool")
STOP_CRITERIA = ("patience", "gl", "pq", "up")


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides one run's numbers; frozen, validated on construction.

    Strengths are in the note's units: ``l1`` and ``l2`` are the loss terms
    ``lam * sum|w|`` and ``lam * sum w^2``; ``weight_decay`` is decoupled
    (``w <- w - lr * wd * w`` on the weights, ndim >= 2, applied as each optimizer step
    begins: after the gradient is taken, before the update, as ``torch.optim.AdamW`` does);
    ``proximal_l1`` is the proximal step ``w <- sign(w) max(|w| - lr * lam, 0)`` after each
    update (exact zeros); ``dropout`` is the *drop* rate; ``patience`` 0 switches early
    stopping off.

    Args:
        data: built-in data set name or a file/folder path.
        target: target column for CSV files (None: the last column).
        features: the table's feature columns (empty: every column but the target).
        drop: table columns left out (e.g. an ID column).
        split: "random" (stratified, shuffled) or "time" (rows ordered by ``order_column``,
            train the earliest, test the latest, no shuffle).
        order_column, group_column, split_column: a table's column that orders the rows
            (with split "time"), keeps each group on one side (no group in two splits), or
            says train / val / test per row. None: not used.
        test_data: a separate table file for the test split (encoded with the training
            split's encoders). None: the test split comes out of ``data``.
        task: "auto" (inferred from the target: a numeric target with non-integer values,
            or with more than 20 distinct values that are also more than 5% of the rows, is
            regression), "classification" or "regression" (forced).
        model: "linear", "mlp" or "cnn".
        hidden: hidden layer widths of the MLP (the two_block CNN's dense width is hidden[0]).
        cnn_arch: the CNN (``model = "cnn"``): "two_block" (two 3-wide conv blocks of 32 and
            64 channels, each pooled by 2, flattened into a dense layer of ``hidden[0]`` units)
            or "global_pool" (four 5-wide convs of 64, 64, 128, 128 channels, a pool by 2
            after the second, a global max pool over positions, dropout, a linear head:
            shift-invariant; trains one run at a time, the stacked engine has no kernel).
        activation: "relu", "gelu", "tanh" or "silu".
        optimizer: "sgd" (momentum 0.9), "adam" or "adamw" (``torch.optim.AdamW`` whose
            decoupled decay is ``weight_decay``; with sgd and adam the lab applies the same
            decay itself, so adam + weight_decay and adamw + weight_decay train alike).
        lr: learning rate, > 0 (the peak of the schedule).
        lr_schedule: "constant", "cosine" (to 0 at the end of the run) or "step" (x0.1 at
            50% and 75% of the run), per optimizer step (``reglab.schedules.lr_factor``).
        warmup: linear warmup over this fraction of the run's steps, in [0, 1).
        epochs: maximum number of epochs, >= 1 (the schedule's length).
        batch_size: mini-batch size, >= 1.
        seed: seeds the data split, the initialization, the batch order and augmentation.
        split_seed: seeds the data split alone (None: ``seed``), so that runs with other
            init seeds can share a split, or a retrain can avoid the search's split.
        l1, l2: loss-term strengths, >= 0.
        weight_decay: decoupled weight decay, >= 0.
        proximal_l1: proximal L1 strength, >= 0.
        dropout: drop rate after each hidden activation, in [0, 1).
        patience: early-stopping patience in epochs on validation loss (0: off).
        elastic_net: elastic-net loss term ``lam * (r sum|w| + (1 - r) sum w^2)``, >= 0, with
            ``r = l1_ratio`` in [0, 1] (default 0.5), ``rl.ElasticNet``; a strength of its own
            next to ``l1`` and ``l2`` (sklearn's alpha / l1_ratio), not a split of them.
        group_lasso: group-lasso loss term ``lam * sum ||(w_row, b)||`` over every neuron's
            incoming weights and bias (``rl.GroupLasso``), >= 0.
        proximal_group_lasso: the proximal group-lasso step after each update
            (``rl.ProximalGroupLasso``: whole neurons, bias included, become exactly 0), >= 0.
        dropout_kind: the layer ``dropout`` builds: "standard" (``rl.Dropout``), "gaussian"
            (``rl.GaussianDropout``, multiplicative N(1, p/(1-p)) noise), "dropconnect"
            (``rl.DropConnect`` on the hidden Linear layers' weights instead of dropout on
            their outputs) or "dropblock" (cnn on images only: ``rl.DropBlock2d``, block 3,
            after each conv block's activation). The lab's models have no residual blocks,
            so DropPath is not offered.
        stop_criterion: "patience" (patience alone) or Prechelt's "gl" (``GL(stop_alpha)``),
            "pq" (``PQ(stop_alpha, strip=stop_strip)``) or "up" (``UP(stop_strips,
            strip=stop_strip)``); with a criterion, ``patience`` 0 means the criterion alone.
        stop_alpha: GL's / PQ's threshold alpha, > 0 (default 5.0, Prechelt's GL5).
        stop_strip: PQ's / UP's strip length k in epochs, >= 1 (default 5).
        stop_strips: UP's s, successive strips of rising validation loss, >= 1 (default 3).
        augment: augmentation names for the data kind (see ``reglab.augment.NAMES``).
        augment_strength: multiplies every augmentation magnitude, >= 0.
        mixup, cutmix: Beta(alpha, alpha) parameter, 0 = off.
        label_smoothing: training targets ``(1 - eps) t + eps / C`` (hard or mixed), in
            [0, 1); validation and test losses stay plain cross-entropy.
        device: "cpu", "cuda", "mps" or "auto".
    """

    data: str = "digits"
    target: str | None = None
    features: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    split: str = "random"
    order_column: str | None = None
    group_column: str | None = None
    split_column: str | None = None
    test_data: str | None = None
    task: str = "auto"
    model: str = "mlp"
    cnn_arch: str = "two_block"
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_schedule: str = "constant"
    warmup: float = 0.0
    epochs: int = 60
    batch_size: int = 64
    seed: int = 0
    split_seed: int | None = None
    l1: float = 0.0
    l2: float = 0.0
    weight_decay: float = 0.0
    proximal_l1: float = 0.0
    dropout: float = 0.0
    patience: int = 0
    elastic_net: float = 0.0
    l1_ratio: float = 0.5
    group_lasso: float = 0.0
    proximal_group_lasso: float = 0.0
    dropout_kind: str = "standard"
    stop_criterion: str = "patience"
    stop_alpha: float = 5.0
    stop_strip: int = 5
    stop_strips: int = 3
    augment: tuple[str, ...] = ()
    augment_strength: float = 1.0
    mixup: float = 0.0
    cutmix: float = 0.0
    label_smoothing: float = 0.0
    device: str = "cpu"
    schedules: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # A strength given as a table is a schedule: kept in ``schedules`` (canonical), the
        # strength itself becomes its largest value, so every number-reading consumer sees
        # whether and how strongly the technique is on.
        tables = _schedules(self.schedules)
        for key in SCHEDULABLE:
            value = getattr(self, key)
            if isinstance(value, Mapping):
                tables[key] = _schedule(key, value)
        for f in fields(self):
            if f.name in _CHECKS:
                value = getattr(self, f.name)
                if f.name in tables:
                    value = max(tables[f.name]["start"], tables[f.name]["end"])
                object.__setattr__(self, f.name, _CHECKS[f.name](value))
        object.__setattr__(self, "schedules", tables)

    def __hash__(self) -> int:  # the schedules field is a dict: hash the canonical JSON
        return hash(self.to_json())

    @classmethod
    def keys(cls) -> list[str]:
        """The spec's keys, in declaration order."""
        return [f.name for f in fields(cls)]

    @property
    def data_seed(self) -> int:
        """The seed of the data split: ``split_seed``, or ``seed`` when that is None."""
        return self.seed if self.split_seed is None else self.split_seed

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with ``changes`` applied (validated like the constructor); a strength given
        as a number replaces that strength's schedule."""
        _check_keys(changes)
        if "schedules" not in changes:
            numbers = {k for k, v in changes.items() if k in SCHEDULABLE
                       and not isinstance(v, Mapping)}
            changes["schedules"] = {k: v for k, v in self.schedules.items() if k not in numbers}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML-ready dict (tuples as lists; ``target`` left out when None; a key
        added after the store's first format, at its default, left out too, so an
        experiment stored before it was added resumes as the same configuration)."""
        out = {}
        for k in self.keys():
            v = getattr(self, k)
            if v is None or (k in _LATER_KEYS and v == _LATER_KEYS[k]):
                continue  # TOML has no null; a later key at its default, no key
            if k == "schedules":
                v = {key: {n: x for n, x in table.items() if x is not None}
                     for key, table in v.items()}
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Build a spec from a dict; unknown keys are an error naming the key."""
        _check_keys(data)
        return cls(**dict(data))

    def data_options(self) -> dict[str, Any]:
        """The keyword options of ``reglab.data.load`` this spec sets (defaults left out):
        everything but ``data`` and ``seed`` that decides which rows and columns a run sees."""
        out: dict[str, Any] = {}
        for k in DATA_KEYS:
            v = getattr(self, k)
            if v not in (None, (), "random") and not (k == "task" and v == "auto"):
                out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), what the store keeps."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_toml(self) -> str:
        """A TOML document that ``load_toml`` reads back to an equal spec."""
        return "".join(f"{k} = {_toml_value(v)}\n" for k, v in self.to_dict().items())


# Keys added after runs were first stored, with the default that means "as before" (issue 13).
_LATER_KEYS: dict[str, Any] = {
    "lr_schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0,
    "elastic_net": 0.0, "l1_ratio": 0.5, "group_lasso": 0.0, "proximal_group_lasso": 0.0,
    "dropout_kind": "standard", "stop_criterion": "patience", "stop_alpha": 5.0,
    "stop_strip": 5, "stop_strips": 3, "schedules": {}, "task": "auto",
    "cnn_arch": "two_block"}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict of spec keys (a ``[run]`` table or top-level keys).

    Raises InvalidParameterError naming the file when it is missing or not valid TOML.
    """
    path = Path(path)
    try:
        info = path.stat()  # before open: opening a FIFO would block until a writer comes
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError  # a folder, a FIFO, a device such as /dev/zero
        if info.st_size > MAX_TOML_BYTES:
            raise InvalidParameterError(
                f"The config file {str(path)!r} is {info.st_size} bytes; a spec file is at most "
                f"{MAX_TOML_BYTES} bytes (1 MiB).")
        with path.open("rb") as fh:
            doc = tomllib.loads(fh.read(MAX_TOML_BYTES + 1).decode("utf-8"))
    except FileNotFoundError:
        raise fail(OWNER, "config", "an existing TOML file", str(path)) from None
    except OSError:  # a folder, a FIFO or a device, no read permission...
        raise fail(OWNER, "config", "an existing, readable TOML file", str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise InvalidParameterError(f"The config file {str(path)!r} is not valid TOML: {err}.") from None
    if isinstance(doc.get("run"), dict):
        others = [k for k in doc if k != "run"]
        if others:  # they would be silently ignored
            raise InvalidParameterError(
                f"The config file {str(path)!r} has a [run] table and top-level keys "
                f"({', '.join(others)}); put every key in the [run] table or none.")
        return dict(doc["run"])
    return doc


def read_package_toml(package: str, name: str) -> dict[str, Any]:
    """A TOML data file shipped inside a reglab package (``pyproject`` package-data), e.g.
    ``read_package_toml("reglab.lab", "defaults.toml")``."""
    return tomllib.loads(importlib.resources.files(package).joinpath(name).read_text("utf-8"))


def _check_keys(data: Mapping[str, Any]) -> None:
    known = RunSpec.keys()
    for key in data:
        if key not in known:
            raise fail(OWNER, "key", f"one of {{{', '.join(known)}}}", key,
                       hint=did_you_mean(key, known))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):  # an inline table
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def _str(name: str, v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise fail(OWNER, name, "a non-empty string", v)
    return v


def _opt_str(name: str, v: Any) -> str | None:
    return None if v is None else _str(name, v)


def _hidden(v: Any) -> tuple[int, ...]:
    allowed = "a non-empty list of ints in the range [1, 65536]"
    if isinstance(v, (int, str)) or not hasattr(v, "__iter__"):
        raise fail(OWNER, "hidden", allowed, v)
    out = tuple(v)
    if not out or any(isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= 65536
                      for h in out):
        raise fail(OWNER, "hidden", allowed, v)
    return out


def _columns(name: str, v: Any) -> tuple[str, ...]:
    if isinstance(v, str):  # "a,b" from a flag
        v = [s.strip() for s in v.split(",") if s.strip()]
    if not isinstance(v, (list, tuple)) or any(not isinstance(s, str) or not s for s in v):
        raise fail(OWNER, name, "a list of column names", v)
    return tuple(v)


def _augment(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):  # "rotate,noise" from a flag
        v = [s.strip() for s in v.split(",") if s.strip()]
    if not hasattr(v, "__iter__") or any(not isinstance(s, str) or not s for s in v):
        raise fail(OWNER, "augment", "a list of augmentation names", v)
    return tuple(v)


def _patience(v: Any) -> int:
    return 0 if v is None else check_int(OWNER, "patience", v, 0, 100_000)


def _float(name, low=0.0, high=None, **kw):
    return lambda v: check_float(OWNER, name, v, low, high, **kw)


# Strengths that take a schedule: ``l2 = {schedule = "linear", start = 0, end = 1e-3}``.
SCHEDULABLE = ("l1", "l2", "weight_decay", "proximal_l1", "elastic_net", "group_lasso",
               "proximal_group_lasso", "dropout")
_SCHEDULE_KEYS = ("schedule", "start", "end", "steps", "unit")


def _schedule(key: str, table: Any) -> dict[str, Any]:
    """A strength's schedule table, checked and complete: ``schedule`` "linear" or "cosine",
    ``start`` and ``end`` in the strength's own range, ``steps`` (default: the run's epochs)
    and ``unit`` "epoch" (default) or "step" (optimizer steps; then ``steps`` is required)."""
    name = f"{key}.schedule"
    if not isinstance(table, Mapping):
        raise fail(OWNER, key, "a number or a table {schedule, start, end, steps, unit}", table)
    for k in table:
        if k not in _SCHEDULE_KEYS:
            raise fail(OWNER, f"{key}.{k}", f"one of {{{', '.join(_SCHEDULE_KEYS)}}}", k,
                       hint=did_you_mean(k, _SCHEDULE_KEYS))
    kind = check_choice(OWNER, name, table.get("schedule"), ("linear", "cosine"))
    ends = {end: _end(key, end, table) for end in ("start", "end")}
    unit = check_choice(OWNER, f"{key}.unit", table.get("unit", "epoch"), ("epoch", "step"))
    steps = table.get("steps")
    if steps is None and unit == "step":
        raise fail(OWNER, f"{key}.steps", "an int >= 1 with unit 'step'", None)
    if steps is not None:
        steps = check_int(OWNER, f"{key}.steps", steps, 1, 10**9)
    return {"schedule": kind, **ends, "steps": steps, "unit": unit}


def _end(key: str, end: str, table: Mapping[str, Any]) -> float:
    """A schedule's start / end value, in the strength's own range (named ``l2.end``...)."""
    if end not in table:
        raise fail(OWNER, f"{key}.{end}", "a number (the schedule's value at its start / end)",
                   None)
    try:
        return _CHECKS[key](table[end])
    except InvalidParameterError as err:
        raise fail(OWNER, f"{key}.{end}", err.allowed, table[end]) from None


def _schedules(value: Any) -> dict[str, dict[str, Any]]:
    """The ``schedules`` key: strength key -> schedule table (from JSON / a spec)."""
    if not isinstance(value, Mapping):
        raise fail(OWNER, "schedules", f"a table of {{{', '.join(SCHEDULABLE)}}} -> schedule",
                   value)
    out = {}
    for key, table in value.items():
        if key not in SCHEDULABLE:
            raise fail(OWNER, "schedules", f"a table of {{{', '.join(SCHEDULABLE)}}} -> "
                       "schedule", key, hint=did_you_mean(key, SCHEDULABLE))
        out[key] = _schedule(key, table)
    return out


_CHECKS = {
    "data": lambda v: _str("data", v),
    "target": lambda v: _opt_str("target", v),
    "features": lambda v: _columns("features", v),
    "drop": lambda v: _columns("drop", v),
    "split": lambda v: check_choice(OWNER, "split", v, SPLITS),
    "order_column": lambda v: _opt_str("order_column", v),
    "group_column": lambda v: _opt_str("group_column", v),
    "split_column": lambda v: _opt_str("split_column", v),
    "test_data": lambda v: _opt_str("test_data", v),
    "task": lambda v: check_choice(OWNER, "task", v, TASKS),
    "model": lambda v: check_choice(OWNER, "model", v, MODELS),
    "cnn_arch": lambda v: check_choice(OWNER, "cnn_arch", v, CNN_ARCHS),
    "hidden": _hidden,
    "activation": lambda v: check_choice(OWNER, "activation", v, ACTIVATIONS),
    "optimizer": lambda v: check_choice(OWNER, "optimizer", v, OPTIMIZERS),
    "lr": _float("lr", 0.0, None, low_open=True),
    "lr_schedule": lambda v: check_choice(OWNER, "lr_schedule", v, LR_SCHEDULES),
    "warmup": _float("warmup", 0.0, 1.0, high_open=True),
    "epochs": lambda v: check_int(OWNER, "epochs", v, 1, 100_000),
    "batch_size": lambda v: check_int(OWNER, "batch_size", v, 1, 1_000_000),
    "seed": lambda v: check_int(OWNER, "seed", v, 0, 2**32 - 1),
    "split_seed": lambda v: None if v is None else check_int(OWNER, "split_seed", v, 0,
                                                             2**32 - 1),
    "l1": _float("l1"),
    "l2": _float("l2"),
    "weight_decay": _float("weight_decay"),
    "proximal_l1": _float("proximal_l1"),
    "dropout": _float("dropout", 0.0, 1.0, high_open=True),
    "patience": _patience,
    "elastic_net": _float("elastic_net"),
    "l1_ratio": _float("l1_ratio", 0.0, 1.0),
    "group_lasso": _float("group_lasso"),
    "proximal_group_lasso": _float("proximal_group_lasso"),
    "dropout_kind": lambda v: check_choice(OWNER, "dropout_kind", v, DROPOUT_KINDS),
    "stop_criterion": lambda v: check_choice(OWNER, "stop_criterion", v, STOP_CRITERIA),
    "stop_alpha": _float("stop_alpha", 0.0, None, low_open=True),
    "stop_strip": lambda v: check_int(OWNER, "stop_strip", v, 1, 10_000),
    "stop_strips": lambda v: check_int(OWNER, "stop_strips", v, 1, 10_000),
    "augment": _augment,
    "augment_strength": _float("augment_strength"),
    "mixup": _float("mixup"),
    "cutmix": _float("cutmix"),
    "label_smoothing": _float("label_smoothing", 0.0, 1.0, high_open=True),
    "device": lambda v: check_choice(OWNER, "device", v, DEVICES),
}
