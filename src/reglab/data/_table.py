"""Real tables: a CSV / TSV file read with pandas, encoded with encoders fitted on train only.

Reading (:func:`read_table`): the delimiter is sniffed from the first 64 KiB (``,``, ``;``,
tab or ``|``; a ``.tsv`` file is tab-separated), a UTF-8 byte-order mark is dropped, quoted
fields may hold the delimiter. Missing cells: empty, ``NA``, ``N/A``, ``NaN``, ``nan``,
``null``, ``NULL``, ``None``, ``?``. A column is numeric when every present cell parses as a
number, else categorical (text). Rows with a missing target are dropped; ``features`` keeps
only the named columns, ``drop`` removes some. Each step is announced by one
:class:`~reglab.data.DataWarning` line naming the columns and counting the cells or rows.

Encoding (:func:`fit_encoding`, :func:`apply_encoding`): scikit-learn's ``SimpleImputer``
(numeric: the training mean; categorical: the training mode) and
``OneHotEncoder(handle_unknown="ignore")`` are fitted on the training rows only; what they
learned is kept as JSON (columns in order, kinds, fill values, categories), and
:func:`apply_encoding` turns any raw rows into the model's inputs with it: the training
split, the held-out splits and, later, ``load_model``'s predict. A category not seen in
training encodes as all zeros. No pickle.

Example::

    enc = fit_encoding(frame.iloc[train_rows])      # JSON-ready dict
    X = apply_encoding(enc, frame)                  # (N, F) float64, F = len(enc["output"])
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from reglab.data._types import DataError, DataWarning

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MISSING", "TABLE_SUFFIXES", "apply_encoding", "fit_encoding", "read_frame",
           "select_columns", "warn_id_columns"]

TABLE_SUFFIXES = (".csv", ".tsv")
MISSING = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 65536
ENCODING_FORMAT = "reglab.encoding/1"


def warn(message: str) -> None:
    """One DataWarning line (the CLI prints it)."""
    warnings.warn(message, DataWarning, stacklevel=4)


def sniff_delimiter(text: str, suffix: str) -> str:
    """Tab for ``.tsv``; else csv.Sniffer over the first 64 KiB (``,`` when it cannot tell)."""
    if suffix == ".tsv":
        return "\t"
    sample = text[:_SNIFF_BYTES]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_frame(text: str, where: str, delimiter: str) -> pd.DataFrame:
    """Every cell as text (None where missing); a header row; the structure checked."""
    import pandas as pd  # with scikit-learn: only when a table file is read
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, dtype=str,
                            keep_default_na=False, skip_blank_lines=True, engine="python",
                            quotechar='"')
    except pd.errors.EmptyDataError:
        raise DataError(f"Data {where} is empty.") from None
    except (pd.errors.ParserError, csv.Error) as e:
        raise DataError(f"Data {where} cannot be read as a table: "
                        f"{' '.join(str(e).split())}.") from None
    frame = frame[~frame.apply(lambda r: all(c is None or not str(c).strip() for c in r),
                               axis=1)]  # lines of only delimiters or spaces
    if frame.empty:
        raise DataError(f"Data {where} is empty.")
    header = [str(c).strip() for c in frame.iloc[0]]
    dup = next((c for c in header if header.count(c) > 1), None)
    if dup is not None:
        raise DataError(f"Column name {dup!r} appears more than once in the header of {where}.")
    body = frame.iloc[1:]
    if body.empty:
        raise DataError(f"Data {where} is empty: it has a header but no data rows.")
    short = body.isna().any(axis=1).to_numpy()  # keep_default_na=False: None = a missing field
    if short.any():
        i = int(np.flatnonzero(short)[0])
        n = int(body.iloc[i].notna().sum())
        lines = [k + 1 for k, t in enumerate(text.splitlines()) if t.strip()]
        at = f"Line {lines[i + 1]}" if len(lines) == len(frame) else f"Data row {i + 1}"
        raise DataError(f"{at} of {where} has {n} fields but the header has {len(header)}.")
    body = body.apply(lambda col: col.str.strip())
    body.columns = header
    body = body.where(~body.isin(MISSING), None)
    return body.reset_index(drop=True)


def select_columns(frame: pd.DataFrame, where: str, target: str, features: Sequence[str] | None,
                   drop: Sequence[str], reserved: Sequence[str]) -> list[str]:
    """The feature columns: ``features`` (or every column), minus ``drop``, the target and
    the split's own columns (``reserved``); a named column that is not there is an error."""
    columns = list(frame.columns)
    for what, names in (("features", features or ()), ("drop", drop)):
        missing = [c for c in names if c not in columns]
        if missing:
            raise DataError(f"Unknown column {missing[0]!r} in the {what!r} option for "
                            f"{where}; available columns: {', '.join(columns)}.")
    chosen = list(features) if features else columns
    out = [c for c in chosen if c != target and c not in drop and c not in reserved]
    if drop:
        warn(f"Data {where}: dropped column(s) {', '.join(map(repr, drop))} (drop option).")
    if not out:
        raise DataError(f"Data {where} has no feature columns besides the target {target!r}.")
    return out


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """"numeric" when every present cell is a number, else "categorical"."""
    import pandas as pd  # with scikit-learn: only when a table file is read
    kinds = {}
    for c in frame.columns:
        present = frame[c].dropna()
        parsed = pd.to_numeric(present, errors="coerce")
        kinds[c] = "numeric" if parsed.notna().all() else "categorical"
    return kinds


