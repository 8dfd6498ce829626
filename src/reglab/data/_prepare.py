"""From raw arrays to a Dataset: label encoding, checks, stratified splits, standardization."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from reglab.data._types import DataError, DataWarning, Raw

__all__ = ["check_finite", "check_float32", "duplicates", "encode_labels", "infer_task",
           "numeric_targets", "split_indices", "standardize_stats", "REGRESSION_MIN_DISTINCT",
           "REGRESSION_MIN_SHARE"]


# Float labels are read as integers only up to 2**53: beyond it a float64 no longer holds
# every integer (1e300 and 1e300 + 1 are the same float) and int64 overflows at 2**63, which
# silently merged classes such as 1e300 and 2e300.
LABEL_INT_LIMIT = 2 ** 53


def _integer_valued(v: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(v)) and np.all(v == np.round(v))
                and np.all(np.abs(v) <= LABEL_INT_LIMIT))


# The task rule (infer_task): a numeric target is a regression target when it holds a
# non-integer value, or more than 20 distinct values that are also more than 5% of the rows
# (digits' 10 labels, a 1-5 rating: classes; diabetes' 214 values over 442 rows: regression).
REGRESSION_MIN_DISTINCT = 20
REGRESSION_MIN_SHARE = 0.05


def numeric_targets(y: np.ndarray) -> np.ndarray | None:
    """The targets as float64 when every one is a finite number (text that parses counts),
    else None."""
    y = np.asarray(y)
    if y.dtype.kind in "biuf":
        values = y.astype(np.float64)
    elif y.dtype.kind in "USO":
        try:
            values = y.astype(np.float64)
        except (TypeError, ValueError):
            return None
    else:
        return None
    return values if values.size and bool(np.all(np.isfinite(values))) else None


def infer_task(raw: Raw, forced: str) -> str:
    """"classification" or "regression" for ``raw``'s target; ``forced`` ("auto",
    "classification" or "regression") wins unless it is "auto".

    auto: a built-in's own task; a target of class codes (folders) is classification; a
    numeric target that is not all integers, or has more than
    :data:`REGRESSION_MIN_DISTINCT` distinct values that are also more than
    :data:`REGRESSION_MIN_SHARE` of the rows, is regression; anything else (text, few
    distinct integers) is classification. Regression needs a numeric target.

    Example: y = [0.5, 1.25, 3.0] -> "regression"; y = [1, 2, 2, 3] -> "classification".
    """
    values = numeric_targets(raw.y)
    if forced == "regression":
        if values is None:
            y = np.asarray(raw.y).reshape(-1)
            bad = next((v for v in y if numeric_targets(np.asarray([v])) is None), y[0])
            allowed = (f"'classification' or 'auto' for {raw.where}: a regression target "
                       f"must be finite numbers, and it holds {str(bad)!r}")
            err = DataError(f"The 'task' parameter of reglab.data.load must be {allowed}. Got "
                            f"'regression' instead.")
            # the template's parts: the CLI restates it as '--task' (or the TOML key)
            err.owner, err.name, err.allowed, err.value = ("reglab.data.load", "task", allowed,
                                                           "regression")
            raise err
        return "regression"
    if forced == "classification":
        return "classification"
    if raw.task is not None:
        return raw.task
    if raw.class_names is not None or values is None:
        return "classification"
    if not np.all(values == np.round(values)):
        return "regression"
    distinct = len(np.unique(values))
    many = distinct > REGRESSION_MIN_DISTINCT and distinct > REGRESSION_MIN_SHARE * len(values)
    return "regression" if many else "classification"


def encode_labels(raw: Raw) -> tuple[np.ndarray, list[str]]:
    """Map labels to codes 0..K-1 (sorted numerically when every label is a number) and names.

    Text labels that are all integers within +-2**53 sort as numbers; any other text labels
    (e.g. "1e300", "2e300") stay text, one class per distinct string. Float arrays (.npz)
    must hold integers within +-2**53.

    Example: ["b", "a", "b"] -> ([1, 0, 1], ["a", "b"]); ["10", "2"] -> ([1, 0], ["2", "10"]).
    """
    y = np.asarray(raw.y)
    if raw.class_names is not None:                 # built-ins and folders: already codes
        return y.astype(np.int64), list(raw.class_names)
    if y.dtype.kind in "US":
        try:
            as_float = y.astype(np.float64)
        except ValueError:
            as_float = None
        if as_float is not None and _integer_valued(as_float):
            y = as_float.astype(np.int64)
    elif y.dtype.kind == "f":
        if not _integer_valued(y):
            with np.errstate(invalid="ignore"):
                bad = ~np.isfinite(y) | (y != np.round(y)) | (np.abs(y) > LABEL_INT_LIMIT)
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"Labels of {raw.where} must be integers within +-2**53 or strings; "
                            f"row {row} has {float(y[row])!r}.")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "biu":
        raise DataError(f"Labels of {raw.where} have dtype {y.dtype}; they must be integers or strings.")
    values, codes = np.unique(y, return_inverse=True)
    names = [str(v) for v in values]
    hint = raw.extra.get("class_names")
    if hint is not None and values.dtype.kind in "iu" and values.min() >= 0 and values.max() < len(hint):
        names = [hint[int(v)] for v in values]
    return codes.astype(np.int64).reshape(-1), names


def check_finite(X: np.ndarray, raw: Raw) -> None:
    """Raise a DataError counting NaN / infinite entries and saying where they are."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    if raw.kind == "tabular":
        per_col = bad.sum(axis=0)
        names = raw.feature_names or [f"column {j}" for j in range(X.shape[1])]
        places = [f"{names[j]!r} ({per_col[j]})" for j in np.flatnonzero(per_col)]
        where = "in columns " + ", ".join(places[:10]) + (", ..." if len(places) > 10 else "")
    else:
        rows = np.flatnonzero(bad.reshape(len(X), -1).any(axis=1))
        where = "in samples " + ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
    raise DataError(f"Data {raw.where} has {int(bad.sum())} NaN or infinite values {where} (empty "
                    f"cells count as missing); fill or drop them first.")


