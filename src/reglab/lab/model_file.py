"""Models that travel: what a weights file says about itself, and loading it to predict.

A run's ``models/<run>.safetensors`` holds the best weights (the state dict) and, as
safetensors metadata, one entry ``"reglab"``: a JSON document (sorted keys) with all that is
needed to rebuild and use the model without the experiment's store or data::

    format           "reglab.model/1"
    run              the run id, e.g. "l2-s0"
    spec             the resolved RunSpec (as ``RunSpec.to_dict()``)
    data             {"name", "kind", "input_shape", "num_classes", "class_names", "feature_names"}
                     and, for a regression run only, "task": "regression" and "target":
                     {"name", "mean", "std"} (the training split's, to undo the target's
                     standardization: value = output * std + mean)
    standardization  {"shape": [...], "mean": [...], "std": [...]} (flat, row-major) or null
    encoding         (tables only) the encoders fitted on the training split: raw columns in
                     order, kinds, fill values, categories, output feature names
                     (:func:`reglab.data._table.fit_encoding`); predict applies them to raw rows
    versions         {"reglab", "torch", "numpy", "python"}

One entry, not one per field: safetensors writes its metadata map in hash order, which
changes between processes, and the same command must give byte-identical weight files.
The standardization is JSON, not tensors in the file: the file's tensors are exactly the
model's state dict, so ``load_state_dict(strict=True)`` needs no filtering. The values are the
training split's float32 mean / std (``Dataset.mean`` / ``Dataset.std``), written as the exact
decimal of each float32, so they read back bit for bit.

No pickle anywhere: the weights are safetensors, the rest JSON.

Example::

    model, predict = load_model("runs/compare-wine/models/l2-s0.safetensors")
    out = predict("new.csv")            # or a DataFrame of raw cells, or numeric rows
    out.labels[:3], out.proba.shape     # ['1', '0', '2'], (N, num_classes)
    out.values[:3]                      # a regression model: values in the target's units
"""

from __future__ import annotations

import csv
import json
import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open
from torch import nn

from reglab._validation import InvalidParameterError
from reglab.data import DataError
from reglab.data._table import (MISSING, TABLE_SUFFIXES, apply_encoding, read_frame,
                                sniff_delimiter)
from reglab.lab.spec import RunSpec
from reglab.train.models import build_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMAT", "KEY", "describe_data", "model_metadata", "read_metadata", "load_model",
           "Predictor", "Predictions", "read_feature_columns", "write_predictions"]

FORMAT = "reglab.model/1"
KEY = "reglab"  # the one metadata entry


def describe_data(data: Any) -> dict[str, Any]:
    """What a weights file keeps of its run's data: ``{"data": {...}, "standardization": ...}``.

    Small and JSON-ready (names, shape, per-feature or per-channel mean / std), so a store
    can keep it per split seed instead of the data set.

    Args:
        data: the run's Dataset (kind, input_shape, num_classes, class / feature names,
            mean / std; missing attributes count as None).
    """
    names = lambda xs: None if xs is None else [str(x) for x in xs]  # noqa: E731
    info = {"name": str(getattr(data, "name", "")), "kind": data.kind,
            "input_shape": [int(s) for s in data.input_shape],
            "num_classes": int(data.num_classes),
            "class_names": names(getattr(data, "class_names", None)),
            "feature_names": names(getattr(data, "feature_names", None))}
    if getattr(data, "task", "classification") == "regression":  # only then: classification
        # files stay byte-identical to those written before regression existed
        info.update(task="regression", target={
            "name": getattr(data, "target_name", None), "mean": float(data.target_mean),
            "std": float(data.target_std)})
    mean, std = getattr(data, "mean", None), getattr(data, "std", None)
    scale = None
    if mean is not None and std is not None:
        m = torch.as_tensor(mean, dtype=torch.float32)
        s = torch.as_tensor(std, dtype=torch.float32)
        scale = {"shape": list(m.shape), "mean": m.flatten().tolist(),
                 "std": s.flatten().tolist()}
    encoding = getattr(data, "encoding", None)
    return {"data": info, "standardization": scale,
            **({} if encoding is None else {"encoding": encoding})}


