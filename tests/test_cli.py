"""The CLI: exit codes (0 ok, 2 bad input with one line and no traceback, 1 a run failed),
the compare table, resume, the lock, and every command's --help."""

import contextlib
import csv
import subprocess
import sys

import pytest

from reglab.cli import _shared, main
from reglab.cli import path as path_cmd
from reglab.lab.arms import BASE, MODEL_BASE, arm_changes, base_changes
from reglab.lab.spec import RunSpec
from reglab.lab import execute as executor
from reglab.lab import label_check
from reglab.lab.store import Store

SMALL = ["--epochs", "2", "--seeds", "2", "--arms", "none,l1,early_stopping", "--workers", "1",
         "--hidden", "16", "--quiet"]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


COMMANDS = ["compare", "run", "runs", "predict", "datasets", "check-augment", "report", "export",
            "explain", "path", "tune"]


@pytest.mark.parametrize("cmd", [[], *([c] for c in COMMANDS), ["ls"]])
def test_help_on_every_command(capsys, cmd):
    code, out, _ = _run(capsys, *cmd, "--help")
    assert code == 0 and "Usage" in out


def test_top_level_help_lists_every_command_without_importing_optuna_or_matplotlib():
    code = ("import sys\n"
            "sys.modules['optuna'] = None  # as if optuna were not installed\n"
            "from reglab.cli import main\n"
            "code = main(['--help'])\n"
            "print('heavy:', sorted(m for m in ('optuna', 'matplotlib') if sys.modules.get(m)))\n"
            "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines()
              if line.strip() and not line.startswith("heavy:")]
    assert listed == COMMANDS
    assert "heavy: []" in proc.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_reglab_torch_and_python_and_imports_no_torch(flag):
    import platform
    from importlib import metadata

    import reglab
    code = ("import sys\n"
            "from reglab.cli import main\n"
            f"code = main([{flag!r}])\n"
            "print('torch imported:', 'torch' in sys.modules)\n"
            "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        f"reglab {reglab.__version__} (torch {metadata.version('torch')}, "
        f"Python {platform.python_version()})")
    assert proc.stderr == ""


def test_bare_reglab_prints_the_help_laid_out_on_stderr_and_exits_2(capsys):
    code, out, err = _run(capsys)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("Usage: ") and lines[0].endswith(" [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in lines and "reglab: error:" not in err
    listed = [line.split()[0] for line in err.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == COMMANDS
    assert _run(capsys, "--help")[1] == err  # the same text as --help


def test_tune_without_optuna_says_what_to_install(tmp_path):
    code = ("import sys\n"
            "sys.modules['optuna'] = None  # as if optuna were not installed\n"
            "from reglab.cli import main\n"
            f"sys.exit(main(['tune', '--trials', '1', '--out', {str(tmp_path)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("reglab: error: the 'tune' command needs optuna: "
                           "pip install 'reglab[tune]'\n")
    assert not list(tmp_path.iterdir())


def _help(capsys, *cmd):
    code, out, _ = _run(capsys, *cmd, "--help")
    assert code == 0
    return " ".join(out.split())  # the help text without its line wrapping


@pytest.mark.parametrize("cmd,shown", [
    ("compare", ["-s, --seeds <int> Seeds per arm, paired across arms. [default: (5)]",
                 "[default: (" + ", ".join(
                     f"{k} {b['epochs']}" + "".join(
                         f" ({m} {own['epochs']})" for m, own in MODEL_BASE[k].items()
                         if own.get("epochs", b["epochs"]) != b["epochs"])
                     for k, b in BASE.items()) + ")]",
                 # --epochs, per data kind (lab.arms.BASE) and a model's own (MODEL_BASE)
                 "--l2 <float> L2 loss-term strength: loss + l2 * sum w^2. "
                 "[default: (each arm's own)]", "[default: (digits)]",
                 "A strength flag replaces that technique's strength in every arm that uses it, "
                 "and adds nothing on top", "A comma list is a grid",
                 "w <- w - lr*wd*w on the weights, once per step, before the update (as AdamW)",
                 "--overwrite Empty the experiment folder first"]),
    ("run", ["--seed <int> Seed of the split, initialization, batch order and augmentation. "
             "[default: (0)]", "--nproc <int> Processes", "[default: 1]",
             "in [0, 1). [default: (0.0)]"]),
    ("tune", ["TOML: spec keys and a [space] table.", "--trials <int> COMPLETE + PRUNED "
              "trials of the study, over all workers. [default: 50]"]),
    ("path", ["--n-strengths <int> Grid size. [default: 20]",
              "-m, --model <str> linear, mlp or cnn", "[default: (linear; mlp for dropout)]"]),
    ("explain", ["[default: (all five)]", "the note's interview questions"]),
])
def test_help_shows_defaults_and_brackets_as_written(capsys, cmd, shown):
    text = _help(capsys, cmd)
    for part in shown:
        assert part in text


@pytest.mark.parametrize("argv,message", [
    # errors name the flag, not RunSpec (issue 15)
    (["run", "--dropout", "1.5"], "Invalid value for '--dropout': must be a float in the "
     "range [0, 1). Got 1.5 instead."),
    (["run", "--lr", "-1"], "Invalid value for '--lr': must be a float in the range "
     "(0, inf). Got -1.0 instead."),
    (["run", "--model", "resnet"], "Invalid value for '--model' / '-m': must be one of"),
    (["run", "--hidden", "a,b"], "Invalid value for '--hidden': must be comma-separated"),
    (["run", "--data", "no_such_data"], "no_such_data"),
    (["run", "--augment", "warp"], "'warp'"),
    (["run", "--model", "cnn", "--data", "wine"], "cnn needs an image or a signal"),
    (["compare", "--arms", "none,bogus"], "Invalid value for '--arms': must be a list of"),
    (["compare", "--arms", "none,dropuot"], "Got 'dropuot' instead. Did you mean 'dropout'?"),
    (["compare", "--seeds", "0"], "Invalid value for '--seeds' / '-s': must be an int"),
    (["compare", "--l2", "1e-4,x"], "Invalid value for '--l2': 'x' should be a valid number"),
    (["compare", "--l2", "1e-4,-1"], "Invalid value for '--l2': must be a float in the range "
     "[0, inf). Got -1.0 instead."),
    (["compar"], "No such command 'compar'. Did you mean 'compare'?"),
    (["compare", "--name", "../escape"], "The 'name' parameter of the experiment"),
    (["run", "--epochs", "many"], "Invalid value for '--epochs'"),
    (["run", "--no-such-flag"], "no-such-flag"),
    (["frobnicate"], "frobnicate"),
    (["path", "--model", "resnet"], "Invalid value for '--model' / '-m': must be one of "
     "{'linear', 'mlp', 'cnn'}. Got 'resnet' instead."),
    (["path", "--model", "cnn"], "Invalid value for '--model' / '-m': must be 'linear' or "
     "'mlp' for tabular data (cnn needs an image or a signal). Got 'cnn' instead."),
    (["path", "--penalty", "dropout", "--model", "linear"], "Invalid value for '--model' / "
     "'-m': must be 'mlp' or 'cnn' for penalty 'dropout' (a linear model has no hidden units "
     "to drop). Got 'linear' instead."),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, argv, message):
    code, out, err = _run(capsys, *argv, *(["--out", str(tmp_path)] if argv[0] in
                                          ("run", "compare", "path") else []))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("reglab: error: ") and message in err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing half-written under runs/


def test_bad_config_file_exits_2(capsys, tmp_path):
    cfg = tmp_path / "spec.toml"
    cfg.write_text("epochs = 3\ndropuot = 0.5\n")
    code, _, err = _run(capsys, "run", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert code == 2 and err == (  # the file, the line and the key, not RunSpec (issue 15)
        f"reglab: error: {cfg}, line 2: unknown key 'dropuot'; the keys are "
        f"{{{', '.join(RunSpec.keys())}}}. Did you mean 'dropout'?\n")
    cfg.write_text("epochs = 3\n\n[arms.l2_big]\nl2 = -1.0\n")
    code, _, err = _run(capsys, "compare", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert code == 2 and err == (f"reglab: error: {cfg}, line 4: key 'l2' of [arms.l2_big] "
                                 "must be a float in the range [0, inf). Got -1.0 instead.\n")


def test_compare_with_model_cnn_takes_the_cnns_own_defaults(capsys, tmp_path):
    """--model cnn: the base run and the arms of [image.models.cnn] (defaults.toml); a flag
    still wins over them (--epochs 1 here)."""
    code, _, err = _run(capsys, "compare", "--data", "digits", "--model", "cnn", "--arms",
                        "none,all", "--seeds", "1", "--epochs", "1", "--workers", "1",
                        "--quiet", "--out", str(tmp_path), "--name", "c")
    assert code == 0, err
    with open(tmp_path / "c" / "results.csv") as fh:
        rows = {r["arm"]: r for r in csv.DictReader(fh)}
    base, own = base_changes("image", "cnn"), arm_changes("image", "cnn")["all"]
    assert own != arm_changes("image")["all"]  # the CNN has its own: this test can tell
    for r in rows.values():
        assert (r["model"], r["lr_schedule"], r["epochs"]) == ("cnn", base["lr_schedule"], "1")
    assert float(rows["all"]["dropout"]) == own["dropout"]
    assert float(rows["all"]["augment_strength"]) == own.get("augment_strength", 1.0)
    assert float(rows["none"]["dropout"]) == 0.0


def test_compare_prints_the_table_stores_and_resumes(capsys, tmp_path):
    code, out, err = _run(capsys, "compare", *SMALL, "--out", str(tmp_path), "--name", "t")
    assert code == 0, err
    for text in ("test acc %", "train-test gap %", "sparsity %", "weight norm", "none",
                 "early_stopping", "95% t interval", "no measurable effect at n=2"):
        assert text in out
    with open(tmp_path / "t" / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run"] for r in rows] == ["none-s0", "none-s1", "l1-s0", "l1-s1",
                                        "early_stopping-s0", "early_stopping-s1"]
    assert all(r["status"] == "done" for r in rows)
    finished = {r["id"]: r["finished"] for r in Store.read_only(tmp_path, "t").execute(
        "SELECT id, finished FROM runs")}
    # same command again: nothing is rerun, the same table comes back
    code, out2, _ = _run(capsys, "compare", *SMALL, "--out", str(tmp_path), "--name", "t")
    assert code == 0 and out2 == out
    again = {r["id"]: r["finished"] for r in Store.read_only(tmp_path, "t").execute(
        "SELECT id, finished FROM runs")}
    assert again == finished
    code, out, _ = _run(capsys, "runs", "--out", str(tmp_path))
    assert code == 0 and "t" in out and "6" in out


def test_compare_refuses_a_locked_experiment(capsys, tmp_path):
    with Store.open(tmp_path, "busy"):
        code, _, err = _run(capsys, "compare", *SMALL, "--out", str(tmp_path), "--name", "busy")
    assert code == 2 and "in use by another reglab process" in err


def test_a_failure_inside_a_run_exits_1(capsys, tmp_path, monkeypatch):
    real = executor.fit

    def broken(spec, data, **kw):
        if spec.proximal_l1 > 0:
            raise RuntimeError("simulated crash")
        return real(spec, data, **kw)
    monkeypatch.setattr(executor, "fit", broken)
    code, out, err = _run(capsys, "compare", *SMALL, "--engine", "sequential",
                          "--out", str(tmp_path), "--name", "f")
    assert code == 1 and "2 run(s) failed" in err and "simulated crash" in err
    assert err.count("\n") == 1
    assert "none" in out  # the other arms still ran and are reported


def test_a_failure_inside_a_vectorized_chunk_exits_1_and_a_rerun_retries_it(
        capsys, tmp_path, monkeypatch):
    real = executor.run_task

    def broken(task, specs, data, on_epoch):
        if any(specs[i].proximal_l1 > 0 for i in task.indices):
            raise RuntimeError("simulated crash")
        return real(task, specs, data, on_epoch)
    monkeypatch.setattr(executor, "run_task", broken)
    code, out, err = _run(capsys, "compare", *SMALL, "--engine", "vectorized",
                          "--out", str(tmp_path), "--name", "f")
    assert code == 1 and "run(s) failed" in err and "simulated crash" in err
    assert err.count("\n") == 1
    # A crash (unlike a divergence, which is per member) ends the runs of its chunk: here all
    # six share one shape and one chunk. They are marked interrupted; a rerun retries them.
    rows = Store.read_only(tmp_path, "f").execute("SELECT status, reason FROM runs").fetchall()
    assert len(rows) == 6
    assert all(st == "interrupted" and "simulated crash" in why for st, why in rows)
    monkeypatch.setattr(executor, "run_task", real)
    code, _, err = _run(capsys, "compare", *SMALL, "--engine", "vectorized",
                        "--out", str(tmp_path), "--name", "f")
    assert code == 0, err
    rows = Store.read_only(tmp_path, "f").execute("SELECT status FROM runs").fetchall()
    assert [st for st, in rows] == ["done"] * 6


def test_run_prints_epochs_final_metrics_and_why_it_stopped(capsys, tmp_path):
    code, out, err = _run(capsys, "run", "--epochs", "3", "--hidden", "16", "--patience", "1",
                          "--out", str(tmp_path))
    assert code == 0, err
    assert "epoch    1/3" in out and "test acc" in out and "sparsity" in out
    assert ("reached the maximum of 3 epochs" in out) or ("early stopping" in out)


def test_run_with_a_huge_lr_is_stored_as_diverged(capsys, tmp_path):
    code, out, _ = _run(capsys, "run", "--epochs", "3", "--hidden", "16", "--optimizer", "sgd",
                        "--lr", "1e12", "--quiet", "--out", str(tmp_path), "--name", "d")
    assert code == 0 and "diverged" in out and "non-finite" in out
    status = Store.read_only(tmp_path, "d").execute("SELECT status FROM runs").fetchone()[0]
    assert status == "diverged"


def test_datasets_lists_the_builtins(capsys):
    code, out, _ = _run(capsys, "datasets")
    assert code == 0 and "digits" in out and "mnist1d" in out


def test_check_augment_prints_its_report(capsys):
    code, out, err = _run(capsys, "check-augment", "--data", "digits", "--augment", "rotate")
    assert code == 0, err
    assert "Label-safety check" in out and "RandomRotation" in out


def test_the_installed_entry_point_exits_2_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reglab.cli", "run", "--patience", "-3",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("reglab: error: Invalid value for '--patience' / '--early-stopping': "
                           "must be an int in the range [0, 100000]. Got -3 instead.\n")


@pytest.mark.slow
def test_compare_with_two_worker_processes(capsys, tmp_path):
    argv = [a if a != "1" else "2" for a in SMALL]  # --workers 2
    code, out, err = _run(capsys, "compare", *argv, "--out", str(tmp_path), "--name", "w2")
    assert code == 0, err
    with open(tmp_path / "w2" / "results.csv") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["done"] * 6


def _start_until_running(argv: list[str], tmp_path):
    """Start ``argv`` in a process group of its own (as a terminal makes) and wait until the
    store shows a running run; returns (process, path of the store)."""
    import sqlite3
    import time
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    db = tmp_path / "compare-digits" / "reglab.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.5)
        try:
            con = sqlite3.connect(db)
            running = con.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()
            con.close()
        except sqlite3.Error:
            continue
        if running[0]:
            break
    return proc, db


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_marks_running_runs_interrupted_and_a_rerun_resumes(tmp_path, sig):
    import os
    import signal
    import sqlite3
    argv = [sys.executable, "-m", "reglab.cli", "compare", "--epochs", "40", "--arms",
            "none,l2", "--seeds", "2", "--out", str(tmp_path), "--quiet", "--workers", "2"]
    proc, db = _start_until_running(argv, tmp_path)
    os.killpg(proc.pid, getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "rerun the same command to resume" in err
    con = sqlite3.connect(db)
    statuses = dict(con.execute("SELECT id, status FROM runs"))
    assert "interrupted" in statuses.values() and "running" not in statuses.values()
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    con = sqlite3.connect(db)
    assert set(dict(con.execute("SELECT id, status FROM runs")).values()) == {"done"}


@pytest.mark.slow
@pytest.mark.parametrize("first, second", [("SIGINT", "SIGINT"), ("SIGTERM", "SIGINT")])
def test_a_second_signal_during_the_clean_up_still_exits_130_with_one_line(tmp_path, first,
                                                                         second):
    """Issue 16: Ctrl-C twice 1 ms apart once exited 0 with "Exception ignored ...
    KeyboardInterrupt"; SIGTERM then SIGINT printed 16 lines."""
    import os
    import signal
    import time
    argv = [sys.executable, "-m", "reglab.cli", "compare", "--epochs", "40", "--arms",
            "none,l2", "--seeds", "2", "--out", str(tmp_path), "--quiet", "--workers", "2"]
    proc, db = _start_until_running(argv, tmp_path)
    os.killpg(proc.pid, getattr(signal, first))
    time.sleep(0.001)
    os.killpg(proc.pid, getattr(signal, second))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert err.count("\n") == 1 and "rerun the same command to resume" in err, err


def test_compare_reads_base_keys_arms_and_arm_tables_from_toml(capsys, tmp_path):
    cfg = tmp_path / "cmp.toml"
    cfg.write_text('epochs = 1\nhidden = [8]\ndropout = 0.4\n\n[compare]\nseeds = 1\n'
                   'arms = ["none", "l2"]\n\n[arms.l2]\nl2 = 0.005\n')
    code, _, err = _run(capsys, "compare", "--config", str(cfg), "--workers", "1", "--quiet",
                        "--out", str(tmp_path), "--name", "toml")
    assert code == 0, err
    specs = {r["id"]: r["spec"] for r in Store.read_only(tmp_path, "toml").execute(
        "SELECT id, json(spec) AS spec FROM runs")}
    import json
    l2 = json.loads(specs["l2-s0"])
    assert set(specs) == {"none-s0", "l2-s0"} and l2["l2"] == 0.005 and l2["epochs"] == 1
    assert json.loads(specs["none-s0"])["dropout"] == 0.0  # a strength only reaches its arms


# -- issue 15: custom arms and grids, --overwrite, the command line kept true, exit codes ------
TINY = ["--epochs", "1", "--hidden", "8", "--workers", "1", "--quiet", "--seeds", "1"]


def _specs(root, name):
    import json
    return {r[0]: json.loads(r[1]) for r in Store.read_only(root, name).execute(
        "SELECT id, spec FROM runs ORDER BY position")}


def test_a_grid_and_a_custom_arm_run_and_show_their_settings(capsys, tmp_path):
    cfg = tmp_path / "arms.toml"
    cfg.write_text("[arms.l2_drop]\nl2 = 0.001\ndropout = 0.25\n")
    code, out, err = _run(capsys, "compare", *TINY, "--arms", "none,l2,l2_drop", "--l2",
                          "1e-4,3e-3", "--config", str(cfg), "--out", str(tmp_path), "--name", "g")
    assert code == 0, err
    specs = _specs(tmp_path, "g")
    assert list(specs) == ["none-s0", "l2-1e-4-s0", "l2-3e-3-s0", "l2_drop-s0"]
    assert specs["l2-3e-3-s0"]["l2"] == 3e-3 and specs["l2_drop-s0"]["dropout"] == 0.25
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100  # tables fit a 100-column terminal
    rows = {}  # the first table's row of each arm
    for line in lines:
        rows.setdefault(line.split()[0] if line.split() else "", line)
    assert "l2=1e-3, dropout=0.25" in rows["l2_drop"]   # the settings column
    assert rows["l2-3e-3"].split()[1] == "l2=3e-3"


def test_one_meaning_per_flag_on_the_command_line(capsys, tmp_path):
    code, _, err = _run(capsys, "compare", *TINY, "--arms", "none,l1,l2", "--l1", "1e-4",
                        "--weight-decay", "0.01", "--out", str(tmp_path), "--name", "m")
    assert code == 0, err
    specs = _specs(tmp_path, "m")
    assert (specs["l1-s0"]["l1"], specs["l1-s0"]["proximal_l1"]) == (1e-4, 0.0)
    assert (specs["l2-s0"]["l2"], specs["l2-s0"]["weight_decay"]) == (0.0, 0.01)
    # a flag wins over the file's strength of the same technique, other techniques stay
    cfg = tmp_path / "s.toml"
    cfg.write_text("proximal_l1 = 0.5\ndropout = 0.2\n")
    code, _, err = _run(capsys, "compare", *TINY, "--arms", "none,l1,dropout", "--l1", "1e-4",
                        "--config", str(cfg), "--out", str(tmp_path), "--name", "f")
    assert code == 0, err
    specs = _specs(tmp_path, "f")
    assert (specs["l1-s0"]["l1"], specs["l1-s0"]["proximal_l1"]) == (1e-4, 0.0)
    assert specs["dropout-s0"]["dropout"] == 0.2


def test_a_rerun_that_adds_seeds_keeps_the_report_command_line_true(capsys, tmp_path):
    argv = ["compare", "--epochs", "1", "--hidden", "8", "--workers", "1", "--quiet",
            "--arms", "none", "--out", str(tmp_path), "--name", "c"]
    import json
    import sys as _sys
    for seeds in ("1", "2"):
        _sys.argv = ["reglab", *argv, "--seeds", seeds]  # what the report records
        assert _run(capsys, *argv, "--seeds", seeds)[0] == 0
    meta = json.loads(Store.read_only(tmp_path, "c").execute(
        "SELECT meta FROM experiment").fetchone()[0])
    assert meta["argv"] == [*argv, "--seeds", "2"]
    assert meta["earlier_argv"] == [[*argv, "--seeds", "1"]]
    report = (tmp_path / "c" / "report.md").read_text()
    assert "| command line | reglab compare --epochs 1" in report and "--seeds 2 |" in report
    assert "| earlier command on this experiment | reglab compare " in report
    assert "--seeds 1 |" in report
    assert "| none | - |" in report  # the settings column of the comparison table


def test_overwrite_empties_an_experiment_and_only_an_experiment(capsys, tmp_path):
    argv = ["compare", *TINY, "--arms", "none", "--out", str(tmp_path), "--name", "o"]
    assert _run(capsys, *argv)[0] == 0
    (tmp_path / "o" / "stale.txt").write_text("old")
    code, _, err = _run(capsys, *argv, "--epochs", "2")   # other specs: refused without it
    assert code == 2 and "already holds run" in err
    code, _, err = _run(capsys, *argv, "--epochs", "2", "--overwrite")
    assert code == 0, err
    assert not (tmp_path / "o" / "stale.txt").exists()
    assert _specs(tmp_path, "o")["none-s0"]["epochs"] == 2
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "mine.txt").write_text("keep me")
    code, _, err = _run(capsys, "compare", *TINY, "--arms", "none", "--out", str(tmp_path),
                        "--name", "notes", "--overwrite")
    assert code == 2 and "--overwrite deletes only experiment folders" in err
    assert (keep / "mine.txt").read_text() == "keep me"


def test_check_augment_exits_1_when_it_flags_a_transform(capsys):
    code, out, _ = _run(capsys, "check-augment", "--data", "digits", "--augment", "flip,noise")
    assert code == 1 and "FLAGGED" in out


def test_run_shows_the_best_epoch_counted_from_1(capsys, tmp_path):
    code, out, err = _run(capsys, "run", "--epochs", "2", "--hidden", "8", "--quiet",
                          "--out", str(tmp_path), "--name", "b")
    assert code == 0, err
    assert "epochs 2 (best: epoch 2)" in out or "epochs 2 (best: epoch 1)" in out
    best = Store.read_only(tmp_path, "b").execute(
        "SELECT value FROM final WHERE key='best_epoch'").fetchone()[0]
    assert f"(best: epoch {int(best) + 1})" in out


def test_compare_checks_labels_before_training_and_stores_the_verdict(capsys, tmp_path,
                                                                      monkeypatch):
    seen = {}

    def check(ds, pipeline, seed=0, progress=None):  # the real check, shorter, watched
        seen["store existed"] = (tmp_path / "aug" / "reglab.sqlite").exists()
        seen["ticks"] = []
        return label_check.check_labels(ds, pipeline, epochs=3, seed=seed,
                                        progress=lambda d, t: seen["ticks"].append((d, t)))

    monkeypatch.setattr(_shared, "check_labels", check)
    argv = ["compare", "--epochs", "1", "--seeds", "1", "--arms", "none,augment", "--workers",
            "1", "--hidden", "8", "--augment", "rotate,flip", "--out", str(tmp_path),
            "--name", "aug"]
    code, _, err = _run(capsys, *argv)
    assert code == 0, err
    assert seen["store existed"] is False  # before training: no store yet
    assert seen["ticks"][-1] == (5, 5)  # 3 epochs + 2 transforms
    line = next(x for x in err.splitlines() if x.startswith("label check:"))
    assert "changes labels: flip;" in line and "rotate ok" in line
    with Store.open(tmp_path, "aug") as store:
        stored = store.meta()["label_check"]
    assert [r["flagged"] for r in stored["rows"]] == [False, True]
    seen.clear()
    code, _, err = _run(capsys, *argv)  # a resume keeps the stored check: not run again
    assert code == 0 and not seen and "label check:" not in err


def test_path_drives_a_bar_once_per_strength(capsys, tmp_path, monkeypatch):
    ticks = []

    @contextlib.contextmanager
    def counted(description, quiet=False, lang="en"):
        yield lambda done, total: ticks.append((done, total))

    monkeypatch.setattr(path_cmd, "counted", counted)
    code, out, err = _run(capsys, "path", "--data", "sparse", "--n-strengths", "4", "--out",
                          str(tmp_path))
    assert code == 0, err
    assert ticks == [(1, 4), (2, 4), (3, 4), (4, 4)]


# The second signal lands inside the clean-up, deterministically: the first Ctrl-C comes as
# soon as a run is marked running, the second from inside Store.mark_unfinished (the clean-up
# that marks running runs interrupted), with time for a handler to run before the UPDATE.
SECOND_SIGNAL_SCRIPT = """
import os, signal, sys, time
from reglab.cli import _app
from reglab.lab.store import Store

start, mark = Store.start_run, Store.mark_unfinished

def start_then_ctrl_c(self, run_id):
    start(self, run_id)
    os.kill(os.getpid(), signal.SIGINT)             # the first Ctrl-C: a run is running

def second_ctrl_c_during_clean_up(self, *a, **k):
    os.kill(os.getpid(), signal.SIGINT)             # the second one, inside the clean-up
    time.sleep(0.3)                                 # a handler left in place would run here
    return mark(self, *a, **k)

Store.start_run, Store.mark_unfinished = start_then_ctrl_c, second_ctrl_c_during_clean_up
if sys.argv[1] == "naive":                          # the counter-example: raise on every signal
    def naive(signum, frame):
        raise KeyboardInterrupt
    _app._interrupt = naive
sys.exit(_app.main(sys.argv[2:]))
"""


def _second_signal(tmp_path, handler: str):
    import sqlite3
    script = tmp_path / "second_signal.py"
    script.write_text(SECOND_SIGNAL_SCRIPT)
    out = tmp_path / handler
    proc = subprocess.run([sys.executable, str(script), handler, "compare", "--epochs", "2",
                           "--hidden", "8", "--arms", "none", "--seeds", "1", "--workers", "1",
                           "--quiet", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    con = sqlite3.connect(out / "compare-digits" / "reglab.sqlite")
    runs = dict(con.execute("SELECT id, status FROM runs"))
    reasons = [r for (r,) in con.execute("SELECT reason FROM runs")]
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    con.close()
    return proc, runs, reasons, integrity, out / "compare-digits"


def test_a_second_ctrl_c_inside_the_clean_up_is_ignored_and_the_store_is_clean(tmp_path):
    """Issue 16 (Ctrl-C twice): the second signal, delivered while the clean-up marks the
    running runs, changes nothing: exit 130, one line, the run stored 'interrupted' with its
    reason, results.csv written. The counter-example (a handler that raises on every signal,
    as before the fix) run the same way leaves the run 'running': the test can fail."""
    proc, runs, reasons, integrity, root = _second_signal(tmp_path, "reglab")
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == (f"reglab: interrupted: running runs marked 'interrupted' in "
                           f"{root}; rerun the same command to resume.\n")
    assert runs == {"none-s0": "interrupted"} and integrity == "ok"
    assert reasons == ["interrupted (Ctrl-C or SIGTERM)"]
    with open(root / "results.csv") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["interrupted"]
    proc, runs, reasons, _, _ = _second_signal(tmp_path, "naive")
    # its exit code and line look the same (the line even says the runs were marked), so
    # only the store tells: the clean-up was cut short before its UPDATE
    assert proc.returncode == 130 and "marked 'interrupted'" in proc.stderr
    assert runs == {"none-s0": "running"} and reasons == [None]
