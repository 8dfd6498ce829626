"""reglab tune: the space, exactly N trials over several commands, a killed command's trials
failed by the heartbeat, the rung rule against Optuna's, the same study whatever the worker
processes, resume, the objective = the validation score, the exports.

Commands in other processes run this file's ``_worker`` (one thread each) against one
storage; the trial is a few epochs of a linear model on synthetic data or breast_cancer
(370 training rows).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

import reglab.data  # noqa: E402
from reglab._validation import InvalidParameterError  # noqa: E402
from reglab.lab import tune as T  # noqa: E402
from reglab.lab.arms import arm_changes  # noqa: E402
from reglab.lab.spec import RunSpec, load_toml  # noqa: E402

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
BASE = RunSpec(data="breast_cancer", model="linear", epochs=3, batch_size=64)
TINY = RunSpec(data="tiny", model="linear", epochs=3, batch_size=16)
TINY_SPACE = {"l2": T.Param(1e-6, 1e-2, log=True, optional=True), "lr": T.Param(1e-3, 1e-1,
                                                                                 log=True)}


def _tiny_data():
    from lab_tiny import tiny  # synthetic tensors: the workers need no data set library
    return tiny("tabular", n=64)


def _worker(url: str, study: str, n: int, mode: str = "train") -> None:
    """One command in a process: join the study and run trials until it has n; "hang": two
    trials in flight that never end (to be SIGKILLed)."""
    import optuna
    import torch
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = T.open_storage(url, heartbeat_interval=1, grace_period=2)
    st = T.open_study(storage, study, seed=0)
    if mode == "hang":
        T.run_trials(st, TINY.replace(epochs=100_000), _tiny_data(), TINY_SPACE, n, parallel=2,
                     workers=1)
    else:
        T.run_trials(st, TINY, _tiny_data(), TINY_SPACE, n, parallel=1, workers=1, poll=0.2)


def _spawn(url: str, study: str, n: int, mode: str = "train") -> subprocess.Popen:
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_tune; "
            f"test_tune._worker({url!r}, {study!r}, {n}, {mode!r})")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(procs, timeout: float = 150) -> None:
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-2000:]


def check_exactly_n(url: str, study_name: str, n: int, failed_allowed: int = 0) -> None:
    """COMPLETE + PRUNED == n; trial numbers unique and contiguous; the rest FAIL with a cause."""
    st = optuna.load_study(study_name=study_name, storage=T._driver_url(url))
    trials = st.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # none lost, none duplicated
    counted = T.counted_trials(st)
    assert len(counted) == n
    others = [t for t in trials if t not in counted]
    assert all(t.state.name == "FAIL" for t in others), [t.state for t in others]
    surplus = [t for t in others if t.user_attrs.get("surplus")]
    assert len(others) - len(surplus) == failed_allowed  # stale (killed) trials, no others
    if failed_allowed == 0:  # a surplus trial always comes after the n counted ones
        assert sorted(t.number for t in counted) == list(range(n))
    # each counted trial trained its own drawn configuration, recorded with it
    assert all(t.user_attrs["spec"]["lr"] == t.params["lr"] for t in counted
               if t.state.name == "COMPLETE")


def _work_here(url: str, study_name: str, n: int) -> int:
    """This test process as a command (one trial in flight), like the spawned ones."""
    st = T.open_study(T.open_storage(url, heartbeat_interval=1, grace_period=2), study_name,
                      seed=0)
    return T.run_trials(st, TINY, _tiny_data(), TINY_SPACE, n, parallel=1, workers=1,
                        timeout=120, poll=0.2)


def two_workers_exactly_n(url: str, study_name: str, n: int = 8) -> None:
    """A spawned command and this process share the study: exactly n trials between them."""
    other = _spawn(url, study_name, n)
    mine = _work_here(url, study_name, n)
    _finish([other])
    check_exactly_n(url, study_name, n)
    assert 0 <= mine <= n


def killed_worker_goes_on(url: str, study_name: str, n: int = 3) -> None:
    """A command SIGKILLed with two trials in flight: its heartbeats stop, both go stale ->
    FAIL; this process completes n."""
    hang = _spawn(url, study_name, n, mode="hang")
    storage = T._driver_url(url)
    end = time.monotonic() + 60
    while time.monotonic() < end:  # until both trials are RUNNING in the storage
        try:
            trials = optuna.load_study(study_name=study_name, storage=storage).trials
        except KeyError:  # the study is not created yet
            trials = []
        if sum(t.state.name == "RUNNING" for t in trials) == 2:
            break
        assert hang.poll() is None, hang.stderr.read()[-2000:]
        time.sleep(0.2)
    else:
        raise AssertionError("the hanging command never had two trials running")
    time.sleep(1.5)  # a beat of the heartbeat thread as well as the one at the draw
    hang.send_signal(signal.SIGKILL)
    hang.wait(timeout=30)
    assert _work_here(url, study_name, n) == n
    st = optuna.load_study(study_name=study_name, storage=storage)
    assert [t.state.name for t in st.trials[:2]] == ["FAIL", "FAIL"]
    check_exactly_n(url, study_name, n, failed_allowed=2)


# -- tests --------------------------------------------------------------------------------
def test_two_workers_on_one_sqlite_file_run_exactly_n_trials(tmp_path):
    two_workers_exactly_n(f"sqlite:///{tmp_path / 'optuna.sqlite'}", "two")


def test_a_killed_workers_trial_is_failed_and_the_study_completes(tmp_path):
    killed_worker_goes_on(f"sqlite:///{tmp_path / 'optuna.sqlite'}", "killed")


def test_space_defaults_switches_and_overrides():
    space = T.load_space({"weight_decay": {"low": 1e-3, "high": 1.0},
                          "dropout": {"choices": [0.0, 0.5]}, "mixup": {"value": 0.0}},
                         kind="tabular", epochs=30)
    assert space["weight_decay"] == T.Param(1e-3, 1.0, log=True, optional=True)  # log/switch kept
    assert space["dropout"].choices == (0.0, 0.5) and space["mixup"].value == 0.0
    assert space["patience"].integer and space["lr"].log and not space["lr"].optional
    assert space["augment"].choices == ("", "noise", "swap", "noise,swap")
    assert space["epochs"] == T.Param(10, 30, integer=True)
    assert space["lr_schedule"].choices == ("constant", "cosine", "step")
    assert "l1" not in space and "l2" not in space  # loss terms: only with a [space] table
    trial = optuna.trial.FixedTrial({"augment": "", "augment_strength": 1.5,
                                     "weight_decay_on": True, "weight_decay": 0.05,
                                     "label_smoothing_on": True, "label_smoothing": 0.1,
                                     "dropout": 0.5, "patience_on": False, "lr": 2e-3,
                                     "lr_schedule": "cosine", "warmup": 0.05, "epochs": 12})
    values = {k: p.suggest(trial, k) for k, p in space.items()}
    assert values == {"augment": "", "augment_strength": 1.5, "weight_decay": 0.05,
                      "label_smoothing": 0.1, "dropout": 0.5, "mixup": 0.0, "patience": None,
                      "lr": 2e-3, "lr_schedule": "cosine", "warmup": 0.05, "epochs": 12}
    spec = T.spec_from_params(BASE, "tabular", values)
    assert (spec.weight_decay, spec.label_smoothing, spec.patience, spec.lr) == (0.05, 0.1, 0, 2e-3)
    assert (spec.lr_schedule, spec.warmup, spec.epochs) == ("cosine", 0.05, 12)
    assert spec.augment == () and spec.augment_strength == 1.0  # no set: the strength means nothing
    chosen = T.spec_from_params(BASE, "image", {"augment": "rotate,translate",
                                                "augment_strength": 0.5})
    assert chosen.augment == ("rotate", "translate") and chosen.augment_strength == 0.5
    # without a set in the space, a strength switched on uses the kind's default augment arm
    old = T.spec_from_params(BASE, "tabular", {"augment_strength": 1.5})
    kind_default = tuple(arm_changes("tabular")["augment"]["augment"])  # defaults.toml
    assert old.augment == kind_default and old.augment_strength == 1.5
    off = T.spec_from_params(BASE.replace(augment=("swap",)), "tabular",
                             {"augment_strength": None, "patience": None})
    assert off.augment == () and off.patience == 0


def test_every_augment_set_is_a_valid_spec_for_its_kind():
    from reglab.train.sequential import make_augmentation
    for kind, sets in T.AUGMENT_SETS.items():
        for names in sets:
            make_augmentation(RunSpec(augment=names), kind)  # raises on a bad name


def test_retrain_tests_on_the_search_split_whatever_the_init_seed():
    best = BASE.replace(weight_decay=0.1, seed=4, split_seed=4)
    for base in (BASE, BASE.replace(seed=4), BASE.replace(seed=1, split_seed=4)):
        specs = T.retrain_specs(best, base, 3)
        assert [r for r, _, _ in specs] == ["none-s0", "none-s1", "none-s2",
                                            "tuned-s0", "tuned-s1", "tuned-s2"]
        assert [s.seed for _, _, s in specs] == [0, 1, 2, 0, 1, 2]
        assert {s.data_seed for _, _, s in specs} == {base.data_seed}
    # the search's test rows are disjoint from its validation rows; a re-split would not be
    search = reglab.data.load(BASE.data, seed=BASE.data_seed, standardize=False)
    resplit = reglab.data.load(BASE.data, seed=1, standardize=False)  # raw rows compare
    rows = lambda X: {tuple(r.tolist()) for r in X}  # noqa: E731
    assert not rows(search.test.X) & rows(search.val.X)
    assert rows(resplit.test.X) & rows(search.val.X)  # the leak a per-seed split had


@pytest.mark.parametrize("epochs, rungs", [(1, ()), (2, (1,)), (3, (1,)), (4, (2,)),
                                            (200, (100,)), (401, (200,))])
def test_the_rung_is_half_the_budget(epochs, rungs):
    # earlier rungs pruned the strong regularizers before their learning rate decayed, and
    # rungs at epoch 1-4 of 200 ranked warmup and noise (lab/tune.py)
    assert T.rung_epochs(epochs) == rungs
    assert rungs[:1] in ((), (T.first_rung(epochs),))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_rung_rule_is_optunas_successive_halving(direction):
    """Random learning curves, one trial at a time: Optuna's SuccessiveHalvingPruner (the
    reference) and TrialTask.judge against the trials before each stop at the same epochs,
    over four rungs (1, 3, 9, 27) and with ties (values rounded to a tenth)."""
    import random
    rng = random.Random(1)
    curves = [[round(rng.random(), 1) for _ in range(30)] for _ in range(40)]
    ref = optuna.create_study(direction=direction, pruner=optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3))
    stopped = []
    for curve in curves:
        trial = ref.ask()
        for step, v in enumerate(curve):
            trial.report(v, step)
            if trial.should_prune():
                ref.tell(trial, state=optuna.trial.TrialState.PRUNED)
                stopped.append(step)
                break
        else:
            ref.tell(trial, curve[-1])
            stopped.append(None)
    assert 0 < stopped.count(None) < 40  # the rule kept some
    assert {1, 3, 9} <= set(stopped)  # and pruned at three of the rungs
    rungs = (1, 3, 9, 27)
    assert T.rung_epochs(30) == (15,) and T.REDUCTION == 3  # the study's own: one rung
    mine = []
    for k, curve in enumerate(curves):
        before = [dict(enumerate(c[:(s if s is not None else 29) + 1])) for c, s in
                  zip(curves[:k], mine)]
        task = T.TrialTask(k, BASE, "val_acc", direction == "maximize", rungs,
                           tuple(tuple(v for b in before if (v := T.rung_value(b, r)) is not None)
                                 for r in rungs))
        passed, at = 0, None
        for step, v in enumerate(curve):
            try:
                passed = task.judge(passed, step, v)
            except T.TrialPruned:
                at = step
                break
        mine.append(at)
    assert mine == stopped


def _same_trials(a, b) -> None:
    key = lambda t: (t.number, t.state.name, t.params, t.value, t.intermediate_values)  # noqa: E731
    assert [key(t) for t in a.get_trials()] == [key(t) for t in b.get_trials()]


def test_one_in_flight_is_optuna_one_trial_at_a_time(tmp_path):
    """parallel=1 draws and prunes as Optuna's own loop does (study.optimize, TPE with the
    same seeding, SuccessiveHalvingPruner with the study's rung): the same trials."""
    from reglab.lab.execute import load_data
    from reglab.train.sequential import fit
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = BASE.replace(epochs=8)
    space = {**TINY_SPACE, "epochs": T.Param(3, 8, integer=True)}
    data = load_data(base)
    mine = T.open_study(f"sqlite:///{tmp_path / 'a.db'}", "s", seed=0)
    T.run_trials(mine, base, data, space, 12, parallel=1, workers=1)
    ref = optuna.create_study(storage=f"sqlite:///{tmp_path / 'b.db'}", study_name="s",
                              sampler=T._TrialSeededTPE(0), direction="maximize",
                              pruner=optuna.pruners.SuccessiveHalvingPruner(
                                  min_resource=T.first_rung(8), reduction_factor=3))
    holdout = T._without_test(data)

    def objective(trial):
        spec = T.spec_from_params(base, data.kind, {k: p.suggest(trial, k)
                                                    for k, p in space.items()})

        def report(epoch, row):
            trial.report(row["val_acc"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return fit(spec, holdout, on_epoch=report).final["val_acc"]
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref.optimize(objective, n_trials=12)
    finally:
        torch.set_num_threads(threads)
    assert any(t.state.name == "PRUNED" for t in ref.trials)
    _same_trials(mine, ref)


def test_the_study_is_the_same_whatever_the_worker_processes(tmp_path):
    """Three trials in flight, scored here one by one or in two worker processes: the same
    draws, scores, prunes and epochs; and not the study of one in flight (TPE's draws after
    its 10 start-up trials see other trials finished, and its liars)."""
    from reglab.lab.execute import load_data
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = BASE.replace(epochs=6)
    space = {**TINY_SPACE, "epochs": T.Param(2, 6, integer=True)}
    data = load_data(base)
    studies = []
    for i, (parallel, workers) in enumerate([(3, 1), (3, 2), (1, 1)]):
        st = T.open_study(f"sqlite:///{tmp_path / f'{i}.db'}", "s", seed=0)
        assert T.run_trials(st, base, data, space, 12, parallel=parallel, workers=workers) == 12
        studies.append(st)
    _same_trials(studies[0], studies[1])
    assert any(t.state.name == "PRUNED" for t in studies[0].trials)
    assert [t.params for t in studies[0].trials[10:]] != [t.params for t in studies[2].trials[10:]]
    # the start-up draws are random, seeded by trial number: the same in both
    assert [t.params for t in studies[0].trials[:10]] == [t.params for t in studies[2].trials[:10]]


def test_an_interrupted_command_leaves_no_trial_running(tmp_path):
    st = T.open_study(f"sqlite:///{tmp_path / 'o.sqlite'}", "s")

    def stop(done, n):
        if done == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        T.run_trials(st, TINY, _tiny_data(), TINY_SPACE, 5, parallel=3, workers=1,
                     progress=stop)
    states = [t.state.name for t in st.trials]
    assert states == ["COMPLETE", "FAIL", "FAIL"]  # the two in flight: failed, not left


def test_the_timeout_stops_a_running_trial_at_its_next_epoch(tmp_path):
    st = T.open_study(f"sqlite:///{tmp_path / 'o.sqlite'}", "s")
    slow = TINY.replace(epochs=10_000)
    t0 = time.monotonic()
    ran = T.run_trials(st, slow, _tiny_data(), TINY_SPACE, 5, parallel=2, workers=1,
                       timeout=1.0)
    assert time.monotonic() - t0 < 10  # 10 000 epochs would take minutes
    assert ran == 2 and len(T.counted_trials(st)) == 0  # stopped, not counted
    assert [t.state.name for t in st.trials] == ["FAIL", "FAIL"]
    assert all(t.user_attrs["out_of_time"] for t in st.trials)
    assert len(st.trials[0].intermediate_values) > 0 == len(st.trials[1].intermediate_values)


@pytest.mark.parametrize("table, message", [
    ({"bogus": {}}, "The 'key' parameter of [space] must be one of {"),
    ({"weight_decay": {"low": -1.0}}, "The 'low' parameter of [space.weight_decay] must be a "
                                      "float in the range (0, inf). Got -1.0 instead."),
    ({"l2": {"low": -1.0}}, "The 'low' parameter of [space.l2] must be a float in the range "
                            "[0, inf). Got -1.0 instead."),  # not in the default space: linear
    ({"lr": {"lo": 1}}, "The 'key' parameter of [space.lr] must be one of {low, high, log, "
                        "optional, choices, value}. Got 'lo' instead."),
    ({"dropout": {"choices": [0.1, 1.5]}}, "The 'dropout' parameter of RunSpec must be a float "
                                           "in the range [0, 1). Got 1.5 instead."),
])
def test_bad_space_entries_name_the_key(table, message):
    with pytest.raises(InvalidParameterError) as err:
        T.load_space(table)
    assert str(err.value).startswith(message)


def test_tune_scores_on_validation_resumes_exports_and_compares(tmp_path):
    import reglab.data
    from reglab.lab.arms import OVERRIDABLE
    from reglab.lab.compare import make_plan, summarize_arms
    from reglab.train.sequential import fit
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    res = T.tune(BASE, trials=4, out=tmp_path, name="t", space=TINY_SPACE, seeds=2, workers=1)
    assert res.ran == 4 and len(T.counted_trials(res.study)) == 4
    # the objective is the validation score of the trial's spec, on the data without test
    data = reglab.data.load(BASE.data, seed=0)
    refit = fit(res.best_spec, T._without_test(data))
    assert refit.final["val_acc"] == res.best_value
    assert len(T._without_test(data).test.y) == 0
    # retrain: best and none on seeds 0, 1, paired
    rows = {r.arm: r for r in summarize_arms(res.runs)}
    assert rows["none"].n_done == rows["tuned"].n_done == 2 and rows["tuned"].d_acc.n == 2
    assert {r["spec"]["lr"] for r in res.runs if r["arm"] == "tuned"} == {res.best_spec.lr}
    # exports: best.toml is the spec; best-compare.toml makes compare's `all` arm the spec
    assert RunSpec.from_dict(load_toml(tmp_path / "t" / "best.toml")) == res.best_spec
    cfg = load_toml(tmp_path / "t" / "best-compare.toml")
    arms, seeds = cfg.pop("arms"), cfg.pop("seeds")
    assert not set(cfg) & set(OVERRIDABLE)  # the other arms keep their own strengths
    jobs = make_plan(RunSpec.from_dict(cfg), "tabular", ["l2", "all"], seeds, arm_specs=arms)
    assert jobs[-1].spec == res.best_spec.replace(seed=1) and jobs[0].spec.l2 == arm_changes("tabular")["l2"]["l2"]
    assert (tmp_path / "t" / "tune-history.png").stat().st_size > 1000
    # rerunning continues the study: to 4 it adds nothing, to 5 it adds one
    again = T.tune(BASE, trials=4, out=tmp_path, name="t", space=TINY_SPACE, seeds=0)
    assert again.ran == 0
    more = T.tune(BASE, trials=5, out=tmp_path, name="t", space=TINY_SPACE, seeds=0)
    assert more.ran == 1 and len(T.counted_trials(more.study)) == 5


def test_joining_with_another_setup_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.sqlite'}"
    st = T.open_study(url, "s")
    T._check_setup(st, BASE, TINY_SPACE, "val_acc")
    T._check_setup(T.open_study(url, "s"), BASE, TINY_SPACE, "val_acc")  # same: joins
    with pytest.raises(InvalidParameterError, match=r"another base \(differs in: lr\)"):
        T._check_setup(T.open_study(url, "s"), BASE.replace(lr=0.1), TINY_SPACE, "val_acc")


def test_postgres_url_uses_the_installed_driver_and_passwords_are_hidden():
    url = T._driver_url("postgresql://u:secret@127.0.0.1:5432/db")
    assert url.startswith(("postgresql+psycopg2://", "postgresql://")) and "secret" in url
    assert "secret" not in T.redact(url) and "***" in T.redact(url)
    assert T._driver_url("sqlite:///x.db") == "sqlite:///x.db"


def test_run_trials_reports_the_finished_trials_to_its_progress_hook(tmp_path):
    st = T.open_study(f"sqlite:///{tmp_path / 's.db'}", "s", seed=0)
    ticks = []
    T.run_trials(st, TINY.replace(epochs=1), _tiny_data(), TINY_SPACE, 3, parallel=2,
                 workers=1, poll=0.1, progress=lambda d, n: ticks.append((d, n)))
    assert ticks == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_tune_takes_the_run_spec_flags_and_a_flag_fixes_a_searched_key(tmp_path, capsys):
    from reglab.cli import main
    code = main(["tune", "--data", "breast_cancer", "--model", "linear", "--epochs", "3",
                 "--lr", "0.01", "--lr-schedule", "cosine", "--trials", "3", "--seeds", "0",
                 "--out", str(tmp_path), "-q"])
    assert code == 0
    capsys.readouterr()
    best = RunSpec.from_dict(load_toml(tmp_path / "tune-breast_cancer" / "best.toml"))
    assert (best.model, best.lr, best.lr_schedule) == ("linear", 0.01, "cosine")
    assert best.epochs <= 3
    code = main(["tune", "--epochs", "0", "--trials", "1", "--out", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("reglab: error: Invalid value for '--epochs' / '-e'")


def test_the_best_trials_are_confirmed_on_fresh_seeds_and_the_best_mean_is_retrained(tmp_path):
    from reglab.lab.store import Store
    from reglab.train.sequential import fit
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ticks = []
    res = T.tune(BASE, trials=6, out=tmp_path, name="c", space=TINY_SPACE, seeds=1, workers=1,
                 confirm_top=3, confirm_seeds=2, on_confirm=lambda d, n: ticks.append((d, n)))
    done = sorted((t for t in res.study.get_trials() if t.state.name == "COMPLETE"),
                  key=lambda t: (-t.value, t.number))
    assert len(res.confirmed) == min(3, len(done)) >= 2
    assert {c.trial for c in res.confirmed} == {t.number for t in done[:3]}
    holdout = T._without_test(reglab.data.load(BASE.data, seed=BASE.data_seed))
    for c in res.confirmed:  # each score: the trial's spec refitted with a fresh init seed
        trial = next(t for t in done if t.number == c.trial)
        assert c.searched == trial.value and len(c.scores) == 2
        assert c.scores == tuple(fit(c.spec.replace(seed=T.CONFIRM_SEED + i), holdout)
                                 .final["val_acc"] for i in range(2))
    planned = 2 * sum(c.spec.epochs for c in res.confirmed)  # the bar: epochs of all runs
    assert ticks[-1] == (planned, planned) and all(n == planned for _, n in ticks)
    assert [d for d, _ in ticks] == sorted(d for d, _ in ticks)
    means = [c.mean for c in res.confirmed]
    assert means == sorted(means, reverse=True)  # best mean first; it is the one retrained
    winner = res.confirmed[0]
    assert (res.best_trial, res.best_spec, res.best_value) == (winner.trial, winner.spec,
                                                                winner.searched)
    assert RunSpec.from_dict(load_toml(tmp_path / "c" / "best.toml")) == winner.spec
    assert {r["spec"]["lr"] for r in res.runs if r["arm"] == "tuned"} == {winner.spec.lr}
    with Store.open(tmp_path, "c") as store:
        stored = store.meta()["confirmed"]
    assert [(c["trial"], tuple(c["scores"])) for c in stored] == [
        (c.trial, c.scores) for c in res.confirmed]
    # a rerun of the retrain reuses the stored scores: it trains no confirmation run again
    seen = []
    again = T.tune(BASE, trials=6, out=tmp_path, name="c", space=TINY_SPACE, seeds=1,
                   workers=1, on_confirm=lambda *a: seen.append(a))
    assert again.confirmed == res.confirmed and not seen
    # --confirm 0 (or 1): the study's best trial, as the search scored it
    plain = T.tune(BASE, trials=6, out=tmp_path, name="c0", space=TINY_SPACE, seeds=1,
                   workers=1, confirm_top=0, storage=T.default_storage(tmp_path, "c"),
                   study_name="c")
    assert plain.confirmed == [] and plain.best_trial == res.study.best_trial.number
    assert plain.best_spec == T.best_spec(res.study, BASE)


def test_tune_prints_the_confirmation_and_the_trial_it_chose(tmp_path, capsys):
    from reglab.cli import main
    code = main(["tune", "--data", "breast_cancer", "--model", "linear", "--epochs", "3",
                 "--trials", "4", "--seeds", "1", "--confirm", "2", "--out", str(tmp_path),
                 "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("confirmed: trial ")]
    assert len(lines) == 2 and all("with seeds 1000, 1001 (mean " in line for line in lines)
    chosen = lines[0].split()[2].rstrip(",")
    assert f"best: trial {chosen}, val_acc " in out
    # the warm start's line: trial 0 was compare's `all`, with what the space could not say
    study = optuna.load_study(study_name="tune-breast_cancer",
                              storage=T.default_storage(tmp_path, "tune-breast_cancer"))
    first = min(study.get_trials(), key=lambda tr: tr.number)
    score = (f"val_acc {first.value:.4f}" if first.value is not None else "pruned")
    notes = "; ".join(study.user_attrs["warm_start"]["notes"])
    assert notes == "l2=1e-3: not searched, left at 0; patience=40: outside 3..30, 30"
    assert (f"warm start: trial 0 was the `all` arm of reglab compare ({score}; where the "
            f"space differs: {notes})") in " ".join(out.split())
    code = main(["tune", "--data", "breast_cancer", "--confirm", "-1", "--out", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and "confirm" in err


def test_each_told_trial_is_logged_as_optunas_loop_logs_it(tmp_path):
    import logging
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())
    st = T.open_study(f"sqlite:///{tmp_path / 'o.sqlite'}", "s")
    logger, keep = logging.getLogger("optuna.reglab"), Keep()
    logger.addHandler(keep)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        T.run_trials(st, TINY.replace(epochs=4), _tiny_data(), TINY_SPACE, 6, parallel=2,
                     workers=1)
    finally:
        logger.removeHandler(keep)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert [int(line.split()[1]) for line in lines] == list(range(6))  # told in order
    assert any(t.state.name == "PRUNED" for t in st.trials)
    for line, trial in zip(lines, st.trials):
        if trial.state.name == "PRUNED":
            assert line == f"Trial {trial.number} pruned at epoch 3: val_acc " \
                           f"{trial.intermediate_values[2]:.4f}."
        else:
            assert line.startswith(f"Trial {trial.number} finished with value: {trial.value} "
                                   f"and parameters: {trial.params}. Best is trial ")


def test_a_fresh_study_tries_the_compares_all_arm_first_and_only_once(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = RunSpec(data="breast_cancer", model="mlp", hidden=(8,), epochs=3, batch_size=64)
    space = T.default_space("tabular", base.epochs)
    res = T.tune(base, trials=2, out=tmp_path, name="w", space=space, seeds=0, workers=1,
                 parallel=1)
    trials = sorted(res.study.get_trials(), key=lambda t: t.number)
    # the arm as the space can say it: l2 is not searched (left at 0), patience 40 > 30
    arm = base.replace(**arm_changes("tabular")["all"])
    assert (arm.l2, arm.patience) == (1e-3, 40)
    assert T.trial_spec(trials[0], base) == arm.replace(l2=0.0, patience=30)
    assert res.study.user_attrs["warm_start"]["notes"] == [
        "l2=1e-3: not searched, left at 0", "patience=40: outside 3..30, 30"]
    assert T.trial_spec(trials[1], base) != T.trial_spec(trials[0], base)  # drawn
    # a rerun that adds trials, or a command joining the study, does not warm it again
    more = T.tune(base, trials=3, out=tmp_path, name="w", space=space, seeds=0, workers=1,
                  parallel=1)
    specs = [T.trial_spec(t, base) for t in more.study.get_trials()]
    assert len(specs) == 3 and specs.count(specs[0]) == 1
    # warm=False: the first trial is drawn like the others
    cold = T.tune(base, trials=1, out=tmp_path, name="c", space=space, seeds=0, workers=1,
                  parallel=1, warm=False)
    assert "warm_start" not in cold.study.user_attrs
    assert T.trial_spec(cold.study.get_trials()[0], base) != T.trial_spec(trials[0], base)


@pytest.mark.parametrize("kind,model", [("image", None), ("image", "cnn"), ("signal", None),
                                        ("signal", "cnn"), ("tabular", None)])
def test_the_warm_start_params_draw_the_all_arms_spec(kind, model):
    """Every built-in kind and model: the params, drawn as a trial draws them, give the
    `all` arm's spec but for the keys the notes name."""
    from reglab.lab.arms import base_changes

    class Fixed:  # a trial that answers each suggest_* with the params
        def __init__(self, params):
            self.params, self.asked = params, []

        def _get(self, name, *args, **kw):
            self.asked.append(name)
            return self.params[name]
        suggest_categorical = suggest_float = suggest_int = _get

    base = RunSpec.from_dict({**base_changes(kind, model), "data": "digits"})
    space = T.default_space(kind, base.epochs)
    params, notes = T.warm_start_params(base, kind, space)
    trial = Fixed(params)
    spec = T.spec_from_params(base, kind, {n: p.suggest(trial, n) for n, p in space.items()})
    assert sorted(trial.asked) == sorted(params)  # each param is asked for, none is missing
    arm = base.replace(**arm_changes(kind, model)["all"])
    noted = {n.split("=")[0] for n in notes}
    differ = {f for f in arm.to_dict() if getattr(spec, f) != getattr(arm, f)}
    assert differ == noted