def warn_id_columns(frame: pd.DataFrame, kinds: dict[str, str], where: str) -> None:
    """A column with one distinct value per row that is text, or integers in monotone order,
    looks like a row ID: it carries no signal and lets the model memorize rows."""
    import pandas as pd  # with scikit-learn: only when a table file is read
    n = len(frame)
    for c in frame.columns:
        col = frame[c]
        if n < 3 or col.isna().any() or col.nunique() != n:
            continue
        if kinds[c] == "numeric":
            v = pd.to_numeric(col).to_numpy(dtype=np.float64)
            if not (np.all(v == np.round(v)) and (np.all(np.diff(v) > 0)
                                                  or np.all(np.diff(v) < 0))):
                continue
            what = "increasing integers" if v[-1] > v[0] else "decreasing integers"
        else:
            what = "a distinct text value in every row"
        warn(f"Data {where}: column {c!r} looks like a row ID ({what}, {n} of {n} rows "
              f"unique); it is used as a feature unless you drop it (--drop {c}).")


def fit_encoding(train: pd.DataFrame, kinds: dict[str, str], where: str) -> dict[str, Any]:
    """Fit the imputers and the one-hot encoder on the training rows; return them as JSON."""
    import pandas as pd  # pandas and scikit-learn (~2 s to import): only for table files
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder
    numeric = [c for c in train.columns if kinds[c] == "numeric"]
    categorical = [c for c in train.columns if kinds[c] == "categorical"]
    fill: dict[str, Any] = {}
    categories: dict[str, list[str]] = {}
    if numeric:
        values = train[numeric].apply(pd.to_numeric).to_numpy(dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308 overflow the
            imp = SimpleImputer(strategy="mean",           # sums: check_float32 names them
                                keep_empty_features=True).fit(values)
        fill.update({c: float(v) for c, v in zip(numeric, imp.statistics_)})
    if categorical:
        text = train[categorical].astype(object).to_numpy()
        text = np.where(pd.isna(text), np.nan, text).astype(object)
        imp = SimpleImputer(strategy="most_frequent", missing_values=np.nan,
                            keep_empty_features=True).fit(text)
        fill.update({c: str(v) for c, v in zip(categorical, imp.statistics_)})
        ohe = OneHotEncoder(handle_unknown="ignore").fit(imp.transform(text).astype(str))
        categories = {c: [str(v) for v in cats] for c, cats in zip(categorical, ohe.categories_)}
    output = []
    for c in train.columns:
        output += [f"{c}={v}" for v in categories[c]] if c in categories else [c]
    return {"format": ENCODING_FORMAT, "columns": list(train.columns),
            "kinds": {c: kinds[c] for c in train.columns}, "fill": fill,
            "categories": categories, "output": output}


def apply_encoding(enc: dict[str, Any], frame: pd.DataFrame, where: str = "table of rows"
                   ) -> np.ndarray:
    """Raw rows (a frame with the encoding's columns; text or numbers, None / NaN missing)
    -> (N, len(enc["output"])) float64: missing cells filled, categories one-hot."""
    import pandas as pd  # with scikit-learn: only when a table file is read
    missing = [c for c in enc["columns"] if c not in frame.columns]
    if missing:
        raise DataError(f"The {where} lacks the feature column(s) "
                        f"{', '.join(map(repr, missing[:5]))} the model was trained on (it "
                        f"needs: {', '.join(enc['columns'])}).")
    blocks = []
    for c in enc["columns"]:
        col = frame[c].astype(object).where(frame[c].notna(), None)
        if enc["kinds"][c] == "numeric":
            v = pd.to_numeric(col, errors="coerce")
            bad = v.isna() & col.notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"Column {c!r} of {where} must hold numbers (it did in "
                                f"training): data row {i + 1} has {col.iloc[i]!r}.")
            blocks.append(v.fillna(enc["fill"][c]).to_numpy(np.float64)[:, None])
        else:
            text = col.map(lambda x: enc["fill"][c] if x is None else str(x)).to_numpy()
            cats = np.asarray(enc["categories"][c], dtype=object)
            blocks.append((text[:, None] == cats[None, :]).astype(np.float64))
    return np.concatenate(blocks, axis=1)


def announce_encoding(enc: dict[str, Any], frame: pd.DataFrame, where: str) -> None:
    """One line each: the imputed cells per column, the one-hot encoded columns."""
    filled = [(c, int(frame[c].isna().sum())) for c in enc["columns"]]
    filled = [(c, n) for c, n in filled if n]
    if filled:
        warn(f"Data {where}: filled {sum(n for _, n in filled)} missing cell(s) with the "
              "training split's mean (numbers) or most frequent value (text): "
              + ", ".join(f"{c!r} ({n})" for c, n in filled) + ".")
    if enc["categories"]:
        warn(f"Data {where}: one-hot encoded text column(s) "
              + ", ".join(f"{c!r} ({len(v)} categories)" for c, v in enc["categories"].items())
              + " with the training split's categories (unseen ones encode as all zeros).")