def _allocate(n: int, fractions: Sequence[float]) -> list[int]:
    """Per-class counts for (val[, test]): round(f * n), at least 1 each; the rest is train."""
    return [max(1, math.floor(f * n + 0.5)) for f in fractions]


def _min_class_size(fractions: Sequence[float]) -> int:
    n = len(fractions) + 1
    while n - sum(_allocate(n, fractions)) < 1:
        n += 1
    return n


def check_classes(codes: np.ndarray, names: list[str], fractions: Sequence[float], raw: Raw,
                  stratified: bool) -> None:
    """At least two classes, and (stratified) every class big enough for one sample per split."""
    counts = np.bincount(codes, minlength=len(names))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        only = names[present[0]] if len(present) else "none"
        raise DataError(f"Only one class ({only!r}, {len(codes)} samples) in the labels of "
                        f"{raw.where}; classification needs at least 2.")
    if not stratified:
        return
    need = _min_class_size(fractions)
    small = [c for c in range(len(names)) if counts[c] < need]
    if small:
        c = min(small, key=lambda k: counts[k])
        splits = "train, val and test" if len(fractions) == 2 else "train and val"
        raise DataError(f"Class {names[c]!r} of {raw.where} has only {counts[c]} sample(s); the "
                        f"requested split needs at least {need} per class so that {splits} each get "
                        f"one. Add samples, merge classes or lower val_fraction / test_fraction.")


