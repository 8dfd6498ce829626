"""The data layer's value types: a split, a data set, and the one error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reglab._validation import InvalidParameterError

__all__ = ["DataError", "DataWarning", "Dataset", "Split", "KINDS", "TASKS"]

KINDS = ("image", "signal", "tabular")
TASKS = ("classification", "regression")


class DataError(InvalidParameterError):
    """A data set name, a data file or a split request is unusable. An ``InvalidParameterError``."""


class DataWarning(UserWarning):
    """Something in the data is legal but probably wrong (e.g. test rows copied from train)."""


@dataclass(frozen=True, eq=False)
class Split:
    """One part of a data set: inputs ``X`` (float32), targets ``y``, source row ``indices``.

    ``y``: int64 class codes (classification) or float32 targets standardized with the
    training split's ``target_mean`` / ``target_std`` (regression).

    ``indices`` (int64) locate each row in the source data (for a built-in with a published
    test split: the training part first, then the test part), so splits can be checked for overlap.

    Example:
        >>> xb, yb = ds.train.X[:32], ds.train.y[:32]   # (32, *input_shape), (32,)
    """

    X: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, X={tuple(self.X.shape)})"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set split into train / val / test, standardized on train only.

    Attributes:
        name: built-in name or the file / folder path as given.
        train, val, test: the three :class:`Split` s (val comes out of the training part).
        kind: "image" (N, C, H, W), "signal" (N, C, L) or "tabular" (N, F).
        num_classes: number of classes (labels 0 .. num_classes - 1); for regression 1, the
            model's one output.
        input_shape: per-sample shape, e.g. (1, 8, 8) for digits.
        feature_names: column names for tabular data, else None.
        class_names: the original label of each class index as a string (None for regression).
        description: one paragraph: what the data is, its size, and its source.
        informative: LongTensor of the truly informative feature indices ("sparse"), else None.
        mean, std: the standardization fitted on train (broadcastable to one sample), or None.
        seed: the seed that drew the splits.
        encoding: for a table, the encoders fitted on train as JSON
            (:func:`reglab.data._table.fit_encoding`: columns, kinds, fill values,
            categories, output feature names), applied to raw rows by ``load_model``; else None.
        task: "classification" or "regression" (inferred from the target, or forced:
            ``load(..., task=)``; the rule: :func:`reglab.data._prepare.infer_task`).
        target_name: the target column's name (a table), else None.
        target_mean, target_std: regression only: the training split's target mean and std
            (ddof 0); ``y = (target - target_mean) / target_std``. None for classification.

    Example:
        >>> ds = rl.data.load("digits", seed=0)
        >>> ds.train.X.shape[1:] == ds.input_shape
        True
    """

    name: str
    train: Split
    val: Split
    test: Split
    kind: str
    num_classes: int
    input_shape: tuple[int, ...]
    feature_names: list[str] | None
    class_names: list[str] | None
    description: str
    informative: torch.Tensor | None = None
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    seed: int = 0
    encoding: dict[str, Any] | None = None
    task: str = "classification"
    target_name: str | None = None
    target_mean: float | None = None
    target_std: float | None = None

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, kind={self.kind!r}, train={len(self.train)}, "
                f"val={len(self.val)}, test={len(self.test)}, "
                + (f"num_classes={self.num_classes}, " if self.task == "classification"
                   else "task='regression', ")
                + f"input_shape={self.input_shape})")


@dataclass
class Raw:
    """Unsplit data as read from a source: X (N, ...) numeric, y (N,) labels of any type.

    ``X_test`` / ``y_test`` hold a published test split when the source has one.
    """

    X: np.ndarray
    y: np.ndarray
    kind: str
    where: str                       # how error messages name the source, e.g. "file 'a.csv'"
    description: str
    feature_names: list[str] | None = None
    class_names: list[str] | None = None   # set when y already holds codes 0..K-1
    informative: np.ndarray | None = None
    task: str | None = None                 # a built-in's own task; None: inferred from y
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
