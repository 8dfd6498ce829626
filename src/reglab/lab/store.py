"""The experiment store: one folder per experiment, a SQLite database, safetensors weights.

Layout of ``runs/NAME/``::

    reglab.sqlite            experiment, runs (spec, status, versions), epochs, final metrics,
                             a content hash of each data split the runs trained on
    models/<run>.safetensors best weights (temp file in the same folder, then os.replace)
    results.csv              one row per run: hyperparameters and final metrics
    epochs.csv               one row per run and epoch
    .lock                    fcntl.flock: one process per experiment at a time

Only one process writes (the lab's main process; workers return their results), every write
is one transaction, and the journal is WAL, so a kill at any moment leaves a consistent store.
A run's status is one of ``pending``, ``running``, ``done``, ``diverged``, ``interrupted``.

Example::

    with Store.open("runs", "demo") as store:
        store.add_run("none-s0", "none", 0, spec)
        store.start_run("none-s0")
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import platform
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy
import torch
from safetensors import safe_open
from safetensors.torch import save

import reglab
from reglab._files import atomic_write
from reglab._validation import InvalidParameterError, fail
from reglab.lab.model_file import model_metadata
from reglab.lab.spec import RunSpec
from reglab.train.contract import EPOCH_KEYS, TASK_KEYS

__all__ = ["Store", "ExperimentLocked", "lock", "StoreDamaged", "STATUSES", "FINISHED", "check_name",
           "connect_read_only", "folder_stem", "versions"]

STATUSES = ("pending", "running", "done", "diverged", "interrupted")
FINISHED = ("done", "diverged")  # a rerun of either would give the same numbers
INTEGER_FINALS = ("epochs_trained", "best_epoch")  # stored as REAL, written as integers
EPOCH_COLUMNS = EPOCH_KEYS  # the run contract's epoch row (reglab.train.contract)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # used with fullmatch: "$" would
# also match before a final newline, letting "abc\n" through

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiment (
    name TEXT PRIMARY KEY, created REAL NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, arm TEXT NOT NULL, seed INTEGER NOT NULL, spec TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','running','done','diverged','interrupted')),
    reason TEXT, versions TEXT, created REAL NOT NULL, started REAL, finished REAL,
    position INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, epoch INTEGER NOT NULL,
    {epoch_columns}, PRIMARY KEY (run_id, epoch));
CREATE TABLE IF NOT EXISTS final (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS data (
    key TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
""".replace("{epoch_columns}", ", ".join(f"{c} REAL" for c in EPOCH_COLUMNS))


class ExperimentLocked(InvalidParameterError):
    """Another process holds the experiment's lock."""


class StoreDamaged(InvalidParameterError):
    """The experiment's database or one of its rows cannot be read as reglab wrote it."""


def lock(root: Path, busy: str) -> int:
    """Take the experiment's lock (``fcntl.flock`` on ``root/.lock``) and return its fd.

    The file is created with the mode the user's umask gives (0o666 & ~umask) and never
    through a link (O_NOFOLLOW). Raises ExperimentLocked, ending with ``busy``, when another
    process holds it; OSError when the folder cannot be written.
    """
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ExperimentLocked(f"The experiment {str(root)!r} is in use by another reglab "
                               f"process; {busy}") from None
    return fd


