"""Users' data files: a CSV table, an .npz archive with X and y, a folder of images per class."""

from __future__ import annotations

import csv
import io
import math
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reglab._memory import available_memory
from reglab.data._builtins import take_options
from reglab.data._types import DataError, Raw

__all__ = ["IMAGE_SUFFIXES", "SUFFIXES", "read_path"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SUFFIXES = (".csv", ".npz")
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
                        f"give a {' or '.join(SUFFIXES)} file or a folder of images.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"Unsupported data file suffix {path.suffix!r} for {shown!r}; allowed: "
                        f"{', '.join(SUFFIXES)}, or a folder of images with one sub-folder per class.")
    where = f"file {shown!r}"
    if suffix == ".csv":
        return _read_csv(path, where, **take_options(where, options, {"target": None, "delimiter": ","}))
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


def _csv_rows(text: str, where: str, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows and each data row's line number; blank lines are skipped."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows, lines = [], []
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"Data {where} cannot be read as CSV at line {reader.line_num}: {e}.") from None
    if not rows:
        raise DataError(f"Data {where} is empty.")
    header, body, lines = rows[0], rows[1:], lines[1:]
    dup = next((c for c in header if header.count(c) > 1), None)
    if dup is not None:
        raise DataError(f"Column name {dup!r} appears more than once in the header of {where}.")
    if not body:
        raise DataError(f"Data {where} is empty: it has a header but no data rows.")
    for row, line in zip(body, lines):
        if len(row) != len(header):
            raise DataError(f"Line {line} of {where} has {len(row)} fields but the header has "
                            f"{len(header)}.")
    return header, body, lines


def _numeric_column(values: list[str], name: str, lines: list[int], where: str) -> np.ndarray:
    """Parse one feature column; empty cells become NaN (reported later as missing)."""
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            out[i] = float(v) if v else np.nan
        except ValueError:
            raise DataError(f"Column {name!r} of {where} is not numeric: line {lines[i]} has {v!r}. "
                            f"Feature columns must hold numbers; drop or encode this column.") from None
    return out


def _read_csv(path: Path, where: str, target: str | None, delimiter: str) -> Raw:
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise DataError(f"The 'delimiter' option for {where} must be one character. "
                        f"Got {delimiter!r} instead.")
    header, body, lines = _csv_rows(_read_text(path, where), where, delimiter)
    columns = ", ".join(header)
    if target is None:
        raise DataError(f"Missing target= for CSV {where}: name its label column, one of: {columns}.")
    if target not in header:
        raise DataError(f"Unknown target column {target!r} in {where}; available columns: {columns}.")
    t = header.index(target)
    features = [c for c in header if c != target]
    if not features:
        raise DataError(f"Data {where} has no feature columns besides the target {target!r}.")
    labels = [row[t] for row in body]
    if "" in labels:
        raise DataError(f"Target column {target!r} of {where} is empty at line "
                        f"{lines[labels.index('')]}; every row needs a label.")
    X = np.stack([_numeric_column([row[j] for row in body], header[j], lines, where)
                  for j in range(len(header)) if j != t], axis=1)
    return Raw(X=X, y=np.array(labels), kind="tabular", where=where, feature_names=features,
               description=(f"User CSV {where}: {len(body)} rows, {len(features)} numeric feature "
                            f"columns and the label column {target!r}."))


# ---------------------------------------------------------------- npz

def _read_npz(path: Path, where: str) -> Raw:
    if path.stat().st_size == 0:
        raise DataError(f"Data {where} is empty.")
    try:
        z = np.load(path, allow_pickle=False)            # never unpickle a user's file
        if not isinstance(z, np.lib.npyio.NpzFile):      # a renamed .npy: a bare array
            raise DataError(f"Data {where} is a single .npy array, not an .npz archive; save it "
                            f"with numpy.savez(path, X=X, y=y).")
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
    from PIL import Image

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
