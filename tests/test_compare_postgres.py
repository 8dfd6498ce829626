"""reglab compare shared by many machines through PostgreSQL (issue 17): two workers finish
exactly the planned runs once each, a SIGKILLed worker's claimed stack is finished by the
other, the results equal a single-machine SQLite run's (but the wall-clock column), a
different spec under the same name is refused; reglab report --storage reads it any time.

The server: env REGLAB_TEST_POSTGRES_URL (as for test_tune_postgres.py), else
postgresql://postgres@127.0.0.1:5432/reglab_test. These tests use the database
``reglab_many`` on that server (created here if missing, as .ci/run also does) and one
experiment (a PostgreSQL schema) per test, dropped afterwards. Skipped, with the reason,
when no server answers.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install 'reglab[tune]')")

from reglab.lab.arms import arm_changes  # noqa: E402
from reglab.lab import store_sql  # noqa: E402
from reglab.lab.tune import _driver_url, redact  # noqa: E402
from reglab.train.contract import TASK_KEYS  # noqa: E402
from test_execute import results, run_cli, start  # noqa: E402

SERVER = os.environ.get("REGLAB_TEST_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/reglab_test")
DATABASE = "reglab_many"
# 7 arms x 2 seeds = 14 runs of one shape: the plan's stacks of 5, 5 and 4
SMALL = ["compare", "--data", "digits", "--seeds", "2", "--epochs", "3", "--hidden", "32",
         "--arms", "none,l1,l2,dropout,early_stopping,augment,all",  # the seven: 14 runs
         "--quiet"]


def _database_url() -> tuple[str | None, str | None]:
    """(URL of the test database, None), or (None, why there is none) in one line."""
    try:
        url = sa.engine.make_url(_driver_url(SERVER))
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3},
                                  isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            if c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                         {"d": DATABASE}).first() is None:
                c.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
        engine.dispose()
    except Exception as err:  # noqa: BLE001 - any failure means: no server to test against
        return None, " ".join(str(err).split())[:200]
    return url.set(database=DATABASE).render_as_string(hide_password=False), None


URL, _WHY = _database_url()
needs_server = pytest.mark.skipif(
    URL is None, reason=f"no PostgreSQL server at {redact(SERVER)} (set "
    f"REGLAB_TEST_POSTGRES_URL) or no database {DATABASE} there: {_WHY}")


@pytest.fixture
def name():
    """A fresh experiment name; its schema is dropped afterwards."""
    exp = f"t{uuid.uuid4().hex[:12]}"
    yield exp
    engine = sa.create_engine(URL)
    with engine.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA IF EXISTS {store_sql.schema_name(exp)} CASCADE"))
    engine.dispose()


def _query(exp: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(URL)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(
                sql.replace("{s}", store_sql.schema_name(exp))))]
    except sa.exc.ProgrammingError:  # the schema does not exist yet
        return []
    finally:
        engine.dispose()


def _claims(exp: str) -> list[tuple]:
    """(stack, worker, finished, wrote) of every claim, in claim order."""
    return _query(exp, "SELECT stack_id, worker, finished IS NOT NULL, wrote FROM {s}.claims "
                       "ORDER BY claimed")


@needs_server
def test_claims_are_exclusive_expire_and_write_a_stack_once(tmp_path, name):
    """The claim protocol alone (no training): a held stack is skipped, an expired one is
    taken over, the slower of two writers of one stack writes nothing."""
    store = store_sql.SharedStore.open(URL, name, tmp_path / name)
    spec = json.dumps({"seed": 0})
    runs = [(f"r{k}", "none", 0, spec) for k in range(3)]
    assert store.fix_plan(runs, {}, [(["r0", "r1"], True), (["r2"], False)], "f1")
    assert not store.fix_plan(runs, {}, [(["r0", "r1"], True), (["r2"], False)], "f1")
    a = store.claim("A", lease=1.0)
    assert a == (0, ["r0", "r1"], True, {"r0", "r1"})
    assert store.claim("B", lease=1.0)[0] == 1  # stack 0 is A's: B gets the next one
    assert store.claim("B", lease=1.0, tried={1}) is None  # nothing free while A beats
    assert store.status("r0") == "running"
    time.sleep(1.3)  # A is silent past the lease (killed)
    assert store.claim("B", lease=1.0, tried={1})[0] == 0  # taken over
    row = ("r0", "done", "ok", [{"val_acc": 0.5}], {"test_acc": 0.5}, None)
    assert store.finish_stack(0, "B", [row, ("r1", *row[1:])])
    assert not store.finish_stack(0, "A", [row, ("r1", *row[1:])])  # late: not written again
    # a key of one task only (train_acc, val_rmse...) is left out where it is NULL
    task_only = {k for keys in TASK_KEYS.values() for k in keys}
    assert store.epochs("r0") == [{"epoch": 0, **{c: (0.5 if c == "val_acc" else None)
                                                 for c in store_sql.EPOCH_COLUMNS
                                                 if c == "val_acc" or c not in task_only}}]
    assert store.waiting({1}) == 0 and store.waiting(set()) == 1
    assert [(c["stack"], c["worker"], c["finished"], c["wrote"]) for c in store.claims()] == [
        (0, "A", True, False), (1, "B", False, None), (0, "B", True, True)]
    store.close()


@needs_server
@pytest.mark.slow  # two worker processes, a single-machine run and three reports: ~25 s
def test_two_workers_share_the_runs_once_each_and_equal_one_machine(tmp_path, name):
    shared = [*SMALL, "--name", name, "--storage", URL]
    workers = [start([*shared, "--out", str(tmp_path / f"m{k}")]) for k in (1, 2)]
    outs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[1] for o in outs]
    claims = _claims(name)
    stacks = _query(name, "SELECT id, members, status FROM {s}.stacks ORDER BY id")
    assert [s[2] for s in stacks] == ["done"] * 3
    members = sorted(m for s in stacks for m in json.loads(s[1]))
    assert len(members) == 14 == len(set(members))  # every run in exactly one stack
    # each stack claimed once, and that claim wrote its results
    assert sorted(c[0] for c in claims) == [0, 1, 2], claims
    assert all(c[2] and c[3] for c in claims), claims
    single = run_cli([*SMALL, "--name", "one", "--workers", "1", "--out", str(tmp_path / "s")])
    assert single[0] == 0, single[2]
    reference = results(tmp_path / "s" / "one")
    assert len(reference) == 14 and all(r["status"] == "done" for r in reference)
    for k in (1, 2):  # both machines' copies: the single-machine numbers to the last digit
        assert results(tmp_path / f"m{k}" / name) == reference
        for run in reference:  # byte-identical weight files
            a = tmp_path / f"m{k}" / name / "models" / f"{run['run']}.safetensors"
            b = tmp_path / "s" / "one" / "models" / f"{run['run']}.safetensors"
            assert a.read_bytes() == b.read_bytes()
    # reglab report --storage from a third place: the same results.csv and the report
    code, out, err = run_cli(["report", "--storage", URL, "--name", name, "--out",
                              str(tmp_path / "r")])
    assert code == 0, err
    assert "14 of 14 runs finished" in out and "still open" not in out
    assert results(tmp_path / "r" / name) == reference
    assert (tmp_path / "r" / name / "report.html").is_file()


# what --l2 0.5 changes in the image l2 arm: its own L2 strength goes (a flag replaces the
# technique's strength), e.g. "l2: 0.0 -> 0.5, weight_decay: 0.2 -> 0.0"
_L2_CHANGE = ", ".join(f"{k}: {float(arm_changes('image')['l2'].get(k, 0.0))} -> "
                       f"{0.5 if k == 'l2' else 0.0}"
                       for k in ("l2", "weight_decay")
                       if k == "l2" or k in arm_changes("image")["l2"])


@needs_server
def test_a_different_spec_under_the_same_name_is_refused(tmp_path, name):
    base = ["compare", "--data", "digits", "--arms", "none,l2", "--seeds", "1", "--epochs",
            "1", "--hidden", "8", "--quiet", "--name", name, "--storage", URL, "--out",
            str(tmp_path)]
    assert run_cli(base)[0] == 0
    before = _query(name, "SELECT id, status, finished FROM {s}.runs ORDER BY id")
    code, out, err = run_cli([*base, "--l2", "0.5"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"reglab: error: The experiment '{name}' in "
                          f"'{redact(URL)}' was planned with other runs or data (run 'l2-s0': "
                          f"{_L2_CHANGE}); run the first machine's command, or pass "
                          "another --name."), err
    assert "reglab@" not in err or redact(URL) == URL  # never the password
    assert _query(name, "SELECT id, status, finished FROM {s}.runs ORDER BY id") == before


@needs_server
def test_report_of_a_name_the_storage_does_not_hold_is_one_line(tmp_path):
    code, out, err = run_cli(["report", "--storage", URL, "--name", "no-such-experiment",
                              "--out", str(tmp_path)])
    assert code == 2 and out == ""
    assert err == (f"reglab: error: The storage {redact(URL)!r} holds no experiment "
                   "'no-such-experiment'; start it with reglab compare --storage URL --name "
                   "NAME.\n")
    assert not (tmp_path / "no-such-experiment").exists()


@needs_server
@pytest.mark.slow  # two worker processes, one killed, a 4 s lease to expire: ~25 s
def test_a_sigkilled_workers_stack_is_finished_by_the_other(tmp_path, name):
    argv = ["compare", "--data", "digits", "--arms", "none,l2,dropout", "--seeds", "2",
            "--epochs", "60", "--hidden", "64", "--quiet", "--name", name, "--storage", URL,
            "--lease", "4"]
    first = start([*argv, "--out", str(tmp_path / "a")])
    deadline = time.monotonic() + 120
    while not _claims(name):  # killed while it holds the one stack, training it
        assert first.poll() is None, first.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    assert _query(name, "SELECT status FROM {s}.stacks") == [("open",)]
    second = start([*argv, "--out", str(tmp_path / "b")])
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    claims = _claims(name)
    assert len(claims) == 2 and claims[0][1] != claims[1][1], claims
    assert claims[0][2:] == (False, None)  # the killed worker's claim: never finished
    assert claims[1][2:] == (True, True)  # taken over after the lease, written once
    single = run_cli([*argv[:-4], "--name", "one", "--workers", "1", "--out",
                      str(tmp_path / "s")])
    assert single[0] == 0, single[2]
    reference = results(tmp_path / "s" / "one")
    assert results(tmp_path / "b" / name) == reference
    assert all(r["status"] == "done" for r in reference) and len(reference) == 6


def test_a_storage_that_is_not_postgresql_is_refused_with_one_line(tmp_path):
    code, out, err = run_cli(["compare", "--data", "digits", "--arms", "none", "--seeds", "1",
                              "--epochs", "1", "--storage", "sqlite:///x.db", "--out",
                              str(tmp_path)])
    assert (code, out) == (2, "")
    assert err == ("reglab: error: The 'storage' parameter of compare must be a "
                   "postgresql://user:password@host:port/db URL. Got 'sqlite:///x.db' "
                   "instead.\n")
    assert list(tmp_path.iterdir()) == []


def test_workers_with_a_storage_are_refused_with_one_line(tmp_path):
    code, out, err = run_cli(["compare", "--workers", "2", "--storage", "postgresql://h/db",
                              "--out", str(tmp_path)])
    assert (code, out) == (2, "")
    assert err == ("reglab: error: Invalid value for '--workers' / '-w': must be 1 with "
                   "--storage (start one command per core: each is a worker). Got 2 "
                   "instead.\n")
