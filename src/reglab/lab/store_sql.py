"""The experiment store on PostgreSQL, shared by many machines (``--storage postgresql://...``).

One PostgreSQL schema per experiment, ``"reglab_NAME"``, holds the tables of the SQLite store
(:mod:`reglab.lab.store`: ``experiment``, ``runs``, ``epochs``, ``final``, ``data``; REAL as
DOUBLE PRECISION) and three more for sharing:

- ``plan``: the fingerprint of the plan (every run id, arm, seed and spec, every data hash),
  fixed by the first machine; a machine with another plan is refused with one line.
- ``stacks``: the plan's stacks (:func:`reglab.lab.execute.plan`), the unit of claim: its
  member run ids, ``claimed_by``, ``heartbeat`` (the server's clock), ``status`` (open /
  done / failed).
- ``weights``: each run's best weights as safetensors bytes (what ``models/<run>.safetensors``
  holds in a folder), written in the same transaction as its rows and status, so no shared
  folder is needed and the database never names weights that are not there.
- ``claims``: one row per claim (stack, worker, when, finished or not), the audit trail.

Every write is one transaction. A claim is ``SELECT ... FOR UPDATE SKIP LOCKED`` on a stack
that is open (or failed, not yet tried by this worker) and unclaimed, or whose heartbeat is
older than the lease: two workers never hold one stack, and a dead worker's stack is taken
over once its lease expires. A stack's results are written only if no one wrote them first.

Example::

    store = SharedStore.open("postgresql://u:pw@host/db", "demo")
    store.claim("host:123", lease=60)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from safetensors.torch import save as safetensors_bytes

from reglab._files import atomic_write
from reglab._validation import InvalidParameterError, fail
from reglab.lab.store import (_TASK_ONLY, EPOCH_COLUMNS, ExperimentLocked, Store, _spec_diff,
                              check_name, versions)
from reglab.lab.tune import _driver_url, redact

__all__ = ["SharedStore", "MAX_NAME", "schema_name"]

MAX_NAME = 56  # PostgreSQL identifiers hold 63 bytes: "reglab_" + 56

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.experiment (
    name TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, meta TEXT NOT NULL DEFAULT '{{}}');
CREATE TABLE IF NOT EXISTS {s}.runs (
    id TEXT PRIMARY KEY, arm TEXT NOT NULL, seed INTEGER NOT NULL, spec TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','running','done','diverged','interrupted')),
    reason TEXT, versions TEXT, created DOUBLE PRECISION NOT NULL, started DOUBLE PRECISION,
    finished DOUBLE PRECISION, position INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS {s}.epochs (
    run_id TEXT NOT NULL REFERENCES {s}.runs(id) ON DELETE CASCADE, epoch INTEGER NOT NULL,
    {epoch_columns}, PRIMARY KEY (run_id, epoch));
CREATE TABLE IF NOT EXISTS {s}.final (
    run_id TEXT NOT NULL REFERENCES {s}.runs(id) ON DELETE CASCADE, key TEXT NOT NULL,
    value DOUBLE PRECISION, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS {s}.data (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.weights (
    run_id TEXT PRIMARY KEY REFERENCES {s}.runs(id) ON DELETE CASCADE, safetensors BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.plan (id INTEGER PRIMARY KEY CHECK (id = 0), fingerprint TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.stacks (
    id INTEGER PRIMARY KEY, members TEXT NOT NULL, stacked BOOLEAN NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','done','failed')),
    claimed_by TEXT, heartbeat TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS {s}.claims (
    stack_id INTEGER NOT NULL REFERENCES {s}.stacks(id), worker TEXT NOT NULL,
    claimed TIMESTAMPTZ NOT NULL DEFAULT now(), finished TIMESTAMPTZ, wrote BOOLEAN);
""".replace("{epoch_columns}", ", ".join(f"{c} DOUBLE PRECISION" for c in EPOCH_COLUMNS)) + "".join(
    # an experiment made before a column of the epoch row existed (the regression ones)
    f"ALTER TABLE {{s}}.epochs ADD COLUMN IF NOT EXISTS {c} DOUBLE PRECISION;\n"
    for c in EPOCH_COLUMNS)


def schema_name(name: str) -> str:
    """The quoted PostgreSQL schema of experiment ``name`` (a checked folder name)."""
    check_name(name)
    if len(name) > MAX_NAME:
        raise fail("the experiment", "name", f"at most {MAX_NAME} characters with --storage "
                   "postgresql://...", name)
    return '"reglab_' + name + '"'


