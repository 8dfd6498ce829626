"""Built-in data sets, all available offline: digits, mnist1d, breast_cancer, wine, sparse
(classification), diabetes and sparse_regression (regression)."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from reglab._validation import InvalidParameterError, check_float, check_int
from reglab.data._types import DataError, Raw

__all__ = ["BUILTINS", "SUMMARIES", "load_builtin", "take_options"]


def take_options(where: str, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict:
    """Merge ``options`` into ``defaults``; an unknown key is a DataError naming the allowed ones."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise DataError(f"Unknown option {unknown[0]!r} for {where}; allowed options: {allowed}.")
    return {**defaults, **options}


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``load_digits()``'s ``data`` (1797, 64) float64 and ``target`` (1797,) int, read from the
    file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``: 64 pixels and the label
    per line) without importing scikit-learn, which takes ~1.5 s here; the same arrays bit
    for bit (tests/test_data.py). Any surprise in that file: ``load_digits()`` itself."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    folders = list(spec.submodule_search_locations or []) if spec else []
    try:
        table = np.loadtxt(Path(folders[0]) / "datasets" / "data" / "digits.csv.gz",
                           delimiter=",") if folders else None
    except (OSError, ValueError):
        table = None
    if table is not None and table.shape == (1797, 65):
        return table[:, :-1], table[:, -1].astype(int)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data, bunch.target


def _digits() -> Raw:
    data, target = _digits_arrays()
    return Raw(
        X=data.reshape(-1, 1, 8, 8), y=target, kind="image", where="built-in 'digits'",
        class_names=[str(c) for c in range(10)],
        description=(
            "Handwritten digits 0-9 as 1797 grayscale images of 8x8 pixels (values 0-16, about "
            "180 per class), each the count of ink pixels in a 4x4 block of a 32x32 bitmap. It is "
            "the test part of the UCI 'Optical Recognition of Handwritten Digits' data set "
            "(Alpaydin & Kaynak, 1998) as shipped with scikit-learn (sklearn.datasets.load_digits), "
            "so it loads offline."),
    )