def split_indices(codes: np.ndarray, n_pool: int, fractions: Sequence[float], seed: int,
                  shuffle: bool) -> list[np.ndarray]:
    """Indices of (val[, test]) and train inside rows 0..n_pool-1: stratified and shuffled.

    Per class, ``round(f * n_c)`` (at least 1) rows go to each held-out split, so every
    split's class counts are within one sample of ``f * n_c``. ``shuffle=False`` takes
    contiguous blocks in source order instead (the pitfall reglab can demonstrate).
    Returns ``[train, val]`` or ``[train, val, test]``.
    """
    if not shuffle:
        sizes = _allocate(n_pool, fractions)
        ends = np.cumsum([n_pool - sum(sizes), *sizes])
        return np.split(np.arange(n_pool), ends[:-1])
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(codes[:n_pool]):
        idx = rng.permutation(np.flatnonzero(codes[:n_pool] == c))
        ends = np.cumsum(_allocate(len(idx), fractions))
        held = np.split(idx, ends)                    # val, [test,] train
        for k, part in enumerate([held[-1], *held[:-1]]):
            parts[k].append(part)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def target_stats(y_train: np.ndarray) -> tuple[float, float]:
    """Mean and std (ddof 0) of the training targets; a constant target gets std 1."""
    mean, std = float(np.mean(y_train)), float(np.std(y_train))
    return mean, std if std > 0 else 1.0


