"""``load``: name or path in, a split and standardized Dataset out."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab._validation import (InvalidParameterError, check_bool, check_choice, check_float,
                                check_int, fail)
from reglab.data import _prepare as P
from reglab.data import _table as T
from reglab.data._builtins import BUILTINS, SUMMARIES, load_builtin
from reglab.data._files import SUFFIX_TEXT, read_path
from reglab.data._types import TASKS, DataError, Dataset, Raw, Split

__all__ = ["available", "load"]

_OWNER = "reglab.data.load"
SPLITS = ("random", "time")


def _checked(fn, *args, **kwargs):
    # The validation helpers raise InvalidParameterError; the data layer's type is DataError.
    try:
        return fn(*args, **kwargs)
    except InvalidParameterError as e:
        raise DataError(str(e)) from None


def _check_fractions(val_fraction: Any, test_fraction: Any) -> tuple[float, float]:
    v = _checked(check_float, _OWNER, "val_fraction", val_fraction, 0, 1, low_open=True, high_open=True)
    t = _checked(check_float, _OWNER, "test_fraction", test_fraction, 0, 1, low_open=True,
                 high_open=True)
    if v + t >= 1:
        raise DataError(f"The 'val_fraction' and 'test_fraction' parameters of {_OWNER} must add "
                        f"up to less than 1, leaving rows to train on. Got {v!r} + {t!r} instead.")
    return v, t


def _read(name_or_path: Any, options: dict[str, Any]) -> tuple[str, Raw]:
    """Dispatch to a built-in, a file or a folder; the first element is the data set's name."""
    if isinstance(name_or_path, str) and name_or_path in BUILTINS:
        return name_or_path, load_builtin(name_or_path, options)
    if not isinstance(name_or_path, (str, os.PathLike)) or name_or_path == "":
        raise DataError(str(fail(_OWNER, "name_or_path", f"a built-in name ({', '.join(BUILTINS)}), "
                                 f"a file path or a folder path", name_or_path)))
    shown = os.fspath(name_or_path)
    path = Path(shown).expanduser()
    if path.exists():
        return shown, read_path(path, shown, options)
    if isinstance(name_or_path, str) and not path.suffix and "/" not in shown and os.sep not in shown:
        close = difflib.get_close_matches(shown.lower(), BUILTINS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(f"Unknown data set {shown!r}: not a built-in ({', '.join(BUILTINS)}) and no "
                        f"file or folder of that name exists.{hint}")
    raise DataError(f"Data file {shown!r} does not exist (looked for {path.absolute()}); give a "
                    f"{SUFFIX_TEXT} file, a folder of images, or a built-in name.")


def _arrays(raw: Raw) -> tuple[np.ndarray, np.ndarray, int]:
    """All rows (published test last), all labels, and how many rows the split may draw from."""
    X, y = np.asarray(raw.X), np.asarray(raw.y)
    if len(X) != len(y):
        raise DataError(f"X and y of {raw.where} have different lengths: X has {len(X)} rows, "
                        f"y has {len(y)} labels.")
    if raw.X_test is None:
        return X, y, len(X)
    return np.concatenate([X, raw.X_test]), np.concatenate([y, raw.y_test]), len(X)


def _split(X: np.ndarray, standardize: bool, raw: Raw, parts: list[np.ndarray], codes: np.ndarray):
    """The three Splits (``codes``: class codes, or float32 standardized targets) and the
    inputs' standardization."""
    mean = std = None
    if standardize:
        mean, std = P.standardize_stats(X[parts[0]], raw.kind)
    xs = []
    for idx in parts:
        with np.errstate(over="ignore", invalid="ignore"):  # checked by check_float32
            x = X[idx] if mean is None else (X[idx] - mean) / std
            xs.append(np.ascontiguousarray(x, dtype=np.float32))
    P.check_float32(list(zip(("train", "val", "test"), xs)), raw, standardize)
    splits = []
    for x, idx in zip(xs, parts):
        splits.append(Split(X=torch.from_numpy(x), y=torch.from_numpy(codes[idx]),
                            indices=torch.from_numpy(idx.astype(np.int64))))
    as_tensor = (lambda a: None if a is None else torch.from_numpy(a.astype(np.float32)))
    return splits, as_tensor(mean), as_tensor(std)


def load(name_or_path: str | os.PathLike, seed: int = 0, val_fraction: float = 0.15,
         test_fraction: float = 0.2, **options: Any) -> Dataset:
    """Load a built-in data set or a user's file, split it and standardize it on train only.

    Splits are stratified and shuffled with ``seed`` (per class, ``round(f * n_c)`` rows go to
    val and test, at least one each); val comes out of the training part; a built-in with a
    published test split (mnist1d) keeps it, ``test_fraction`` is then unused and val is
    ``val_fraction`` of the published training part. Standardization: x <- (x - mean) / std
    with mean, std over the training split (per feature; per channel for image and signal).
    Test or validation rows that exactly copy a training row raise a ``DataWarning``.

    The task (``Dataset.task``) is inferred from the target
    (:func:`reglab.data._prepare.infer_task`: a numeric target with a non-integer value, or
    with more than 20 distinct values that are also more than 5% of the rows, is
    regression) or forced with ``task=``. A regression split is shuffled without strata, and
    its targets are standardized with the training split's mean and std
    (``Dataset.target_mean`` / ``target_std``).

    Args:
        name_or_path: a built-in name (``BUILTINS``), a ``.csv`` or ``.npz`` file, or a folder
            of images with one sub-folder per class.
        seed: seed of the shuffled, stratified split (int >= 0). Default 0.
        val_fraction: share of the rows for validation, in (0, 1). Default 0.15.
        test_fraction: share of the rows for test, in (0, 1); val + test < 1. Default 0.2.
        **options: ``task="auto"`` ("classification" or "regression" forces it);
            ``standardize=True`` (inputs, and a regression target); ``shuffle=True`` (False takes contiguous blocks in
            file order, unstratified: only to demonstrate the no-shuffle pitfall); per source:
            CSV ``target`` (required), ``delimiter=","``; folder ``size=(32, 32)`` (H, W),
            ``grayscale=False``; sparse ``n_samples=1500``, ``n_features=1000``,
            ``n_informative=20``, ``n_classes=2``, ``data_seed=0``.

    Raises:
        DataError: with one message naming the problem and where it is.

    Example:
        >>> ds = load("wine", seed=1)
        >>> ds.train.X.shape, ds.num_classes
        (torch.Size([115, 13]), 3)
    """
    seed = _checked(check_int, _OWNER, "seed", seed, 0)
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    standardize = _checked(check_bool, _OWNER, "standardize", options.pop("standardize", True))
    task = _checked(check_choice, _OWNER, "task", options.pop("task", "auto"), ("auto", *TASKS))
    shuffle = _checked(check_bool, _OWNER, "shuffle", options.pop("shuffle", True))
    split = _checked(check_choice, _OWNER, "split", options.pop("split", "random"), SPLITS)
    name, raw = _read(name_or_path, options)
    frame = raw.extra.pop("frame", None)          # a table: encoded below, on train only
    X, y, n_pool = _arrays(raw)
    raw.y = y
    task = P.infer_task(raw, task)
    if task == "regression":  # one stratum: the split shuffles without strata
        codes, class_names = np.zeros(len(y), dtype=np.int64), None
    else:
        codes, class_names = P.encode_labels(raw)
    fractions = [val_fraction] if raw.X_test is not None else [val_fraction, test_fraction]
    parts, how = _parts(raw, codes, n_pool, fractions, seed, shuffle, split, class_names)
    if raw.X_test is not None:
        parts.append(np.arange(n_pool, len(X)))
    target_mean = target_std = None
    if task == "regression":  # standardized with the training split's mean and std
        values = P.numeric_targets(y)
        target_mean, target_std = P.target_stats(values[parts[0]]) if standardize else (0.0, 1.0)
        codes = ((values - target_mean) / target_std).astype(np.float32)
    encoding = None
    if frame is not None:
        X, encoding = _encode(frame, parts[0], raw)
        raw.feature_names = encoding["output"]
    if how is not None:
        P.warn_unshuffled(codes[:n_pool], parts, class_names, raw.where, how)
    P.check_finite(X, raw)
    P.warn_duplicates(X, *parts, where=raw.where)
    (train, val, test), mean, std = _split(X, standardize, raw, parts, codes)
    informative = None if raw.informative is None else torch.as_tensor(raw.informative).long()
    features = None if raw.feature_names is None else [str(f) for f in raw.feature_names]
    return Dataset(name=name, train=train, val=val, test=test, kind=raw.kind,
                   num_classes=1 if class_names is None else len(class_names),
                   input_shape=tuple(X.shape[1:]), feature_names=features,
                   class_names=None if class_names is None else [str(c) for c in class_names],
                   description=raw.description, informative=informative, mean=mean, std=std,
                   seed=seed, encoding=encoding, task=task,
                   target_name=raw.extra.get("target_name"), target_mean=target_mean,
                   target_std=target_std)


def _parts(raw: Raw, codes: np.ndarray, n_pool: int, fractions: list[float], seed: int,
           shuffle: bool, split: str, class_names: list[str] | None
           ) -> tuple[list[np.ndarray], str | None]:
    """The split's row indices ``[train, val, test]`` and, for a split that keeps the file's
    order, how (for the shuffle-pitfall warning; None when it shuffles)."""
    extra = raw.extra
    order, group, column = (extra.get(k) for k in ("order_column", "group_column",
                                                    "split_column"))
    chosen = [k for k, v in (("split='time'", split == "time"), ("group_column", group is not None),
                             ("split_column", column is not None)) if v]
    if len(chosen) > 1:
        raise DataError(f"Data {raw.where}: {chosen[0]} and {chosen[1]} each decide the split; "
                        "give one of them.")
    if (split == "time") != (order is not None):
        raise DataError(f"Data {raw.where}: split='time' and order_column go together (a "
                        "time-ordered split needs the column that orders the rows).")
    if column is not None:
        if raw.X_test is not None:
            raise DataError(f"Data {raw.where}: split_column and test_data each decide the test "
                            "rows; give one of them.")
        if class_names is not None:
            P.check_classes(codes, class_names, fractions, raw, stratified=False)
        return P.column_split(column, raw.where), None
    if class_names is not None:  # classification
        P.check_classes(codes[:n_pool], class_names, fractions, raw,
                        stratified=shuffle and split == "random" and group is None)
    if n_pool < P._min_class_size(fractions):
        raise DataError(f"Data {raw.where} has only {n_pool} rows; too few to split.")
    if order is not None:
        return P.time_split(order[:n_pool], fractions, raw.where), "split='time'"
    if group is not None:
        return P.group_split(group[:n_pool], fractions, seed, raw.where), None
    parts = P.split_indices(codes, n_pool, fractions, seed, shuffle)
    return parts, None if shuffle else "shuffle=False"


def _encode(frame, train: np.ndarray, raw: Raw) -> tuple[np.ndarray, dict]:
    """Fit the table's encoders on the training rows, announce them, encode every row."""
    kinds = T.column_kinds(frame)
    numeric = [c for c in frame.columns if kinds[c] == "numeric"]
    if numeric:  # missing cells are filled below; an infinite one would poison the mean
        import pandas as pd  # only for table files

        values = frame[numeric].apply(pd.to_numeric).to_numpy(np.float64)
        P.check_finite(np.nan_to_num(values, nan=0.0, posinf=np.inf, neginf=-np.inf),
                       Raw(X=values, y=raw.y, kind="tabular", where=raw.where,
                           description="", feature_names=numeric))
    T.warn_id_columns(frame, kinds, raw.where)
    encoding = T.fit_encoding(frame.iloc[train], kinds, raw.where)
    T.announce_encoding(encoding, frame, raw.where)
    return T.apply_encoding(encoding, frame, raw.where), encoding


def available() -> list[tuple[str, str, str]]:
    """The built-in data sets as (name, kind, one-line summary), for ``reglab datasets``.

    Example:
        >>> [name for name, _, _ in available()][:2]
        ['digits', 'mnist1d']
    """
    return list(SUMMARIES)