def model_metadata(run_id: str, spec: RunSpec, described: Mapping[str, Any],
                   versions: Mapping[str, str]) -> dict[str, str]:
    """The safetensors metadata of a run's weights file: ``{"reglab": <JSON document>}``.

    Args:
        run_id: the run's id in the store.
        spec: the resolved RunSpec the run trained with.
        described: :func:`describe_data` of the run's data.
        versions: library versions (``reglab.lab.store.versions()``).
    """
    doc = {"format": FORMAT, "run": run_id, "spec": spec.to_dict(),
           "data": described["data"], "standardization": described["standardization"],
           "versions": dict(versions)}
    if described.get("encoding") is not None:
        doc["encoding"] = described["encoding"]
    return {KEY: json.dumps(doc, sort_keys=True)}


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The decoded metadata of a reglab weights file, or an InvalidParameterError saying why not."""
    shown = os.fspath(path)
    try:
        with safe_open(shown, framework="pt") as fh:
            raw = fh.metadata() or {}
    except (OSError, SafetensorError) as err:
        raise InvalidParameterError(f"The weights file {shown!r} cannot be read as safetensors: "
                                    f"{err}.") from None
    try:
        doc = json.loads(raw[KEY])
    except (KeyError, json.JSONDecodeError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidParameterError(
            f"The weights file {shown!r} has no reglab model metadata (a {KEY!r} entry of "
            f"format {FORMAT!r}); it was saved by an older reglab or by another tool. Retrain "
            "it with this version.")
    missing = [k for k in ("spec", "data", "standardization", "versions") if k not in doc]
    if missing:
        raise InvalidParameterError(f"The weights file {shown!r} lacks the metadata "
                                    f"{', '.join(map(repr, missing))}.")
    return doc


@dataclass(frozen=True)
class Predictions:
    """What :class:`Predictor` returns: class names, their indices, class probabilities; for
    a regression model ``values`` (the target's units) and no classes (K = 0)."""

    labels: list[str]            # (N,) the predicted class's name
    classes: np.ndarray          # (N,) int64 class index
    proba: np.ndarray            # (N, K) float32 softmax probabilities
    class_names: list[str]       # (K,) column order of proba
    values: np.ndarray | None = None   # (N,) float64 regression predictions, else None

    def __len__(self) -> int:
        return len(self.values) if self.values is not None else len(self.labels)


class Predictor:
    """Raw rows in, predictions out: applies the training standardization, then the model.

    Args:
        model: the rebuilt model (eval mode).
        meta: the file's decoded metadata (:func:`read_metadata`).
    """

    def __init__(self, model: nn.Module, meta: Mapping[str, Any]):
        self.model, self.meta = model, dict(meta)
        data = self.meta["data"]
        self.spec = RunSpec.from_dict(self.meta["spec"])
        self.kind: str = data["kind"]
        self.input_shape = tuple(data["input_shape"])
        k = data["num_classes"]
        self.class_names: list[str] = data["class_names"] or [str(i) for i in range(k)]
        self.feature_names: list[str] | None = data["feature_names"]
        self.encoding: dict[str, Any] | None = self.meta.get("encoding")
        self.target: dict[str, Any] | None = data.get("target")  # regression only
        scale = self.meta["standardization"]
        self.mean = self.std = None
        if scale is not None:  # float64 arithmetic on the float32 statistics, like the data layer
            self.mean = np.asarray(scale["mean"], np.float64).reshape(scale["shape"])
            self.std = np.asarray(scale["std"], np.float64).reshape(scale["shape"])

    def transform(self, rows: Any) -> torch.Tensor:
        """Raw rows -> standardized (N, *input_shape). ``rows``: a .csv / .tsv / .npz path, a
        pandas DataFrame or a list of dicts of raw cells (a table's model: text categories,
        missing cells as None / NaN, encoded as in training), or an array / tensor of
        already numeric rows."""
        import pandas as pd  # only here and for table files: not in every training worker

        if isinstance(rows, (str, os.PathLike)):
            X = self._read(rows)
        elif self.encoding is not None and isinstance(rows, (pd.DataFrame, list)):
            frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
            X = self._encoded(frame, "table of rows to predict")
        else:
            X = np.asarray(rows.detach().cpu().numpy() if isinstance(rows, torch.Tensor)
                           else rows, dtype=np.float64)
        X = self._shaped(X)
        if self.mean is not None:
            X = (X - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    @torch.no_grad()
    def __call__(self, rows: Any) -> Predictions:
        """Predict raw rows: see :meth:`transform` for what ``rows`` may be."""
        logits = self.model(self.transform(rows))
        if self.target is not None:  # regression: undo the training target's standardization
            values = logits[:, 0].double().numpy() * self.target["std"] + self.target["mean"]
            return Predictions([], np.zeros(0, np.int64), np.zeros((len(values), 0), np.float32),
                               [], values)
        proba = torch.softmax(logits, dim=1).numpy()
        classes = proba.argmax(axis=1).astype(np.int64)
        return Predictions([self.class_names[c] for c in classes], classes, proba,
                           list(self.class_names))

    def _shaped(self, X: np.ndarray) -> np.ndarray:
        n_in = math.prod(self.input_shape)
        if X.ndim >= 1 and X.shape[1:] == self.input_shape:
            return X
        if X.ndim == 2 and X.shape[1] == n_in:  # flattened rows of an image / a signal
            return X.reshape(len(X), *self.input_shape)
        raise InvalidParameterError(
            f"The rows to predict have shape {tuple(X.shape)}; the model takes (N, "
            f"{', '.join(map(str, self.input_shape))}) or (N, {n_in}) flattened.")

    def _read(self, path: str | os.PathLike) -> np.ndarray:
        shown = os.fspath(path)
        suffix = Path(shown).suffix.lower()
        if suffix == ".npz":
            try:
                with open(shown, "rb") as fh:  # our handle: np.load(path) leaks it on bad
                    z = np.load(fh, allow_pickle=False)  # archives; never unpickle a file
                    if not isinstance(z, np.lib.npyio.NpzFile):
                        raise ValueError("it is a single .npy array, not an .npz archive")
                    if "X" not in z.files:
                        raise InvalidParameterError(f"The file {shown!r} has no array 'X' to "
                                                    f"predict; it holds: {', '.join(z.files)}.")
                    return np.asarray(z["X"], dtype=np.float64)
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                if isinstance(err, InvalidParameterError):
                    raise
                raise InvalidParameterError(f"The file {shown!r} cannot be read as .npz: "
                                            f"{err}.") from None
        if suffix not in TABLE_SUFFIXES:
            raise InvalidParameterError(f"The file to predict {shown!r} must be a .csv, .tsv "
                                        f"or .npz file.")
        if self.encoding is not None:
            return self._encoded(read_table_cells(shown), f"file {shown!r}")
        if self.feature_names is None:
            raise InvalidParameterError(
                f"This model was trained on {self.kind} data without feature columns; give its "
                f"rows as an .npz file with an array 'X' of shape (N, "
                f"{', '.join(map(str, self.input_shape))}), not the CSV {shown!r}.")
        return read_feature_columns(shown, self.feature_names)


    def _encoded(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """A table's raw cells through the run's encoders (missing cells: "", NA, None...)."""
        frame = frame.astype(object).where(frame.notna(), None)
        frame = frame.map(lambda v: None if isinstance(v, str) and v.strip() in MISSING else v)
        try:
            return apply_encoding(self.encoding, frame, where)
        except DataError as err:
            raise InvalidParameterError(str(err)) from None


def read_table_cells(path: str) -> pd.DataFrame:
    """A table file's cells as text (header row, sniffed delimiter), as the data layer reads
    them for training."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
        return read_frame(text, f"file {path!r}", sniff_delimiter(text, Path(path).suffix.lower()))
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidParameterError(f"The file {path!r} cannot be read as a UTF-8 table: "
                                    f"{err}.") from None
    except DataError as err:
        raise InvalidParameterError(str(err)) from None


def read_feature_columns(path: str, features: Sequence[str]) -> np.ndarray:
    """The named numeric columns of a CSV file, in ``features`` order; other columns ignored."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InvalidParameterError(f"The file {path!r} cannot be read as a UTF-8 CSV: "
                                    f"{err}.") from None
    if len(rows) < 2:
        raise InvalidParameterError(f"The file {path!r} has no data rows to predict.")
    header = [c.strip() for c in rows[0]]
    missing = [f for f in features if f not in header]
    if missing:
        raise InvalidParameterError(
            f"The file {path!r} lacks the feature column(s) {', '.join(map(repr, missing[:5]))} "
            f"the model was trained on (it needs: {', '.join(features)}).")
    cols = [header.index(f) for f in features]
    X = np.empty((len(rows) - 1, len(cols)))
    for i, row in enumerate(rows[1:]):
        for j, c in enumerate(cols):
            cell = row[c].strip() if c < len(row) else ""
            try:
                X[i, j] = float(cell)
            except ValueError:
                raise InvalidParameterError(
                    f"Column {features[j]!r} of {path!r} is not numeric at data row {i + 1}: "
                    f"{cell!r}.") from None
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).sum())
        raise InvalidParameterError(f"The file {path!r} has {bad} NaN or infinite feature "
                                    "values; the model needs every feature of every row.")
    return X