@functools.lru_cache(maxsize=1)
def mnist1d_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate MNIST-1D once per process: (x (4000, 40), y, x_test (1000, 40), y_test), read-only.

    Uses the package's own generator with its published arguments (seed 42), never its
    download path (a pickle from the network).
    """
    from mnist1d.data import get_dataset_args, make_dataset  # loads matplotlib (~1.5 s)

    # make_dataset reseeds the global `random` and `np.random`: give the caller theirs back.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    arrays = tuple(np.array(data[k]) for k in ("x", "y", "x_test", "y_test"))
    for a in arrays:
        a.setflags(write=False)
    return arrays  # type: ignore[return-value]


def _mnist1d() -> Raw:
    x, y, x_test, y_test = mnist1d_arrays()
    return Raw(
        X=x.reshape(-1, 1, 40), y=y, X_test=x_test.reshape(-1, 1, 40), y_test=y_test,
        kind="signal", where="built-in 'mnist1d'", class_names=[str(c) for c in range(10)],
        description=(
            "MNIST-1D: ten hand-made 1-D digit templates of 12 points, each randomly padded, "
            "translated, scaled, sheared and given correlated and white noise, giving 5000 signals "
            "of 40 points in 10 balanced classes, with the published 4000 train / 1000 test split "
            "kept as is. Generated locally and deterministically by the mnist1d package "
            "(make_dataset(get_dataset_args()), seed 42). Source: Greydanus & Kobak, 'Scaling down "
            "deep learning with MNIST-1D', ICML 2024."),
    )


def _sklearn_table(name: str, description: str) -> Raw:
    """A table shipped with scikit-learn (``sklearn.datasets.load_NAME``), so it loads offline."""
    import sklearn.datasets  # heavy to import: only when a built-in table is loaded

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    return Raw(
        X=bunch.data, y=bunch.target, kind="tabular", where=f"built-in {name!r}",
        feature_names=list(bunch.feature_names), class_names=list(bunch.target_names),
        description=description,
    )


_BREAST_CANCER = (
    "Breast Cancer Wisconsin (Diagnostic): 569 tumours, each described by 30 real-valued "
    "features of the cell nuclei seen in a digitized image of a fine-needle aspirate "
    "(mean, standard error and worst value of radius, texture, perimeter, area, "
    "smoothness, ...), labelled malignant (212) or benign (357). Source: Wolberg, Street "
    "& Mangasarian, UCI Machine Learning Repository, as shipped with scikit-learn "
    "(sklearn.datasets.load_breast_cancer).")
_WINE = (
    "Wine recognition: 178 wines grown in the same region of Italy by three cultivars "
    "(59 / 71 / 48), each described by 13 results of a chemical analysis (alcohol, malic "
    "acid, ash, magnesium, flavanoids, colour intensity, proline, ...). Source: Forina et "
    "al., PARVUS, via the UCI Machine Learning Repository, as shipped with scikit-learn "
    "(sklearn.datasets.load_wine).")


SPARSE_DEFAULTS = {"n_samples": 1500, "n_features": 1000, "n_informative": 20, "n_classes": 2,
                   "data_seed": 0}
SPARSE_EFFECT = (1.0, 2.0)       # |W_jc| of an informative feature, uniform in this range


def _sparse_start(owner: str, n_samples, n_features, n_informative, data_seed, own) -> tuple:
    """What the two sparse data sets share: their options checked (the first bad one raises
    one DataError line naming it), then, from ``default_rng(data_seed)`` in this order,
    ``X ~ N(0, I)`` (n, F) and the sorted informative columns.

    ``own``: the set's own option as ``(check, name, value, *bounds)``, checked before
    data_seed. Returns ``(n_samples, n_features, n_informative, own value, data_seed, rng, X,
    informative)``, the options as checked.
    """
    check, name, value, *bounds = own
    try:
        n_samples = check_int(owner, "n_samples", n_samples, 10)
        n_features = check_int(owner, "n_features", n_features, 1)
        n_informative = check_int(owner, "n_informative", n_informative, 1, n_features)
        value = check(owner, name, value, *bounds)
        data_seed = check_int(owner, "data_seed", data_seed, 0)
    except InvalidParameterError as e:
        raise DataError(str(e)) from None
    rng = np.random.default_rng(data_seed)
    X = rng.standard_normal((n_samples, n_features))
    informative = np.sort(rng.choice(n_features, n_informative, replace=False))
    return n_samples, n_features, n_informative, value, data_seed, rng, X, informative


def _sparse(n_samples: int = 1500, n_features: int = 1000, n_informative: int = 20,
            n_classes: int = 2, data_seed: int = 0) -> Raw:
    """A sparse multinomial logistic model: its Bayes rule is linear in the informative columns.

    ``X ~ N(0, I)`` (n, F); ``W`` (F, C) is zero except on ``n_informative`` random rows, where
    ``|W_jc| ~ U[1, 2]`` with random signs, not all equal along a row (so every informative
    feature moves the class probabilities); ``y ~ Categorical(softmax(X W))``.
    """
    n_samples, n_features, n_informative, n_classes, data_seed, rng, X, informative = (
        _sparse_start("the 'sparse' data set", n_samples, n_features, n_informative, data_seed,
                      (check_int, "n_classes", n_classes, 2, 1000)))
    signs = rng.choice([-1.0, 1.0], (n_informative, n_classes))
    same = np.all(signs == signs[:, :1], axis=1)        # a constant row cancels in the softmax
    signs[same, rng.integers(n_classes, size=int(same.sum()))] *= -1
    W = np.zeros((n_features, n_classes))
    W[informative] = signs * rng.uniform(*SPARSE_EFFECT, (n_informative, n_classes))
    logits = X @ W
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) < rng.random((n_samples, 1))).sum(1).clip(max=n_classes - 1)  # y ~ p
    return Raw(
        X=X, y=y, kind="tabular", where="built-in 'sparse'",
        feature_names=[f"x{j}" for j in range(n_features)],
        class_names=[str(c) for c in range(n_classes)],
        informative=informative,
        description=(
            f"Synthetic sparse classification from a multinomial logistic model: {n_samples} "
            f"samples with {n_features} independent standard normal features, of which only "
            f"{n_informative} (at random positions) are informative, and {n_classes} classes. "
            f"Each label is drawn from softmax(x W), where W is zero except on the informative "
            f"rows, whose entries have magnitudes uniform in [1, 2] and random signs (never all "
            f"equal along a row, so every informative feature matters). The Bayes classifier is "
            f"therefore linear and uses exactly the informative features, exposed as "
            f"ds.informative so that a feature selection (e.g. by L1) can be scored. Source: "
            f"generated by reglab with numpy's default_rng({data_seed}) (options n_samples, "
            f"n_features, n_informative, n_classes, data_seed; defaults 1500, 1000, 20, 2, 0)."),
    )


def _diabetes() -> Raw:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    raw = Raw(
        X=bunch.data, y=bunch.target.astype(np.float64), kind="tabular",
        where="built-in 'diabetes'", feature_names=list(bunch.feature_names), task="regression",
        description=(
            "Diabetes (regression): 442 patients, each described by 10 baseline variables (age, "
            "sex, body mass index, average blood pressure and six blood serum measurements s1-s6), "
            "and the target: a quantitative measure of disease progression one year after "
            "baseline (25 to 346). Source: Efron, Hastie, Johnstone & Tibshirani, 'Least Angle "
            "Regression', Annals of Statistics 2004, as shipped with scikit-learn "
            "(sklearn.datasets.load_diabetes, unscaled)."),
    )
    raw.extra["target_name"] = "progression"
    return raw


SPARSE_REGRESSION_DEFAULTS = {"n_samples": 400, "n_features": 100, "n_informative": 5,
                              "noise": 0.5, "data_seed": 0}


def _sparse_regression(n_samples: int = 400, n_features: int = 100, n_informative: int = 5,
                       noise: float = 0.5, data_seed: int = 0) -> Raw:
    """A sparse linear model: ``y = X w + noise * e``, ``w`` zero except on the informative rows.

    ``X ~ N(0, I)`` (n, F); ``w_j = s_j * U[1, 2]`` with random signs ``s_j`` on
    ``n_informative`` random columns (``ds.informative``), 0 elsewhere; ``e ~ N(0, 1)``.
    """
    n_samples, n_features, n_informative, noise, data_seed, rng, X, informative = (
        _sparse_start("the 'sparse_regression' data set", n_samples, n_features, n_informative,
                      data_seed, (check_float, "noise", noise, 0)))
    w = np.zeros(n_features)
    w[informative] = rng.choice([-1.0, 1.0], n_informative) * rng.uniform(
        *SPARSE_EFFECT, n_informative)
    y = X @ w + noise * rng.standard_normal(n_samples)
    raw = Raw(
        X=X, y=y, kind="tabular", where="built-in 'sparse_regression'",
        feature_names=[f"x{j}" for j in range(n_features)], informative=informative,
        task="regression",
        description=(
            f"Synthetic sparse linear regression: {n_samples} samples with {n_features} "
            f"independent standard normal features, of which only {n_informative} (at random "
            f"positions, exposed as ds.informative) enter the target y = x w + {noise:g} e, "
            f"e ~ N(0, 1); w is zero except on the informative features, whose weights have "
            f"magnitudes uniform in [1, 2] and random signs. A feature selection (e.g. by L1, "
            f"or the lasso path) can be scored against that true support. Source: generated "
            f"by reglab with numpy's default_rng({data_seed}) (options n_samples, n_features, "
            f"n_informative, noise, data_seed; defaults 400, 100, 5, 0.5, 0)."),
    )
    raw.extra["target_name"] = "y"
    return raw


_LOADERS: dict[str, tuple[Callable[..., Raw], dict[str, Any], str, str]] = {
    "digits": (_digits, {}, "image", "1797 handwritten digits, 8x8 grayscale, 10 classes"),
    "mnist1d": (_mnist1d, {}, "signal",
                "MNIST-1D, 5000 signals of 40 points, 10 classes, 4000/1000 published split"),
    "breast_cancer": (functools.partial(_sklearn_table, "breast_cancer", _BREAST_CANCER), {},
                      "tabular",
                      "569 tumours, 30 features, malignant vs benign"),
    "wine": (functools.partial(_sklearn_table, "wine", _WINE), {}, "tabular",
             "178 wines, 13 chemical features, 3 cultivars"),
    "sparse": (_sparse, SPARSE_DEFAULTS, "tabular",
               "synthetic sparse logistic model, 1500 samples, 1000 features of which 20 "
               "informative, 2 classes"),
    "diabetes": (_diabetes, {}, "tabular",
                 "regression: 442 patients, 10 features, disease progression after a year"),
    "sparse_regression": (_sparse_regression, SPARSE_REGRESSION_DEFAULTS, "tabular",
                          "regression: synthetic sparse linear model, 400 samples, 100 "
                          "features of which 5 informative"),
}

BUILTINS: tuple[str, ...] = tuple(_LOADERS)
SUMMARIES: list[tuple[str, str, str]] = [(n, v[2], v[3]) for n, v in _LOADERS.items()]


def load_builtin(name: str, options: Mapping[str, Any]) -> Raw:
    """Read built-in data set ``name`` with its source-specific ``options``."""
    fn, defaults, _, _ = _LOADERS[name]
    return fn(**take_options(f"the built-in data set {name!r}", options, defaults))