def check_name(name: Any) -> str:
    """Return ``name`` if it is a safe folder name (letters, digits, ``._-``; no ``..``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise fail("the experiment", "name",
                   "1-128 letters, digits, '.', '_' or '-' (no path separators, no '..')", name)
    return name


def folder_stem(data: str) -> str:
    """A folder-safe short name (ASCII letters, digits, ``-_``) for a data set name or path.

    Example: ``folder_stem("data/données.csv") == "donn-es"``.
    """
    stem = Path(data).stem if ("/" in data or "." in data) else data
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in stem)
    return safe.strip("-")[:40] or "data"


def connect_read_only(db: str | Path) -> sqlite3.Connection:
    """A read-only connection to the SQLite file ``db`` (its path quoted into the ``file:``
    URI, so ``#``, ``?`` and ``%`` in a folder name stay part of the path)."""
    uri = "file:" + urllib.parse.quote(str(Path(db).absolute())) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _damaged(db: Path, err: Exception) -> StoreDamaged:
    return StoreDamaged(f"The experiment store {str(db)!r} cannot be read ({err}); it is not a "
                        "database reglab wrote or it was damaged. Move the folder away (its "
                        "weights stay in models/) or pass another --name.")


def _refuse_links(root: Path) -> None:
    """The experiment's own entries must be real files and folders: a symlinked models/,
    figures/ or store would make reglab write through it, outside the experiment."""
    for entry in ("models", "figures", "reglab.sqlite", ".lock", "results.csv"):
        if (root / entry).is_symlink():
            raise InvalidParameterError(
                f"The experiment entry {str(root / entry)!r} is a symbolic link; reglab writes "
                "only inside the experiment folder. Replace it with a real folder or file.")


def versions() -> dict[str, str]:
    """Library versions recorded with every run."""
    return {"reglab": reglab.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


class Store:
    """One experiment folder: its database, its weights and its lock. Use as a context manager."""

    def __init__(self, root: Path, conn: sqlite3.Connection, lock_fd: int):
        self.root, self.conn, self._lock_fd = root, conn, lock_fd

    @classmethod
    def open(cls, out: str | Path, name: str, meta: Mapping[str, Any] | None = None) -> Store:
        """Open (creating if needed) ``out/name`` and take its lock, or raise ExperimentLocked."""
        root = Path(out) / check_name(name)
        unwritable = fail("the experiment", "out", "a folder that can be created and written",
                          str(out))
        if root.is_dir():
            _refuse_links(root)
        try:
            (root / "models").mkdir(parents=True, exist_ok=True)
            fd = lock(root, "wait for it to finish or choose another --name.")
        except OSError:  # --out (or a folder in it) is a file, or not writable
            raise unwritable from None
        try:
            conn = _open_store(root, name, meta, unwritable)
        except BaseException:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        store = cls(root, conn, fd)
        store.rechecked = store._check_weights()
        return store

    def meta(self) -> dict[str, Any]:
        """The experiment's metadata (command line, data description, label check...)."""
        row = self.conn.execute("SELECT meta FROM experiment").fetchone()
        try:
            meta = json.loads(row[0]) if row else {}
        except (TypeError, ValueError):
            meta = None
        if not isinstance(meta, dict):
            raise StoreDamaged(f"The experiment store {str(self.root)!r} holds a damaged "
                               f"experiment row: its meta is {row[0]!r}. Restore the store or "
                               "pass another --name.")
        return meta

    def update_meta(self, **items: Any) -> None:
        """Add or replace metadata keys, in one transaction."""
        with self._tx():
            meta = {**self.meta(), **items}
            self.conn.execute("UPDATE experiment SET meta=?",
                              (json.dumps(meta, sort_keys=True),))

    @staticmethod
    def read_only(out: str | Path, name: str) -> sqlite3.Connection:
        """A read-only connection (no lock), for listing and reports."""
        return connect_read_only(Path(out) / check_name(name) / "reglab.sqlite")

    def _check_weights(self) -> list[str]:
        """Runs stored ``done`` whose weight file is missing or unreadable go back to
        ``interrupted`` (so this command trains them again); returns their ids."""
        lost = [r["id"] for r in self.runs()
                if r["status"] == "done" and not _weights_ok(self.weights_path(r["id"]))]
        if lost:
            with self._tx():
                self.conn.executemany(
                    "UPDATE runs SET status='interrupted', reason=? WHERE id=?",
                    [("its weight file was missing or unreadable; trained again", rid)
                     for rid in lost])
        return lost

    def weights_path(self, run_id: str) -> Path:
        """``models/<run>.safetensors``."""
        return self.root / "models" / f"{check_name(run_id)}.safetensors"

    # -- context -------------------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the database and release the lock."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    def _tx(self):
        return _Transaction(self.conn)

    # -- runs ----------------------------------------------------------------------------
    def add_run(self, run_id: str, arm: str, seed: int, spec_json: str, position: int = 0) -> None:
        """Register a run as ``pending`` unless it exists; an existing one must have this spec."""
        row = self.conn.execute("SELECT spec FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is not None:
            if json.loads(row[0]) != json.loads(spec_json):
                raise InvalidParameterError(
                    f"The experiment {str(self.root)!r} already holds run {run_id!r} with another "
                    f"configuration ({_spec_diff(json.loads(row[0]), json.loads(spec_json))}); "
                    "pass another --name to start a new experiment.")
            return
        self._refuse_orphan_weights([run_id])
        with self._tx():
            self.conn.execute(
                "INSERT INTO runs (id, arm, seed, spec, status, created, position) "
                "VALUES (?,?,?,?,?,?,?)",
                (run_id, arm, seed, spec_json, "pending", time.time(), position))

    def add_runs(self, runs: Iterable[tuple[str, str, int, str]]) -> None:
        """Register ``(run_id, arm, seed, spec_json)`` runs: all of them, or none when one
        conflicts with a stored run (so a refused rerun leaves the store as it was)."""
        runs = list(runs)
        stored = dict(self.conn.execute("SELECT id, spec FROM runs").fetchall())
        for run_id, _, _, spec_json in runs:
            if run_id in stored and json.loads(stored[run_id]) != json.loads(spec_json):
                old = json.loads(stored[run_id])
                raise InvalidParameterError(
                    f"The experiment {str(self.root)!r} already holds run {run_id!r} with another "
                    f"configuration ({_spec_diff(old, json.loads(spec_json))}); "
                    "pass another --name to start a new experiment.")
        self._refuse_orphan_weights([r[0] for r in runs if r[0] not in stored])
        with self._tx():
            self.conn.executemany(
                "INSERT OR IGNORE INTO runs (id, arm, seed, spec, status, created, position) "
                "VALUES (?,?,?,?,?,?,?)",
                [(rid, arm, seed, spec, "pending", time.time(), i)
                 for i, (rid, arm, seed, spec) in enumerate(runs)])

    def data_hashes(self) -> dict[str, str]:
        """The content hash of each data split the experiment trained on, by its key."""
        return dict(self.conn.execute("SELECT key, sha256 FROM data").fetchall())

    def add_data_hashes(self, hashes: Mapping[str, str]) -> None:
        """Record data hashes not yet stored (a stored one is kept: compare before)."""
        with self._tx():
            self.conn.executemany("INSERT OR IGNORE INTO data (key, sha256) VALUES (?,?)",
                                  list(hashes.items()))

    def _refuse_orphan_weights(self, new_ids: Iterable[str]) -> None:
        """A run new to the store must not have weights yet: if it has, the store lost its
        rows (a dropped or replaced table) and training would overwrite surviving weights."""
        orphans = [rid for rid in new_ids if self.weights_path(rid).exists()]
        if orphans:
            raise StoreDamaged(
                f"The experiment store {str(self.root / 'reglab.sqlite')!r} has no row for run "
                f"{orphans[0]!r} but models/ holds its weights; the store lost rows. Restore it "
                "or pass another --name (the weights are kept).")

    def status(self, run_id: str) -> str | None:
        """The run's status, or None if it is not in the store."""
        row = self.conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        return None if row is None else row[0]

    def start_run(self, run_id: str) -> None:
        """Mark a run ``running``, dropping what an earlier unfinished attempt left behind."""
        with self._tx():
            self.conn.execute("DELETE FROM epochs WHERE run_id=?", (run_id,))
            self.conn.execute("DELETE FROM final WHERE run_id=?", (run_id,))
            self.conn.execute(
                "UPDATE runs SET status='running', reason=NULL, started=?, finished=NULL, "
                "versions=? WHERE id=?", (time.time(), json.dumps(versions()), run_id))

    def finish_run(self, run_id: str, status: str, reason: str | None,
                   epochs: Iterable[Mapping[str, float]], final: Mapping[str, float]) -> None:
        """Store a run's epochs, final metrics and status in one transaction."""
        if status not in STATUSES:
            raise fail("Store.finish_run", "status", f"one of {STATUSES}", status)
        with self._tx():
            self.conn.execute("DELETE FROM epochs WHERE run_id=?", (run_id,))
            self.conn.executemany(
                f"INSERT INTO epochs (run_id, epoch, {', '.join(EPOCH_COLUMNS)}) "
                f"VALUES (?, ?{', ?' * len(EPOCH_COLUMNS)})",
                [(run_id, i, *(_num(e.get(c)) for c in EPOCH_COLUMNS))
                 for i, e in enumerate(epochs)])
            self.conn.execute("DELETE FROM final WHERE run_id=?", (run_id,))
            self.conn.executemany("INSERT INTO final (run_id, key, value) VALUES (?,?,?)",
                                  [(run_id, k, _num(v)) for k, v in final.items()])
            self.conn.execute("UPDATE runs SET status=?, reason=?, finished=? WHERE id=?",
                              (status, reason, time.time(), run_id))

    def mark_unfinished(self, status: str = "interrupted", reason: str | None = None) -> int:
        """Mark every ``running`` run as ``status`` (after Ctrl-C); returns how many."""
        with self._tx():
            cur = self.conn.execute(
                "UPDATE runs SET status=?, reason=?, finished=? WHERE status='running'",
                (status, reason, time.time()))
        return cur.rowcount

    def save_weights(self, run_id: str, state: Mapping[str, Any],
                     data: Mapping[str, Any] | None = None) -> Path:
        """Write ``models/<run>.safetensors`` atomically (temp file in the folder, os.replace).

        The file carries :func:`reglab.lab.model_file.model_metadata` (spec, data kind, shape,
        class and feature names, standardization) when the run is in the store, so
        ``load_model`` / ``reglab predict`` can use it alone; else just ``{"run": run_id}``.
        ``data``: :func:`reglab.lab.model_file.describe_data` of the run's split (the executor,
        which holds the data, passes it).
        """
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
        metadata = self._model_metadata(run_id, data)
        return atomic_write(self.weights_path(run_id), save(tensors, metadata=metadata))

    def _model_metadata(self, run_id: str, data: Mapping[str, Any] | None) -> dict[str, str]:
        """The weights file's metadata: the run's spec from the store and ``data``."""
        row = self.conn.execute("SELECT spec FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None or data is None:
            return {"run": run_id}
        spec = RunSpec.from_dict(json.loads(row[0]))
        return model_metadata(run_id, spec, dict(data), versions())

    # -- reading -------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """Every run as a dict (id, arm, seed, spec dict, status, reason, final metrics...)."""
        return read_runs(self.conn)

    def epochs(self, run_id: str) -> list[dict[str, float]]:
        """The per-epoch metrics of one run, in order."""
        return read_epochs(self.conn, run_id)

    def export_csv(self) -> Path:
        """Write ``results.csv`` (one row per run, final metrics as columns) atomically."""
        return export_csv(self.conn, self.root / "results.csv")


# -- helpers shared with read-only connections ---------------------------------------------
def read_runs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every run of a store with its final metrics under ``"final"``, in plan order."""
    rows = conn.execute("SELECT id, arm, seed, spec, status, reason, versions, started, finished "
                        "FROM runs ORDER BY position, id").fetchall()
    finals: dict[str, dict[str, float]] = {}
    for run_id, key, value in conn.execute("SELECT run_id, key, value FROM final"):
        finals.setdefault(run_id, {})[str(key)] = _stored_num(value, f"final {key!r} of {run_id!r}")
    return [_run_row(r, finals) for r in rows]


def _run_row(r, finals: Mapping[str, dict[str, float]]) -> dict[str, Any]:
    """One ``runs`` row as a dict, each column checked: a hand-edited or damaged row is one
    clear StoreDamaged, never a crash later in a report or a silent wrong rerun."""
    def bad(column: str, value: Any) -> StoreDamaged:
        return StoreDamaged(f"The experiment store holds a damaged run row: column {column!r} "
                            f"of run {r[0]!r} is {value!r}. Restore the store or pass another "
                            "--name.")
    if not isinstance(r[0], str) or not _NAME.fullmatch(r[0]) or ".." in r[0]:
        raise bad("id", r[0])
    if not isinstance(r[1], str):
        raise bad("arm", r[1])
    if not isinstance(r[2], int) or isinstance(r[2], bool) or r[2] < 0:
        raise bad("seed", r[2])
    try:
        spec = json.loads(r[3])
        vers = json.loads(r[6]) if r[6] else None
    except (TypeError, ValueError):
        raise bad("spec or versions", r[3]) from None
    if not isinstance(spec, dict):
        raise bad("spec", r[3])
    if vers is not None and not isinstance(vers, dict):
        raise bad("versions", r[6])
    if r[4] not in STATUSES:
        raise bad("status", r[4])
    if r[5] is not None and not isinstance(r[5], str):
        raise bad("reason", r[5])
    return {"id": r[0], "arm": r[1], "seed": r[2], "spec": spec, "status": r[4],
            "reason": r[5], "versions": vers, "started": r[7], "finished": r[8],
            "final": finals.get(r[0], {})}


def _stored_num(value: Any, what: str) -> float | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise StoreDamaged(f"The experiment store holds a damaged value: {what} is {value!r}, "
                       "not a number. Restore the store or pass another --name.")


_TASK_ONLY = {k for keys in TASK_KEYS.values() for k in keys}


def _add_epoch_columns(conn: sqlite3.Connection) -> None:
    """A store made before a column of the epoch row existed (the regression columns) gets it."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(epochs)")}
    for c in EPOCH_COLUMNS:
        if c not in have:
            conn.execute(f"ALTER TABLE epochs ADD COLUMN {c} REAL")


def read_epochs(conn: sqlite3.Connection, run_id: str) -> list[dict[str, float]]:
    """The per-epoch metrics of one run: its task's keys (a NULL key of the other task's is
    left out, as the run's own rows leave it out; a store made before a column, read-only,
    lacks it)."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(epochs)")}
    columns = [c for c in EPOCH_COLUMNS if c in have]
    cur = conn.execute(f"SELECT epoch, {', '.join(columns)} FROM epochs WHERE run_id=? "
                       "ORDER BY epoch", (run_id,))
    return [{k: _stored_num(v, f"epoch {row[0]!r} {k!r} of {run_id!r}")
             for k, v in zip(("epoch", *columns), row) if v is not None or k not in _TASK_ONLY}
            for row in cur]


def _epoch_csv_columns(epochs: list[dict[str, Any]]) -> list[str]:
    """epochs.csv's metric columns: the common ones and the task keys some row has (the
    classification ones when no row has any)."""
    present = {k for e in epochs for k in e}
    cls = set(TASK_KEYS["classification"])
    if not present & _TASK_ONLY:
        present |= cls
    return [c for c in EPOCH_COLUMNS if c not in _TASK_ONLY or c in present]


def export_csv(conn: sqlite3.Connection, path: Path) -> Path:
    """Write ``results.csv`` at ``path`` and ``epochs.csv`` beside it; returns ``path``.

    results.csv: one row per run: ``run, arm, seed, status, reason``, then one column per
    resolved hyperparameter (every RunSpec key but seed, in declaration order; lists as
    ``a,b``, booleans as ``true`` / ``false``, None empty), then the final metrics (sorted;
    ``epochs_trained`` and ``best_epoch`` as integers). epochs.csv: one row per run and
    epoch: ``run, arm, seed, epoch`` and the per-epoch metrics. Both: temp file then
    os.replace, mode 0666 minus the umask.
    """
    runs = read_runs(conn)
    defaults = RunSpec().to_dict()  # the store leaves out target when it is None
    params = [k for k in RunSpec.keys() if k != "seed"]
    keys = sorted({k for r in runs for k in r["final"]})
    _write_csv(path, ["run", "arm", "seed", "status", "reason", *params, *keys], (
        [r["id"], r["arm"], r["seed"], r["status"], r["reason"] or "",
         *(_csv_value(r["spec"].get(k, defaults.get(k)))
           for k in params),
         *(_csv_num(r["final"].get(k), k in INTEGER_FINALS) for k in keys)]
        for r in runs))
    epochs = [(r, e) for r in runs for e in read_epochs(conn, r["id"])]
    columns = _epoch_csv_columns([e for _, e in epochs])
    _write_csv(path.with_name("epochs.csv"), ["run", "arm", "seed", "epoch", *columns], (
        [r["id"], r["arm"], r["seed"], e["epoch"], *(_csv_num(e.get(c)) for c in columns)]
        for r, e in epochs))
    return path


def _write_csv(path: Path, head: list[str], rows: Iterable[list[Any]]) -> None:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows(rows)
    atomic_write(path, buf.getvalue().encode("utf-8"))


def list_experiments(out: str | Path) -> list[dict[str, Any]]:
    """Every experiment under ``out`` with its run count per status."""
    found = []
    for db in sorted(Path(out).glob("*/reglab.sqlite")):
        name = db.parent.name
        try:
            conn = Store.read_only(out, name)
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
            created = conn.execute("SELECT MIN(created) FROM experiment").fetchone()[0]
            conn.close()
        except (sqlite3.Error, InvalidParameterError, TypeError) as err:
            found.append({"name": name, "error": str(err), "counts": {}, "created": None})
            continue
        found.append({"name": name, "counts": counts, "created": created})
    return found


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *exc: Any) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _open_store(root: Path, name: str, meta: Mapping[str, Any] | None,
                unwritable: Exception) -> sqlite3.Connection:
    """Connect to (or create) ``root/reglab.sqlite``; refuse a damaged one."""
    db = root / "reglab.sqlite"
    if db.exists() and db.stat().st_size == 0 and any((root / "models").glob("*.safetensors")):
        # an empty file would open as a new store and retrain over the weights it lost
        raise _damaged(db, "the file is empty but models/ holds weights")
    conn = None
    try:
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(ok)
        conn.executescript(_SCHEMA)
        _add_epoch_columns(conn)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR IGNORE INTO experiment (name, created, meta) VALUES (?,?,?)",
                     (name, time.time(), json.dumps(dict(meta or {}), sort_keys=True)))
        conn.execute("COMMIT")
        read_runs(conn)  # every row readable, before anything is trained or written
    except sqlite3.OperationalError as err:
        conn is not None and conn.close()
        if "readonly" in str(err) or "unable to open" in str(err) or "disk" in str(err):
            raise unwritable from None
        raise _damaged(db, err) from None
    except sqlite3.DatabaseError as err:
        conn is not None and conn.close()
        raise _damaged(db, err) from None
    except BaseException:
        conn is not None and conn.close()
        raise
    return conn


def _weights_ok(path: Path) -> bool:
    """The file is a safetensors file whose header reads (cheap: the tensors are not read)."""
    if not path.is_file() or path.is_symlink():
        return False
    try:
        with safe_open(str(path), framework="numpy") as fh:
            fh.keys()
    except Exception:  # noqa: BLE001 - safetensors raises its own SafetensorError and OSError
        return False
    return True


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def _csv_num(v: Any, integer: bool = False) -> str:
    if v is None:
        return ""
    v = float(v)
    return str(int(v)) if integer and math.isfinite(v) else repr(v)


def _csv_value(v: Any) -> str:
    """A hyperparameter as a CSV cell: lists as ``a,b`` (how the flags take them)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return repr(v) if isinstance(v, float) else str(v)


def _spec_diff(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:3])