def load_model(path: str | os.PathLike) -> tuple[nn.Module, Predictor]:
    """Rebuild a run's model from its weights file: ``(model in eval mode, predict)``.

    Args:
        path: a ``models/<run>.safetensors`` file written by the lab.

    Returns:
        The ``nn.Module`` with the stored weights, on the CPU, in ``eval()`` mode, and a
        :class:`Predictor` that takes raw rows (standardized as in training) and returns
        :class:`Predictions`.
    """
    meta = read_metadata(path)
    spec = RunSpec.from_dict(meta["spec"])
    data = meta["data"]
    model = build_model(spec, data["kind"], tuple(data["input_shape"]), data["num_classes"])
    model.load_state_dict(load_file(os.fspath(path)), strict=True)
    model.eval()
    return model, Predictor(model, meta)


def write_predictions(out: Predictions, fh) -> None:
    """CSV: ``prediction`` (class name), then ``prob_<class>`` per class, one row per input row;
    a regression model's: ``prediction``, the value in the target's units."""
    w = csv.writer(fh)
    if out.values is not None:
        w.writerow(["prediction"])
        w.writerows([repr(float(v))] for v in out.values)
        return
    w.writerow(["prediction", *(f"prob_{c}" for c in out.class_names)])
    for label, p in zip(out.labels, out.proba):
        w.writerow([label, *(repr(float(v)) for v in p)])
