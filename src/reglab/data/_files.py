"""Users' data files: a CSV / TSV table (read by :mod:`reglab.data._table`), an .npz archive
with X and y, a folder of images per class."""

from __future__ import annotations

import math
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reglab._memory import available_memory
from reglab.data import _table as T
from reglab.data._builtins import take_options
from reglab.data._types import DataError, Raw

__all__ = ["IMAGE_SUFFIXES", "SUFFIXES", "read_path"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SUFFIXES = (".csv", ".tsv", ".npz")
SUFFIX_TEXT = ".csv, .tsv or .npz"  # for messages: "give a .csv, .tsv or .npz file"
_NPZ_KINDS = {2: "tabular", 3: "signal", 4: "image"}


def read_path(path: Path, shown: str, options: Mapping[str, Any]) -> Raw:
    """Read an existing file or folder; ``shown`` is the path as the user wrote it."""
    if path.is_dir():
        where = f"folder {shown!r}"
        opts = take_options(where, options, {"size": (32, 32), "grayscale": False})
        try:
            return _read_image_folder(path, where, **opts)
        except OSError as e:                          # e.g. a sub-folder without read permission
            raise DataError(f"Data {where} cannot be read: {e}.") from None
    if not stat.S_ISREG(path.stat().st_mode):  # reading a FIFO blocks, /dev/zero never ends
        raise DataError(f"Data {shown!r} is not a regular file (a FIFO, a device or a socket); "
                        f"give a {SUFFIX_TEXT} file or a folder of images.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"Unsupported data file suffix {path.suffix!r} for {shown!r}; allowed: "
                        f"{', '.join(SUFFIXES)}, or a folder of images with one sub-folder per class.")
    where = f"file {shown!r}"
    if suffix in T.TABLE_SUFFIXES:
        return _read_csv(path, where, **take_options(where, options, TABLE_OPTIONS))
    return _read_npz(path, where, **take_options(where, options, {}))


# ---------------------------------------------------------------- CSV

def _read_text(path: Path, where: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"Data {where} cannot be read: {e.strerror or e}.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"Data {where} cannot be read as UTF-8 text (byte 0x{data[e.start]:02x} at "
                        f"offset {e.start}); save it as a UTF-8 CSV file.") from None


TABLE_OPTIONS = {"target": None, "delimiter": None, "features": None, "drop": (),
                 "order_column": None, "group_column": None, "split_column": None,
                 "test_data": None}


def _names(value: Any, option: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise DataError(f"The {option!r} option for {where} must be a list of column names. "
                        f"Got {value!r} instead.")
    return tuple(value)


def _table_frame(path: Path, where: str, delimiter: Any):
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise DataError(f"The 'delimiter' option for {where} must be one character. "
                        f"Got {delimiter!r} instead.")
    text = _read_text(path, where)
    if "\x00" in text:  # binary data, not a text table
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataError(f"Data {where} holds a NUL byte at line {line}; it is not a text "
                        "table. Save it as a UTF-8 CSV file.")
    sep = delimiter or T.sniff_delimiter(text, path.suffix.lower())
    return T.read_frame(text, where, sep)


def _read_csv(path: Path, where: str, target: str | None, delimiter: Any, features: Any,
              drop: Any, order_column: Any, group_column: Any, split_column: Any,
              test_data: Any) -> Raw:
    """A table: raw feature cells in ``extra["frame"]`` (encoded after the split, on train
    only, by ``load``), labels in ``y``, the split's columns in ``extra``."""
    frame = _table_frame(path, where, delimiter)
    columns = ", ".join(frame.columns)
    if target is None:
        raise DataError(f"Missing target= for CSV {where}: name its label column, one of: "
                        f"{columns}.")
    if target not in frame.columns:
        raise DataError(f"Unknown target column {target!r} in {where}; available columns: "
                        f"{columns}.")
    split_cols = {}
    for option, col in (("order_column", order_column), ("group_column", group_column),
                        ("split_column", split_column)):
        if col is None:
            continue
        if not isinstance(col, str) or col not in frame.columns or col == target:
            raise DataError(f"The {option!r} option for {where} must name a column other than "
                            f"the target; available columns: {columns}. Got {col!r} instead.")
        split_cols[option] = col
    test = None
    if test_data is not None:
        test_path = Path(str(test_data)).expanduser()
        test_where = f"file {str(test_data)!r}"
        if not test_path.is_file():
            raise DataError(f"The 'test_data' option for {where} must be an existing table file "
                            f"({', '.join(T.TABLE_SUFFIXES)}). Got {str(test_data)!r} instead.")
        test = _table_frame(test_path, test_where, delimiter)
        if target not in test.columns:
            raise DataError(f"Test data {test_where} has no target column {target!r}; available "
                            f"columns: {', '.join(test.columns)}.")
    kept = T.select_columns(frame, where, target, _names(features, "features", where),
                            _names(drop, "drop", where), list(split_cols.values()))
    frames = [frame] if test is None else [frame, test]
    keep_rows = []
    for f, w in zip(frames, [where, f"file {str(test_data)!r}"]):
        has = f[target].notna().to_numpy()
        if not has.all():
            T.warn(f"Data {w}: dropped {int((~has).sum())} of {len(f)} rows whose target "
                   f"{target!r} is missing.")
        keep_rows.append(f[has].reset_index(drop=True))
    frame = keep_rows[0]
    if frame.empty:
        raise DataError(f"Target column {target!r} of {where} is empty in every row; every "
                        "row needs a label.")
    raw = Raw(X=np.zeros((len(frame), 0)), y=frame[target].to_numpy(dtype=str), kind="tabular",
              where=where, feature_names=kept,
              description=(f"User table {where}: {len(frame)} rows, {len(kept)} feature "
                           f"columns and the label column {target!r}."))
    raw.extra.update({"frame": frame[kept], "target_name": target,
                      **{k: frame[c].to_numpy(dtype=object)
                                                for k, c in split_cols.items()}})
    if test is not None:
        test = keep_rows[1]
        missing = [c for c in kept if c not in test.columns]
        if missing:
            raise DataError(f"Test data file {str(test_data)!r} lacks the feature column(s) "
                            f"{', '.join(map(repr, missing[:5]))} of {where}.")
        raw.X_test = np.zeros((len(test), 0))
        raw.y_test = test[target].to_numpy(dtype=str)
        import pandas as pd  # only for table files (T imports it there too)
        raw.extra["frame"] = pd.concat([frame[kept], test[kept]], ignore_index=True)
    return raw


# ---------------------------------------------------------------- npz

def _read_npz(path: Path, where: str) -> Raw:
    if path.stat().st_size == 0:
        raise DataError(f"Data {where} is empty.")
    try:  # our own handle: np.load(path) leaves its file open when the archive is bad
        with open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)  # never unpickle a user's file
            if not isinstance(z, np.lib.npyio.NpzFile):  # a renamed .npy: a bare array
                raise DataError(f"Data {where} is a single .npy array, not an .npz archive; "
                                f"save it with numpy.savez(path, X=X, y=y).")
            with z:
                wanted = [k for k in z.files if k in ("X", "y", "feature_names", "class_names")]
                _check_fits(z, wanted, where)
                arrays = {k: z[k] for k in wanted}
                present = list(z.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"Data {where} cannot be read as an .npz archive: {e}.") from None
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(f"Data {where} has no array named {missing[0]!r}; it needs arrays 'X' and "
                        f"'y', and holds: {', '.join(present) or 'no arrays'}.")
    X, y = arrays["X"], arrays["y"]
    if X.dtype.kind not in "biuf":
        raise DataError(f"Array 'X' of {where} has dtype {X.dtype}; it must be numeric.")
    if X.ndim not in _NPZ_KINDS:
        raise DataError(f"Array 'X' of {where} has shape {X.shape}; expected 2-D (N, F) tabular, "
                        f"3-D (N, C, L) signal or 4-D (N, C, H, W) image data.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"Array 'y' of {where} has shape {y.shape}; it must be 1-D, one label per row.")
    if len(X) == 0:
        raise DataError(f"Data {where} is empty: array 'X' has no rows.")
    if 0 in X.shape[1:]:
        raise DataError(f"Array 'X' of {where} has shape {X.shape}: its samples hold no values; "
                        f"each sample needs at least one feature.")
    kind = _NPZ_KINDS[X.ndim]
    names = arrays.get("feature_names")
    feature_names = [str(n) for n in names] if kind == "tabular" and names is not None else None
    if feature_names is not None and (names.ndim != 1 or len(feature_names) != X.shape[1]):
        raise DataError(f"Array 'feature_names' of {where} has shape {names.shape}; it must be "
                        f"1-D with one name per column of X ({X.shape[1]}).")
    raw = Raw(X=X, y=y, kind=kind, where=where, feature_names=feature_names,
              description=(f"User .npz {where}: {len(X)} samples of shape {tuple(X.shape[1:])} "
                           f"({kind}), labels from array 'y'."))
    if "class_names" in arrays:
        raw.extra["class_names"] = [str(n) for n in arrays["class_names"]]
    return raw


def _check_fits(z: np.lib.npyio.NpzFile, keys: list[str], where: str) -> None:
    """Refuse arrays whose headers promise more bytes than memory holds, before reading them
    (a compressed archive of zeros expands a thousandfold)."""
    need = 0
    for k in keys:
        with z.zip.open(f"{k}.npy") as fh:
            version = np.lib.format.read_magic(fh)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read is None:  # format 3.0 (rare): numpy's own reader checks it
                continue
            shape, _, dtype = read(fh)
        need += math.prod(shape) * dtype.itemsize
    have = available_memory()
    if need > have:
        raise DataError(f"Data {where} holds arrays of {need / 2**30:.1f} GiB once "
                        f"uncompressed; only {have / 2**30:.1f} GiB of memory is available.")


# ---------------------------------------------------------------- image folder

def _check_size(size: Any, where: str) -> tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    ok = (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size))
    if not ok:
        raise DataError(f"The 'size' option for {where} must be (height, width), two ints >= 1. "
                        f"Got {size!r} instead.")
    return int(size[0]), int(size[1])


def _read_image(file: Path, size: tuple[int, int], mode: str, where: str) -> np.ndarray:
    from PIL import Image  # only for image folders

    try:
        with Image.open(file) as im:
            im = im.convert(mode).resize((size[1], size[0]), Image.BILINEAR)  # PIL wants (W, H)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"Corrupt or unreadable image '{file}' in {where}: {e}.") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)   # (C, H, W)


def _read_image_folder(path: Path, where: str, size: Any, grayscale: Any) -> Raw:
    size = _check_size(size, where)
    if not isinstance(grayscale, bool):
        raise DataError(f"The 'grayscale' option for {where} must be a bool. Got {grayscale!r} instead.")
    class_dirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DataError(f"Data {where} has no class sub-folders; put each class's images in a "
                        f"sub-folder named after the class (e.g. {path.name}/cat/1.png).")
    files = {d.name: sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
             for d in class_dirs}
    if not any(files.values()):
        raise DataError(f"Data {where} has no images in its class sub-folders "
                        f"({', '.join(files)}); image suffixes read: {', '.join(IMAGE_SUFFIXES)}.")
    empty = [c for c, fs in files.items() if not fs]
    if empty:
        raise DataError(f"Class sub-folder {empty[0]!r} of {where} has no images; remove it or add "
                        f"images ({', '.join(IMAGE_SUFFIXES)}).")
    mode = "L" if grayscale else "RGB"
    X = np.stack([_read_image(f, size, mode, where) for fs in files.values() for f in fs])
    y = np.concatenate([np.full(len(fs), k) for k, fs in enumerate(files.values())])
    return Raw(X=X, y=y, kind="image", where=where, class_names=list(files),
               description=(f"User image {where}: {len(X)} images in {len(files)} classes "
                            f"(one sub-folder each), resized to {size[0]}x{size[1]} "
                            f"{'grayscale' if grayscale else 'RGB'} with Pillow, scaled to [0, 1]."))