def standardize_stats(X_train: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (ddof 0) over the training rows: per feature, or per channel for image/signal.

    A constant feature / channel gets std 1 so it maps to 0 instead of NaN.
    """
    axes = {"tabular": (0,), "signal": (0, 2), "image": (0, 2, 3)}[kind]
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, by column
        mean = X_train.mean(axis=axes, keepdims=True, dtype=np.float64)[0]
        std = X_train.std(axis=axes, keepdims=True, dtype=np.float64)[0]
    std[std == 0] = 1.0
    return mean, std


def check_float32(parts: Sequence[tuple[str, np.ndarray]], raw: Raw, standardized: bool) -> None:
    """Every value must be finite once standardized and cast to float32 (the models' type):
    values near 1e308 pass the finiteness check but overflow the mean or the cast."""
    for split, x in parts:
        bad = ~np.isfinite(x)
        if not bad.any():
            continue
        if raw.kind == "tabular":
            names = raw.feature_names or [f"column {j}" for j in range(x.shape[1])]
            cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
            more = ", ..." if len(cols) > 10 else ""
            place = "column " + ", ".join(repr(c) for c in cols[:10]) + more
        else:
            channels = np.flatnonzero(bad.reshape(len(x), x.shape[1], -1).any(axis=(0, 2)))
            place = "channel " + ", ".join(str(c) for c in channels)
        how = "standardizing it overflows" if standardized else "it overflows float32"
        raise DataError(f"Data {raw.where} has values too large to train on in {place} "
                        f"({how}: |values| must stay well below 1e38); rescale that data first.")


def duplicates(X: np.ndarray, train: np.ndarray, held: np.ndarray) -> int:
    """How many rows of ``held`` are exact copies of some training row."""
    rows = np.ascontiguousarray(X.reshape(len(X), -1) + 0)   # + 0 maps -0.0 to 0.0
    seen = {rows[i].tobytes() for i in train}
    return sum(rows[i].tobytes() in seen for i in held)


def warn_duplicates(X: np.ndarray, train: np.ndarray, val: np.ndarray, test: np.ndarray,
                    where: str) -> None:
    """Warn (DataWarning) when test or validation rows are exact copies of training rows."""
    n_test, n_val = duplicates(X, train, test), duplicates(X, train, val)
    if n_test or n_val:
        warnings.warn(
            f"Data {where}: {n_test} of {len(test)} test rows and {n_val} of {len(val)} "
            f"validation rows are exact duplicates of training rows, so held-out scores will be "
            f"optimistic; remove duplicate rows from the data to avoid it.",
            DataWarning, stacklevel=3)


def time_split(order: np.ndarray, fractions: Sequence[float], where: str) -> list[np.ndarray]:
    """Rows sorted by ``order`` (numbers, else text: ISO dates sort as text), then contiguous
    blocks: train the earliest, then val, then test the latest. No shuffle."""
    if any(v is None for v in order):
        raise DataError(f"The order column of {where} is empty in some rows; a time-ordered "
                        "split needs a time in every row.")
    try:
        keys = np.asarray(order, dtype=np.float64)
    except (TypeError, ValueError):
        keys = np.asarray([str(v) for v in order])
    idx = np.argsort(keys, kind="stable")
    sizes = _allocate(len(idx), fractions)
    ends = np.cumsum([len(idx) - sum(sizes), *sizes])
    return np.split(idx, ends[:-1])


def group_split(groups: np.ndarray, fractions: Sequence[float], seed: int, where: str
                ) -> list[np.ndarray]:
    """Whole groups to each split (GroupShuffleSplit-style: no group on two sides). Groups are
    shuffled with ``seed``; test, then val take groups until they hold ``round(f * n)`` rows
    or more; the rest train. Returns ``[train, val, test]`` (or ``[train, val]``)."""
    if any(v is None for v in groups):
        raise DataError(f"The group column of {where} is empty in some rows; every row needs "
                        "a group.")
    names, inverse = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    if len(names) < len(fractions) + 1:
        raise DataError(f"The group column of {where} has {len(names)} group(s); a split by "
                        f"group needs at least {len(fractions) + 1}.")
    order = np.random.default_rng(seed).permutation(len(names))
    counts = np.bincount(inverse, minlength=len(names))
    owner = np.zeros(len(names), dtype=np.int64)            # 0 train, 1 val, 2 test
    pos, n = 0, len(groups)
    for part in range(len(fractions), 0, -1):                  # test first, then val
        want, got = _allocate(n, fractions)[part - 1], 0
        while got < want and pos < len(order) - part:          # leave a group for the rest
            owner[order[pos]], got, pos = part, got + counts[order[pos]], pos + 1
    return [np.flatnonzero(owner[inverse] == k) for k in range(len(fractions) + 1)]


def column_split(values: np.ndarray, where: str) -> list[np.ndarray]:
    """The user's own split: a column holding train, val (or validation) or test per row."""
    names = {"train": 0, "val": 1, "validation": 1, "test": 2}
    bad = [v for v in values if v is None or str(v).lower() not in names]
    if bad:
        raise DataError(f"The split column of {where} must hold train, val or test in every "
                        f"row. Got {bad[0]!r}.")
    part = np.asarray([names[str(v).lower()] for v in values])
    missing = [n for n, k in (("train", 0), ("val", 1), ("test", 2)) if not (part == k).any()]
    if missing:
        raise DataError(f"The split column of {where} has no {missing[0]!r} rows; it needs "
                        "train, val and test rows.")
    return [np.flatnonzero(part == k) for k in range(3)]


def label_runs(codes: np.ndarray) -> tuple[int, float]:
    """(number of runs of equal consecutive labels, the number expected in random order)."""
    n = len(codes)
    runs = 1 + int(np.count_nonzero(codes[1:] != codes[:-1])) if n else 0
    p = np.bincount(codes) / max(n, 1)
    return runs, 1 + (n - 1) * (1 - float(np.sum(p ** 2)))


def warn_unshuffled(codes: np.ndarray, parts: Sequence[np.ndarray], names: Sequence[str],
                    where: str, how: str) -> None:
    """The note's pitfall: labels in long runs + a split that does not shuffle = held-out
    splits with other classes than train, so early stopping watches the wrong estimate.
    Warns when the file has fewer than half the label runs random order would give."""
    runs, expected = label_runs(codes)
    if runs >= expected / 2:
        return
    counts = [np.bincount(codes[p], minlength=len(names)).tolist() for p in parts]
    shown = ", ".join(f"{s} {c}" for s, c in zip(("train", "val", "test"), counts))
    warnings.warn(
        f"Data {where}: the labels come in long runs ({runs} runs over {len(codes)} rows; about "
        f"{expected:.0f} in random order) and the split does not shuffle ({how}); class counts "
        f"{shown}: validation and test do not look like train, so early stopping and the test "
        f"score estimate the wrong thing. Shuffle the split unless the order is the point.",
        DataWarning, stacklevel=3)