def engine_for(url: str) -> sa.Engine:
    """A SQLAlchemy engine for a ``postgresql://`` URL (psycopg2 when psycopg 3 is absent)."""
    if not url.startswith(("postgresql://", "postgres://", "postgresql+")):
        raise fail("compare", "storage", "a postgresql://user:password@host:port/db URL",
                   redact(url))
    try:
        return sa.create_engine(_driver_url(url), pool_pre_ping=True,
                                connect_args={"connect_timeout": 10})
    except ImportError as err:
        raise InvalidParameterError(f"The storage {redact(url)!r} needs a database driver: "
                                    f"{err} (pip install 'reglab[tune]').") from None


class SharedStore:
    """One experiment in a PostgreSQL database; the interface of :class:`Store` plus claims.

    ``root`` is the local folder that :meth:`snapshot` fills (a plain SQLite experiment
    folder: results.csv, the report and ``reglab report runs/NAME`` work on it).
    """

    def __init__(self, engine: sa.Engine, url: str, name: str, root: Path):
        self.engine, self.url, self.name, self.root = engine, url, name, root
        self.s = schema_name(name)

    @classmethod
    def open(cls, url: str, name: str, root: str | Path, meta: Mapping[str, Any] | None = None,
             create: bool = True) -> SharedStore:
        """Connect; create the experiment's schema and tables if ``create`` (else refuse a
        name the database does not hold)."""
        store = cls(engine_for(url), url, name, Path(root))
        try:
            with store.engine.begin() as c:
                exists = c.execute(sa.text("SELECT 1 FROM information_schema.schemata WHERE "
                                           "schema_name = :n"),
                                   {"n": "reglab_" + name}).first() is not None
                if not exists and not create:
                    raise InvalidParameterError(
                        f"The storage {redact(url)!r} holds no experiment {name!r}; start it "
                        "with reglab compare --storage URL --name NAME.")
                if create:
                    # concurrent CREATE ... IF NOT EXISTS race on the catalog: one at a time
                    c.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:n))"),
                              {"n": store.s})
                    c.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {store.s}"))
                    for statement in _TABLES.format(s=store.s).split(";"):
                        if statement.strip():
                            c.execute(sa.text(statement))
                    c.execute(sa.text(f"INSERT INTO {store.s}.experiment (name, created, meta) "
                                      "VALUES (:n, :t, :m) ON CONFLICT DO NOTHING"),
                              {"n": name, "t": time.time(),
                               "m": json.dumps(dict(meta or {}), sort_keys=True)})
        except sa.exc.OperationalError as err:
            store.engine.dispose()
            raise InvalidParameterError(f"Cannot open the storage {redact(url)!r}: "
                                        f"{' '.join(str(err.orig).split())[:300]}") from None
        return store

    def __enter__(self) -> SharedStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def _q(self, sql: str) -> sa.TextClause:
        return sa.text(sql.replace("{s}", self.s))

    # -- the interface of Store ---------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        with self.engine.connect() as c:
            row = c.execute(self._q("SELECT meta FROM {s}.experiment")).first()
        return json.loads(row[0]) if row else {}

    def update_meta(self, **items: Any) -> None:
        with self.engine.begin() as c:
            row = c.execute(self._q("SELECT meta FROM {s}.experiment FOR UPDATE")).first()
            meta = {**(json.loads(row[0]) if row else {}), **items}
            c.execute(self._q("UPDATE {s}.experiment SET meta = :m"),
                      {"m": json.dumps(meta, sort_keys=True)})

    def status(self, run_id: str) -> str | None:
        with self.engine.connect() as c:
            row = c.execute(self._q("SELECT status FROM {s}.runs WHERE id = :i"),
                            {"i": run_id}).first()
        return None if row is None else row[0]

    def data_hashes(self) -> dict[str, str]:
        with self.engine.connect() as c:
            return dict(c.execute(self._q("SELECT key, sha256 FROM {s}.data")).all())

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return _read_runs(c, self)

    def epochs(self, run_id: str) -> list[dict[str, float]]:
        with self.engine.connect() as c:
            rows = c.execute(self._q(f"SELECT epoch, {', '.join(EPOCH_COLUMNS)} FROM {{s}}.epochs "
                                     "WHERE run_id = :i ORDER BY epoch"), {"i": run_id}).all()
        return [{k: v for k, v in zip(("epoch", *EPOCH_COLUMNS), r)
                 if v is not None or k not in _TASK_ONLY} for r in rows]

    def counts(self) -> dict[str, int]:
        """Runs per status."""
        with self.engine.connect() as c:
            return dict(c.execute(self._q("SELECT status, COUNT(*) FROM {s}.runs "
                                          "GROUP BY status")).all())

    # -- the plan, fixed once -------------------------------------------------------------
    def fix_plan(self, runs: Sequence[tuple[str, str, int, str]], hashes: Mapping[str, str],
                 stacks: Sequence[tuple[Sequence[str], bool]], fingerprint: str) -> bool:
        """Record the plan (runs, data hashes, stacks) if none is, else check it is this one.

        Returns True if this call fixed the plan. Raises InvalidParameterError (one line)
        when the stored plan differs, naming the first difference.
        """
        with self.engine.begin() as c:
            c.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": self.s})
            row = c.execute(self._q("SELECT fingerprint FROM {s}.plan")).first()
            if row is not None:
                if row[0] != fingerprint:
                    raise InvalidParameterError(
                        f"The experiment {self.name!r} in {redact(self.url)!r} was planned "
                        f"with other runs or data ({self._difference(c, runs, hashes)}); run "
                        "the first machine's command, or pass another --name.")
                return False
            now = time.time()
            c.execute(self._q("INSERT INTO {s}.runs (id, arm, seed, spec, status, created, "
                              "position) VALUES (:i, :a, :se, :sp, 'pending', :t, :p)"),
                      [{"i": r, "a": a, "se": s, "sp": sp, "t": now, "p": k}
                       for k, (r, a, s, sp) in enumerate(runs)])
            if hashes:
                c.execute(self._q("INSERT INTO {s}.data (key, sha256) VALUES (:k, :h)"),
                          [{"k": k, "h": h} for k, h in hashes.items()])
            c.execute(self._q("INSERT INTO {s}.stacks (id, members, stacked) "
                              "VALUES (:i, :m, :st)"),
                      [{"i": k, "m": json.dumps(list(m)), "st": bool(st)}
                       for k, (m, st) in enumerate(stacks)])
            c.execute(self._q("INSERT INTO {s}.plan (id, fingerprint) VALUES (0, :f)"),
                      {"f": fingerprint})
        return True

    def _difference(self, c, runs, hashes) -> str:
        stored = {r[0]: r[1] for r in c.execute(self._q("SELECT id, spec FROM {s}.runs"))}
        for run_id, _, _, spec in runs:
            if run_id not in stored:
                return f"run {run_id!r} is not in it"
            if json.loads(stored[run_id]) != json.loads(spec):
                return f"run {run_id!r}: {_spec_diff(json.loads(stored[run_id]), json.loads(spec))}"
        if len(stored) != len(runs):
            return f"it holds {len(stored)} runs, this command plans {len(runs)}"
        stored_data = dict(c.execute(self._q("SELECT key, sha256 FROM {s}.data")).all())
        for key, h in hashes.items():
            if stored_data.get(key, h) != h:
                return f"the data {json.loads(key)[0]!r} differs for seed {json.loads(key)[2]}"
        return "the order of the runs or the data hashes differ"

    # -- claims -------------------------------------------------------------------------
    def claim(self, worker: str, lease: float, tried: Iterable[int] = ()) -> tuple | None:
        """Claim one stack for ``worker``: ``(stack_id, member run ids, stacked, the members
        not finished yet)``, or None.

        Claimable: open (or failed) stacks this worker has not tried, unclaimed or with a
        heartbeat older than ``lease`` seconds (a dead worker's). Its unfinished members
        are marked running, their earlier partial rows dropped, in the same transaction.
        """
        tried = sorted(set(tried)) or [-1]
        with self.engine.begin() as c:
            row = c.execute(self._q(
                "SELECT id, members, stacked FROM {s}.stacks WHERE status <> 'done' "
                "AND NOT (id = ANY(:tried)) AND (claimed_by IS NULL OR heartbeat < now() - "
                "make_interval(secs => :lease)) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"),
                {"tried": tried, "lease": float(lease)}).first()
            if row is None:
                return None
            members = json.loads(row[1])
            c.execute(self._q("UPDATE {s}.stacks SET claimed_by = :w, heartbeat = now() "
                              "WHERE id = :i"), {"w": worker, "i": row[0]})
            c.execute(self._q("INSERT INTO {s}.claims (stack_id, worker) VALUES (:i, :w)"),
                      {"i": row[0], "w": worker})
            open_ids = [r[0] for r in c.execute(self._q(
                "SELECT id FROM {s}.runs WHERE id = ANY(:m) AND status NOT IN "
                "('done', 'diverged')"), {"m": members})]
            c.execute(self._q("DELETE FROM {s}.epochs WHERE run_id = ANY(:m)"), {"m": open_ids})
            c.execute(self._q("DELETE FROM {s}.final WHERE run_id = ANY(:m)"), {"m": open_ids})
            c.execute(self._q("UPDATE {s}.runs SET status = 'running', reason = NULL, "
                              "started = :t, finished = NULL, versions = :v WHERE id = ANY(:m)"),
                      {"t": time.time(), "v": json.dumps(versions()), "m": open_ids})
        return row[0], members, bool(row[2]), set(open_ids)

    def heartbeat(self, stack_id: int, worker: str) -> None:
        """Renew ``worker``'s claim on the stack (the server's clock)."""
        with self.engine.begin() as c:
            c.execute(self._q("UPDATE {s}.stacks SET heartbeat = now() WHERE id = :i AND "
                              "claimed_by = :w"), {"i": stack_id, "w": worker})

    def waiting(self, tried: Iterable[int]) -> int:
        """Stacks not done that this worker has not tried (held by others or claimable)."""
        with self.engine.connect() as c:
            return c.execute(self._q("SELECT COUNT(*) FROM {s}.stacks WHERE status <> 'done' "
                                     "AND NOT (id = ANY(:t))"),
                             {"t": sorted(set(tried)) or [-1]}).scalar_one()

    def finish_stack(self, stack_id: int, worker: str,
                     results: Sequence[tuple[str, str, str | None, list, Mapping, Any]]) -> bool:
        """Write a stack's results ``(run_id, status, reason, epochs, final, weights)`` in one
        transaction, unless another worker wrote them first; returns whether this one wrote.
        ``weights``: the safetensors bytes (:func:`weights_bytes`) or None.
        """
        finished = ("done", "diverged")
        with self.engine.begin() as c:
            row = c.execute(self._q("SELECT status FROM {s}.stacks WHERE id = :i FOR UPDATE"),
                            {"i": stack_id}).first()
            wrote = row[0] != "done"
            if wrote:
                for run_id, status, reason, epochs, final, weights in results:
                    self._write_run(c, run_id, status, reason, epochs, final, weights)
                ok = all(r[1] in finished for r in results)
                c.execute(self._q("UPDATE {s}.stacks SET status = :st, claimed_by = NULL, "
                                  "heartbeat = NULL WHERE id = :i"),
                          {"st": "done" if ok else "failed", "i": stack_id})
            c.execute(self._q("UPDATE {s}.claims SET finished = now(), wrote = :wr WHERE "
                              "stack_id = :i AND worker = :w AND finished IS NULL"),
                      {"wr": wrote, "i": stack_id, "w": worker})
        return wrote

    def _write_run(self, c, run_id, status, reason, epochs, final, weights) -> None:
        c.execute(self._q("DELETE FROM {s}.epochs WHERE run_id = :i"), {"i": run_id})
        if epochs:
            c.execute(self._q(f"INSERT INTO {{s}}.epochs (run_id, epoch, {', '.join(EPOCH_COLUMNS)})"
                              f" VALUES (:run_id, :epoch, {', '.join(':' + k for k in EPOCH_COLUMNS)})"),
                      [{"run_id": run_id, "epoch": i, **{k: _num(e.get(k)) for k in EPOCH_COLUMNS}}
                       for i, e in enumerate(epochs)])
        c.execute(self._q("DELETE FROM {s}.final WHERE run_id = :i"), {"i": run_id})
        if final:
            c.execute(self._q("INSERT INTO {s}.final (run_id, key, value) VALUES (:i, :k, :v)"),
                      [{"i": run_id, "k": k, "v": _num(v)} for k, v in final.items()])
        c.execute(self._q("DELETE FROM {s}.weights WHERE run_id = :i"), {"i": run_id})
        if weights is not None:
            c.execute(self._q("INSERT INTO {s}.weights (run_id, safetensors) VALUES (:i, :b)"),
                      {"i": run_id, "b": weights})
        c.execute(self._q("UPDATE {s}.runs SET status = :st, reason = :r, finished = :t "
                          "WHERE id = :i"),
                  {"st": status, "r": reason, "t": time.time(), "i": run_id})

    def release(self, stack_id: int, worker: str, reason: str) -> None:
        """Give a claimed stack back at once (Ctrl-C): its running runs marked interrupted."""
        with self.engine.begin() as c:
            members = c.execute(self._q("SELECT members FROM {s}.stacks WHERE id = :i AND "
                                        "claimed_by = :w FOR UPDATE"),
                                {"i": stack_id, "w": worker}).first()
            if members is None:
                return
            c.execute(self._q("UPDATE {s}.runs SET status = 'interrupted', reason = :r, "
                              "finished = :t WHERE id = ANY(:m) AND status = 'running'"),
                      {"r": reason, "t": time.time(), "m": json.loads(members[0])})
            c.execute(self._q("UPDATE {s}.stacks SET claimed_by = NULL, heartbeat = NULL "
                              "WHERE id = :i"), {"i": stack_id})
            c.execute(self._q("UPDATE {s}.claims SET finished = now(), wrote = false WHERE "
                              "stack_id = :i AND worker = :w AND finished IS NULL"),
                      {"i": stack_id, "w": worker})

    def claims(self) -> list[dict[str, Any]]:
        """Every claim: stack, worker, finished (bool), wrote (bool or None)."""
        with self.engine.connect() as c:
            rows = c.execute(self._q("SELECT stack_id, worker, finished IS NOT NULL, wrote "
                                     "FROM {s}.claims ORDER BY claimed")).all()
        return [{"stack": r[0], "worker": r[1], "finished": r[2], "wrote": r[3]} for r in rows]

    # -- a local copy -------------------------------------------------------------------
    def snapshot(self, then: Callable[[Store], Any] | None = None, wait: float = 120.0) -> Any:
        """Copy the shared experiment, as it is now (one REPEATABLE READ transaction), into
        the SQLite folder ``root``: its database, ``models/*.safetensors`` and results.csv;
        then call ``then`` with that local store, still locked, and return what it returns.

        Workers of one machine sharing a folder take turns (its lock, up to ``wait`` s).
        """
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as c:
            with c.begin():
                tables = {t: c.execute(self._q(f"SELECT * FROM {{s}}.{t}")).all()
                          for t in ("experiment", "runs", "epochs", "final", "data")}
                weights = c.execute(self._q("SELECT run_id, safetensors FROM {s}.weights")).all()
        deadline = time.monotonic() + wait
        while True:
            try:
                store = Store.open(self.root.parent, self.root.name)
                break
            except ExperimentLocked:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with store:
            with store._tx() as conn:
                for table in ("epochs", "final", "data", "runs", "experiment"):
                    conn.execute(f"DELETE FROM {table}")
                for table in ("experiment", "runs", "epochs", "final", "data"):
                    rows = tables[table]
                    if rows:
                        cols = ", ".join(rows[0]._fields)
                        marks = ", ".join("?" * len(rows[0]._fields))
                        conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                                         [tuple(r) for r in rows])
            models = store.root / "models"
            for run_id, blob in weights:
                atomic_write(models / f"{check_name(run_id)}.safetensors", bytes(blob))
            store.export_csv()
            return None if then is None else then(store)


def weights_bytes(state: Mapping[str, Any], metadata: Mapping[str, str]) -> bytes:
    """The safetensors file ``Store.save_weights`` writes, as bytes (``metadata``: what
    :func:`reglab.lab.model_file.model_metadata` gives for the run)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    return safetensors_bytes(tensors, metadata=dict(metadata))


def _read_runs(c, store: SharedStore) -> list[dict[str, Any]]:
    rows = c.execute(store._q("SELECT id, arm, seed, spec, status, reason, versions, started, "
                              "finished FROM {s}.runs ORDER BY position, id")).all()
    finals: dict[str, dict[str, float]] = {}
    for run_id, key, value in c.execute(store._q("SELECT run_id, key, value FROM {s}.final")):
        finals.setdefault(run_id, {})[key] = value
    return [{"id": r[0], "arm": r[1], "seed": r[2], "spec": json.loads(r[3]), "status": r[4],
             "reason": r[5], "versions": json.loads(r[6]) if r[6] else None, "started": r[7],
             "finished": r[8], "final": finals.get(r[0], {})} for r in rows]


def _num(v: Any) -> float | None:
    return None if v is None else float(v)
