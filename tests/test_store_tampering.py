"""A damaged or hand-edited store (issue 16, item 8 and the smaller list): one clear error,
never a traceback, never a silent retrain over surviving weights; a done run whose weight
file is gone or unreadable is trained again."""

from __future__ import annotations

import re
import sqlite3

import pytest

from reglab.lab.store import Store, StoreDamaged
from test_bad_inputs import assert_rejected, run_cli

ARGV = ["compare", "--data", "wine", "--epochs", "1", "--hidden", "8", "--seeds", "1",
        "--arms", "none,l2", "--workers", "1", "--quiet", "--name", "e"]
DAMAGED = (r"The experiment store '.*/e/reglab\.sqlite' cannot be read \(.+\); it is not a "
           r"database reglab wrote or it was damaged\. Move the folder away \(its weights stay "
           r"in models/\) or pass another --name\.")


@pytest.fixture
def exp(tmp_path):
    code, _, err = run_cli([*ARGV, "--out", str(tmp_path)])
    assert code == 0, err
    return tmp_path, tmp_path / "e"


def _rerun(out):
    return run_cli([*ARGV, "--out", str(out)])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty-with-weights"])
def test_a_damaged_store_is_refused_and_the_weights_survive(exp, damage):
    out, root = exp
    db = root / "reglab.sqlite"
    for side in ("reglab.sqlite-wal", "reglab.sqlite-shm"):
        (root / side).unlink(missing_ok=True)
    data = db.read_bytes()
    db.write_bytes({"garbage": b"this is not sqlite" * 100, "truncated": data[:200],
                    "empty-with-weights": b""}[damage])
    before = _files(out)
    code, stdout, err = _rerun(out)
    assert_rejected(code, stdout, err, DAMAGED)
    assert _files(out) == before  # the weights (and the damaged store) exactly as they were
    code, stdout, err = run_cli(["report", str(root)])
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err


def test_an_empty_store_without_weights_is_a_new_experiment(tmp_path):
    (tmp_path / "e" / "models").mkdir(parents=True)
    (tmp_path / "e" / "reglab.sqlite").write_bytes(b"")
    code, _, err = _rerun(tmp_path)
    assert code == 0, err


@pytest.mark.parametrize("sql, column", [
    ("UPDATE runs SET spec='{not json' WHERE id='l2-s0'", "spec or versions"),
    ("UPDATE runs SET spec='[1, 2]' WHERE id='l2-s0'", "spec"),
    ("UPDATE runs SET seed='zero' WHERE id='l2-s0'", "seed"),
    ("UPDATE runs SET seed=-1 WHERE id='l2-s0'", "seed"),
    ("UPDATE runs SET spec='null' WHERE id='l2-s0'", "spec"),
    ("UPDATE runs SET versions='\"x\"' WHERE id='l2-s0'", "versions"),
    ("UPDATE runs SET id='../../x' WHERE id='l2-s0'", "id"),
])
def test_a_hand_edited_run_row_is_one_clear_error(exp, sql, column):
    out, root = exp
    conn = sqlite3.connect(root / "reglab.sqlite")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute(sql)
    conn.commit()
    conn.close()
    code, stdout, err = _rerun(out)
    assert_rejected(code, stdout, err, rf"The experiment store holds a damaged run row: column "
                    rf"'{re.escape(column)}' of run '.+' is .+\. Restore the store or pass "
                    rf"another --name\.")
    code, stdout, err = run_cli(["report", str(root)])
    assert code == 2 and err.startswith("reglab: error: The experiment store"), err


@pytest.mark.parametrize("sql", ["UPDATE final SET value='abc' WHERE key='test_acc'",
                                 "UPDATE epochs SET val_loss=X'00ff'"])
def test_a_hand_edited_metric_is_one_clear_error(exp, sql):
    out, root = exp
    conn = sqlite3.connect(root / "reglab.sqlite")
    conn.execute(sql)
    conn.commit()
    conn.close()
    code, stdout, err = run_cli(["report", str(root)])
    assert_rejected(code, stdout, err, r"The experiment store holds a damaged value: .+ is .+, "
                    r"not a number\. Restore the store or pass another --name\.")


