"""Built-in data sets, all available offline: digits, mnist1d, breast_cancer, wine, sparse."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from reglab._validation import InvalidParameterError, check_int
from reglab.data._types import DataError, Raw

__all__ = ["BUILTINS", "SUMMARIES", "load_builtin", "take_options"]


def take_options(where: str, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict:
    """Merge ``options`` into ``defaults``; an unknown key is a DataError naming the allowed ones."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise DataError(f"Unknown option {unknown[0]!r} for {where}; allowed options: {allowed}.")
    return {**defaults, **options}


def _digits() -> Raw:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return Raw(
        X=bunch.data.reshape(-1, 1, 8, 8), y=bunch.target, kind="image", where="built-in 'digits'",
        class_names=[str(c) for c in bunch.target_names],
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
    from mnist1d.data import get_dataset_args, make_dataset

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


def _breast_cancer() -> Raw:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Raw(
        X=bunch.data, y=bunch.target, kind="tabular", where="built-in 'breast_cancer'",
        feature_names=list(bunch.feature_names), class_names=list(bunch.target_names),
        description=(
            "Breast Cancer Wisconsin (Diagnostic): 569 tumours, each described by 30 real-valued "
            "features of the cell nuclei seen in a digitized image of a fine-needle aspirate "
            "(mean, standard error and worst value of radius, texture, perimeter, area, "
            "smoothness, ...), labelled malignant (212) or benign (357). Source: Wolberg, Street "
            "& Mangasarian, UCI Machine Learning Repository, as shipped with scikit-learn "
            "(sklearn.datasets.load_breast_cancer)."),
    )


def _wine() -> Raw:
    from sklearn.datasets import load_wine

    bunch = load_wine()
    return Raw(
        X=bunch.data, y=bunch.target, kind="tabular", where="built-in 'wine'",
        feature_names=list(bunch.feature_names), class_names=list(bunch.target_names),
        description=(
            "Wine recognition: 178 wines grown in the same region of Italy by three cultivars "
            "(59 / 71 / 48), each described by 13 results of a chemical analysis (alcohol, malic "
            "acid, ash, magnesium, flavanoids, colour intensity, proline, ...). Source: Forina et "
            "al., PARVUS, via the UCI Machine Learning Repository, as shipped with scikit-learn "
            "(sklearn.datasets.load_wine)."),
    )


def _sparse(n_samples: int = 600, n_features: int = 1000, n_informative: int = 20,
            n_classes: int = 2, data_seed: int = 0) -> Raw:
    from sklearn.datasets import make_classification

    owner = "the 'sparse' data set"
    try:
        n_samples = check_int(owner, "n_samples", n_samples, 10)
        n_features = check_int(owner, "n_features", n_features, 1)
        n_informative = check_int(owner, "n_informative", n_informative, 1, n_features)
        n_classes = check_int(owner, "n_classes", n_classes, 2, min(2 ** min(n_informative, 30), 1000))
        data_seed = check_int(owner, "data_seed", data_seed, 0)
    except InvalidParameterError as e:
        raise DataError(str(e)) from None
    # shuffle=False puts the informative columns first; permuting them ourselves keeps their indices.
    X, y = make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=n_informative, n_redundant=0,
        n_repeated=0, n_classes=n_classes, n_clusters_per_class=1, shuffle=False,
        random_state=data_seed)
    perm = np.random.default_rng(data_seed).permutation(n_features)
    X = X[:, perm]                                    # new column j is old column perm[j]
    return Raw(
        X=X, y=y, kind="tabular", where="built-in 'sparse'",
        feature_names=[f"x{j}" for j in range(n_features)],
        class_names=[str(c) for c in range(n_classes)],
        informative=np.flatnonzero(perm < n_informative),
        description=(
            f"Synthetic sparse classification: {n_samples} samples with {n_features} features of "
            f"which only {n_informative} are informative (the rest are pure Gaussian noise), "
            f"{n_classes} classes, one Gaussian cluster per class on the vertices of a hypercube "
            f"and 1% of the labels flipped. The informative column indices are exposed as "
            f"ds.informative so that a feature selection (e.g. by L1) can be scored. Generated by "
            f"scikit-learn's make_classification (random_state={data_seed}) with the columns "
            f"permuted so that the informative ones are scattered."),
    )


_LOADERS: dict[str, tuple[Callable[..., Raw], dict[str, Any], str, str]] = {
    "digits": (_digits, {}, "image", "1797 handwritten digits, 8x8 grayscale, 10 classes"),
    "mnist1d": (_mnist1d, {}, "signal",
                "MNIST-1D, 5000 signals of 40 points, 10 classes, 4000/1000 published split"),
    "breast_cancer": (_breast_cancer, {}, "tabular",
                      "569 tumours, 30 features, malignant vs benign"),
    "wine": (_wine, {}, "tabular", "178 wines, 13 chemical features, 3 cultivars"),
    "sparse": (_sparse, {"n_samples": 600, "n_features": 1000, "n_informative": 20,
                         "n_classes": 2, "data_seed": 0}, "tabular",
               "synthetic, 600 samples, 1000 features of which 20 informative, 2 classes"),
}

BUILTINS: tuple[str, ...] = tuple(_LOADERS)
SUMMARIES: list[tuple[str, str, str]] = [(n, v[2], v[3]) for n, v in _LOADERS.items()]


def load_builtin(name: str, options: Mapping[str, Any]) -> Raw:
    """Read built-in data set ``name`` with its source-specific ``options``."""
    fn, defaults, _, _ = _LOADERS[name]
    return fn(**take_options(f"the built-in data set {name!r}", options, defaults))
