"""reglab tune against a real PostgreSQL server: exactly N trials over two worker processes,
and a killed worker's trial failed by the heartbeat.

The server: env REGLAB_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/reglab_test.
Skipped, with the reason, when no server answers there (`.ci/run` starts one; see
docs/many-machines.md). Each test uses its own study and deletes it afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install 'reglab[tune]')")

from reglab.lab import tune as T  # noqa: E402
from test_tune import killed_worker_goes_on, two_workers_exactly_n  # noqa: E402

URL = os.environ.get("REGLAB_TEST_POSTGRES_URL",
                     "postgresql://postgres@127.0.0.1:5432/reglab_test")


def _reachable(url: str) -> str | None:
    """None if a PostgreSQL server answers at url, else why not (one line)."""
    import sqlalchemy
    try:
        engine = sqlalchemy.create_engine(T._driver_url(url),
                                          connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as err:  # noqa: BLE001 - any failure means: no server to test against
        return " ".join(str(err).split())[:200]
    return None


_WHY = _reachable(URL)
pytestmark = pytest.mark.skipif(
    _WHY is not None,
    reason=f"no PostgreSQL server at {T.redact(URL)} (set REGLAB_TEST_POSTGRES_URL): {_WHY}")


@pytest.fixture
def study_name():
    name = f"reglab-test-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        optuna.delete_study(study_name=name, storage=T._driver_url(URL))
    except KeyError:
        pass


def test_two_workers_on_postgresql_run_exactly_n_trials(study_name):
    two_workers_exactly_n(URL, study_name)


def test_a_killed_workers_trial_is_failed_on_postgresql(study_name):
    killed_worker_goes_on(URL, study_name)