@pytest.mark.parametrize("how", ["deleted", "garbage"])
def test_a_done_run_without_readable_weights_is_trained_again(exp, how):
    out, root = exp
    lost = root / "models" / "l2-s0.safetensors"
    kept = root / "models" / "none-s0.safetensors"
    kept_bytes, kept_row = kept.read_bytes(), _row(root, "none-s0")
    if how == "deleted":
        lost.unlink()
    else:
        lost.write_bytes(b"\x00" * 64)
    with Store.open(out, "e") as store:
        assert store.rechecked == ["l2-s0"]
        assert store.status("l2-s0") == "interrupted"
        assert store.runs()[1]["reason"] == ("its weight file was missing or unreadable; "
                                             "trained again")
    code, _, err = _rerun(out)
    assert code == 0, err
    assert _row(root, "l2-s0")[0] == "done" and lost.stat().st_size > 64
    assert kept.read_bytes() == kept_bytes and _row(root, "none-s0") == kept_row


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def _row(root, run_id):
    conn = sqlite3.connect(f"file:{root / 'reglab.sqlite'}?mode=ro", uri=True)
    row = conn.execute("SELECT status, started, finished FROM runs WHERE id=?",
                       (run_id,)).fetchone()
    conn.close()
    return row


def test_store_damaged_is_the_one_error_type():
    assert issubclass(StoreDamaged, ValueError)


def test_a_damaged_meta_is_one_clear_error(exp):
    out, root = exp
    conn = sqlite3.connect(root / "reglab.sqlite")
    conn.execute("UPDATE experiment SET meta='{broken'")
    conn.commit()
    conn.close()
    with Store.open(out, "e") as store, pytest.raises(StoreDamaged, match="its meta is"):
        store.meta()


@pytest.mark.parametrize("how", ["store-deleted", "runs-table-dropped"])
def test_a_store_that_lost_its_rows_never_retrains_over_surviving_weights(exp, how):
    out, root = exp
    if how == "store-deleted":
        for f in root.glob("reglab.sqlite*"):
            f.unlink()
    else:
        conn = sqlite3.connect(root / "reglab.sqlite")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("DROP TABLE runs")
        conn.commit()
        conn.close()
    weights = {p.name: p.read_bytes() for p in (root / "models").iterdir()}
    code, stdout, err = _rerun(out)
    assert_rejected(code, stdout, err, r"The experiment store '.*/e/reglab\.sqlite' has no row "
                    r"for run 'none-s0' but models/ holds its weights; the store lost rows\. "
                    r"Restore it or pass another --name \(the weights are kept\)\.")
    assert {p.name: p.read_bytes() for p in (root / "models").iterdir()} == weights


def test_a_rerun_that_retrains_lost_weights_says_which_runs_and_why(exp):
    """Issue 16 leftover: the retrain of a run whose weights were deleted is not silent."""
    out, root = exp
    (root / "models" / "l2-s0.safetensors").unlink()
    code, _, err = _rerun(out)                                 # with --quiet: still said
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if "weight file" in ln]
    assert lines == [f"reglab: warning: training 1 finished run(s) again: their weight file in "
                     f"{root}/models/ was missing or unreadable: l2-s0"]
    code, _, err = _rerun(out)                                 # nothing lost: nothing said
    assert code == 0 and "weight file" not in err
    (root / "models" / "none-s0.safetensors").write_bytes(b"\x00" * 64)
    (root / "models" / "l2-s0.safetensors").unlink()
    code, _, err = run_cli([*ARGV, "--out", str(out), "--lang", "vi"])
    assert code == 0, err
    assert (f"reglab: warning: train lại 2 lần chạy đã xong: file trọng số của chúng trong "
            f"{root}/models/ bị mất hoặc không đọc được: none-s0, l2-s0") in err.splitlines()


def test_a_rerun_on_a_damaged_meta_is_one_line_not_a_traceback(exp):
    """The CLI reads the stored meta early (the experiment's --lang); a damaged one must still
    end in the store's own one-line error."""
    out, root = exp
    conn = sqlite3.connect(root / "reglab.sqlite")
    conn.execute("UPDATE experiment SET meta='{broken'")
    conn.commit()
    conn.close()
    code, stdout, err = _rerun(out)
    assert "Traceback" not in err and code != 0
    assert err.count("\n") == 1 and "its meta is" in err, err
