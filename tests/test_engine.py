"""The sweep engine reproduces the sequential loop member by member, and runs sweeps safely.

Reference: ``reglab.train.sequential.fit`` on the same spec and data. In float64 the stacked
arithmetic (batched matmuls, per-member optimizer math) differs from the sequential one
only by rounding, so per-epoch losses agree to 1e-9 relative; in float32 to 1e-4. Dropout
masks and augmentation draws come from the same streams on the CPU, so those arms are
checked for the same trajectory too, not only the same distribution.
"""

from __future__ import annotations

import math
import os

import pytest
import torch

from lab_tiny import tiny
from reglab.lab import execute as engine
from reglab.train.stacked_ops import StackedAdam, StackedSGD
from reglab.train.stacked import train_chunk
from reglab.train.sequential import fit
from reglab.lab.spec import RunSpec
from reglab.train.models import multiply_adds

BASE = RunSpec(data="tiny", model="mlp", hidden=(12, 10), optimizer="adam", lr=1e-2,
               epochs=6, batch_size=16)
ARMS = {
    "none": {},
    "l1": {"l1": 3e-3},
    "l2": {"l2": 3e-3},
    "proximal_l1": {"proximal_l1": 0.5},
    "weight_decay": {"weight_decay": 0.5},
    "early_stopping": {"patience": 1, "epochs": 12},
    "dropout": {"dropout": 0.3},
    "augment": {"augment": ("rotate", "flip", "noise")},
    "mixup": {"mixup": 0.4},
    "all": {"l2": 1e-3, "dropout": 0.2, "patience": 2, "augment": ("translate",)},
    # per-step schedules: each member its own lr at each step (and the decay / proximal
    # kernels with it), next to constant-lr members in the same stack
    "cosine_warmup": {"lr_schedule": "cosine", "warmup": 0.2},
    "cosine_decay_prox": {"lr_schedule": "cosine", "warmup": 0.1, "lr": 3e-2,
                          "weight_decay": 0.5, "proximal_l1": 0.2},
    "step": {"lr_schedule": "step", "epochs": 8},
    "cosine_early_stop": {"lr_schedule": "cosine", "warmup": 0.3, "patience": 1, "epochs": 12},
    "label_smoothing": {"label_smoothing": 0.1},
    "smoothing_mixup": {"label_smoothing": 0.2, "mixup": 0.4},
}


def _as64(data):
    for part in ("train", "val", "test"):
        split = getattr(data, part)
        split.X = split.X.double()
    return data


def _close(a, b, rtol):
    return all(math.isclose(x, y, rel_tol=rtol, abs_tol=rtol) or (math.isnan(x) and math.isnan(y))
               for x, y in zip(a, b)) and len(a) == len(b)


def _assert_same_run(vec, seq, rtol):
    assert vec.status == seq.status
    assert vec.reason == seq.reason
    assert len(vec.epochs) == len(seq.epochs)
    for key in ("data_loss", "penalty", "train_acc", "val_loss", "val_acc", "sparsity",
                "weight_norm", "lr"):
        a = [r[key] for r in vec.epochs]
        b = [r[key] for r in seq.epochs]
        assert _close(a, b, rtol), (key, a, b)
    for key, value in seq.final.items():
        if key != "seconds":
            assert _close([vec.final[key]], [value], rtol), (key, vec.final[key], value)
    if seq.state is None:
        assert vec.state is None
    else:
        assert list(vec.state) == list(seq.state)
        for k, v in seq.state.items():
            assert vec.state[k].shape == v.shape and vec.state[k].dtype == v.dtype
            torch.testing.assert_close(vec.state[k], v, rtol=rtol * 10, atol=rtol * 10)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_every_arm_reproduces_the_sequential_trajectory_in_float64(float64, optimizer):
    datasets = {s: _as64(tiny("image", n=64, seed=s)) for s in (0, 1)}
    specs = [BASE.replace(optimizer=optimizer, seed=s, **changes)
             for changes in ARMS.values() for s in (0, 1)]
    data = [datasets[s.seed] for s in specs]
    stacked = train_chunk(specs, data)  # one stack: every arm and seed at once
    for spec, vec, d in zip(specs, stacked, data):
        _assert_same_run(vec, fit(spec, d), rtol=1e-9)


def test_strengths_shared_by_every_member_take_the_whole_stack_path(float64):
    data = _as64(tiny("tabular", n=48, seed=1))
    specs = [BASE.replace(optimizer=opt, l1=1e-3 * k, l2=2e-3 * k, weight_decay=0.1 * k,
                          proximal_l1=0.05 * k, lr=1e-2 * k, seed=k)
             for k in (1, 2, 3) for opt in ("adam", "sgd")]
    for opt in ("adam", "sgd"):
        chosen = [s for s in specs if s.optimizer == opt]
        for spec, vec in zip(chosen, train_chunk(chosen, [data] * len(chosen))):
            _assert_same_run(vec, fit(spec, data), rtol=1e-9)


def test_early_stopping_members_stop_at_their_own_epoch(float64):
    data = _as64(tiny("image", n=64, seed=0))
    specs = [BASE.replace(patience=p, epochs=15, lr=5e-2) for p in (1, 2, 4, 0)]
    stacked = train_chunk(specs, [data] * len(specs))
    trained = [r.final["epochs_trained"] for r in stacked]
    assert len(set(trained)) > 1  # frozen one by one (and the stack compacted), not together
    for spec, vec in zip(specs, stacked):
        _assert_same_run(vec, fit(spec, data), rtol=1e-9)


def test_float32_digits_arms_agree_within_1e4():
    import reglab as rl
    data = rl.data.load("digits", seed=0)
    specs = [RunSpec(hidden=(32, 32), epochs=3, batch_size=64, **ch)
             for ch in ({}, {"l1": 1e-4}, {"dropout": 0.3}, {"augment": ("rotate",)})]
    for spec, vec in zip(specs, train_chunk(specs, [data] * len(specs))):
        _assert_same_run(vec, fit(spec, data), rtol=1e-4)


def test_a_diverged_member_is_marked_and_leaves_the_others_unchanged(float64):
    data = _as64(tiny("tabular", n=48, seed=0))
    good = BASE.replace(optimizer="sgd", lr=0.05, epochs=4)
    bad = good.replace(lr=1e200)
    together = train_chunk([good, bad, good.replace(seed=3)], [data] * 3)
    assert together[1].status == "diverged"
    assert together[1].reason == fit(bad, data).reason
    assert together[1].state is None and math.isnan(together[1].final["test_acc"])
    alone = train_chunk([good, good.replace(seed=3)], [data] * 2)
    for a, b in zip((together[0], together[2]), alone):
        assert [r["val_loss"] for r in a.epochs] == [r["val_loss"] for r in b.epochs]


def test_linear_model_and_signal_data(float64):
    data = _as64(tiny("signal", n=40, seed=2))
    specs = [BASE.replace(model="linear", l1=1e-3, dropout=0.5), BASE.replace(model="linear")]
    for spec, vec in zip(specs, train_chunk(specs, [data] * 2)):
        _assert_same_run(vec, fit(spec, data), rtol=1e-9)



CNN_ARMS = ({}, {"l1": 3e-3, "dropout": 0.3}, {"l2": 2e-3, "weight_decay": 0.5, "lr": 3e-2},
            {"proximal_l1": 0.3, "mixup": 0.4}, {"patience": 1, "epochs": 10})


@pytest.mark.parametrize("kind, augment", [("image", ("rotate", "translate", "flip")),
                                           ("signal", ("shift", "noise"))])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_cnn_members_reproduce_the_sequential_run_in_float64(float64, kind, augment,
                                                             optimizer):
    # grouped convolutions (groups = K): each member's own init, batch order, dropout
    # masks, augmentation draws, strengths, lr and early stop, as fit gives them
    datasets = {s: _as64(tiny(kind, n=32, seed=s)) for s in (0, 1)}
    base = BASE.replace(model="cnn", hidden=(8,), optimizer=optimizer, epochs=4)
    specs = [base.replace(seed=s, **ch) for ch in (*CNN_ARMS, {"augment": augment})
             for s in (0, 1)]
    data = [datasets[s.seed] for s in specs]
    for spec, vec, d in zip(specs, train_chunk(specs, data), data):
        _assert_same_run(vec, fit(spec, d), rtol=1e-9)


@pytest.mark.parametrize("activation", ["gelu", "tanh"])
def test_cnn_members_with_other_activations_pool_after_the_activation(float64, activation):
    data = _as64(tiny("image", n=32, seed=3))
    base = BASE.replace(model="cnn", hidden=(8,), activation=activation, epochs=3)
    specs = [base.replace(seed=s, dropout=0.2 * s) for s in (0, 1)]
    for spec, vec in zip(specs, train_chunk(specs, [data] * 2)):
        _assert_same_run(vec, fit(spec, data), rtol=1e-9)


# -- the stacked optimizers are torch.optim per member ------------------------------------

@pytest.mark.parametrize("make, ref", [
    (lambda ps: StackedSGD(ps, momentum=0.9),
     lambda p, lr: torch.optim.SGD([p], lr=lr, momentum=0.9)),
    (lambda ps: StackedSGD(ps, momentum=0.8, nesterov=True),
     lambda p, lr: torch.optim.SGD([p], lr=lr, momentum=0.8, nesterov=True)),
    (lambda ps: StackedSGD(ps), lambda p, lr: torch.optim.SGD([p], lr=lr)),
    (lambda ps: StackedAdam(ps), lambda p, lr: torch.optim.Adam([p], lr=lr)),
])
def test_stacked_optimizers_equal_torch_optim_per_member(make, ref):
    g = torch.Generator().manual_seed(0)
    lrs = torch.tensor([0.1, 0.01, 0.0])  # the last member is frozen: lr 0
    w = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    stacked = w.clone()
    opt = make([stacked])
    singles = [w[k].clone().requires_grad_() for k in range(3)]
    refs = [ref(p, float(lr)) for p, lr in zip(singles, lrs)]
    for _ in range(5):
        grads = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
        opt.step([grads], lrs.double())
        for k, (p, o) in enumerate(zip(singles, refs)):
            p.grad = grads[k].clone()
            o.step()
    for k in range(3):
        torch.testing.assert_close(stacked[k], singles[k].detach(), rtol=1e-12, atol=1e-14)
    assert torch.equal(stacked[2], w[2])


# -- planning, processes, threads, the store ---------------------------------------------

def test_plan_groups_by_shape_and_chunks_to_the_memory_budget(monkeypatch):
    data = tiny("image", n=32)
    specs = ([BASE.replace(seed=s) for s in range(5)] + [BASE.replace(hidden=(7,))]
             + [BASE.replace(model="cnn", hidden=(8,))] + [BASE.replace(seed=9, l2=1e-3)])
    monkeypatch.setitem(engine.STACK_BYTES, "cpu", 2 * engine.member_bytes(BASE, data))
    tasks = engine.plan(specs, [data] * len(specs))
    stacked = [t.indices for t in tasks if t.stacked]
    assert sorted(i for t in stacked for i in t) == [0, 1, 2, 3, 4, 7]
    assert all(len(t) <= 2 for t in stacked)  # the budget holds two members
    assert sorted(t.indices for t in tasks if not t.stacked) == [(5,), (6,)]


def test_plan_cuts_stacks_of_at_most_six_members_in_plan_order():
    data = tiny("image", n=32)
    specs = [BASE.replace(seed=s) for s in range(14)]
    tasks = engine.plan(specs, [data] * 14)
    assert [t.indices for t in tasks] == [tuple(range(5)), tuple(range(5, 10)),
                                          tuple(range(10, 14))]
    assert all(t.stacked for t in tasks)
    # the engine "sequential" runs each spec alone; a spec whose data failed to load too
    assert engine.plan(specs[:2], [data] * 2, "sequential") == [engine.Task((0,), False),
                                                                engine.Task((1,), False)]
    assert engine.plan(specs[:3], [data, None, data]) == [engine.Task((0, 2), True),
                                                          engine.Task((1,), False)]


def test_plan_cuts_big_models_into_stacks_of_at_most_the_multiply_add_budget():
    """STACK_MACS caps members x multiply-adds per sample; the memory budget and the member
    count still hold; the cut is balanced and in plan order."""
    data = tiny("image", n=32)
    wide = BASE.replace(hidden=(96, 96))
    macs = multiply_adds(wide, data.kind, data.input_shape, data.num_classes)
    assert macs == (math.prod(data.input_shape) + 1) * 96 + 97 * 96 + 97 * data.num_classes
    budget = 2 * macs + macs // 2  # room for two members, not three
    specs = [wide.replace(seed=s) for s in range(5)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(engine.STACK_MACS, "cpu", budget)
        assert engine.stack_cap(wide, data) == 2
        assert engine.plan(specs, [data] * 5) == [engine.Task((0, 1), True),
                                                  engine.Task((2, 3), True),
                                                  engine.Task((4,), False)]
        mp.setitem(engine.STACK_MACS, "cpu", macs - 1)  # not even one: each runs alone
        assert engine.stack_cap(wide, data) == 1
        assert engine.plan(specs, [data] * 5) == [engine.Task((i,), False) for i in range(5)]
    assert engine.stack_cap(wide, data) == engine.STACK_MEMBERS["cpu"]  # small: six



def test_plan_starts_the_costliest_tasks_first_and_keeps_the_stacks():
    """Order is by task_cost (epochs x rows x (multiply-adds + augmentation + dropout work)),
    so a stack of augmented runs starts before a plain one listed earlier; the stacks are
    the plan-order chunks whatever the order, and the cost grows with each term."""
    data = tiny("image", n=32)
    plain = [BASE.replace(seed=s) for s in range(6)]
    heavy = [BASE.replace(seed=s, augment=("rotate",)) for s in range(6)]
    long_single = BASE.replace(seed=9, epochs=BASE.epochs * 40, dropout_kind="gaussian",
                               dropout=0.2)
    tasks = engine.plan(plain + heavy + [long_single], [data] * 13)
    # augmented stack, then one long run (it used to come last: fewest members), then plain
    assert tasks == [engine.Task(tuple(range(6, 12)), True), engine.Task((12,), False),
                     engine.Task(tuple(range(6)), True)]
    cost = lambda spec: engine.task_cost(engine.Task((0,), False), [spec], [data])  # noqa: E731
    base = cost(BASE)
    assert base == BASE.epochs * data.train.y.shape[0] * multiply_adds(
        BASE, data.kind, data.input_shape, data.num_classes)
    assert cost(BASE.replace(augment=("rotate",))) == base + (
        BASE.epochs * data.train.y.shape[0] * engine.AUGMENT_MACS)
    assert cost(BASE.replace(dropout=0.5)) > base and cost(BASE.replace(epochs=2 * BASE.epochs)) == 2 * base
    assert engine.task_cost(engine.Task((0,), False), [BASE], [None]) == 0.0


def test_plan_stacks_cnn_runs_by_their_shape():
    image, signal, table = tiny("image", n=32), tiny("signal", n=32), tiny("tabular", n=32)
    cnn = BASE.replace(model="cnn", hidden=(8,))
    specs = [cnn.replace(seed=s) for s in range(3)] + [cnn.replace(hidden=(9,), seed=s)
                                                       for s in range(2)]
    specs += [cnn.replace(seed=7, activation="tanh"), cnn.replace(seed=8, l2=1e-3)]
    data = [image] * len(specs)
    tasks = engine.plan(specs + [cnn, cnn, cnn], data + [signal, signal, table])
    assert sorted(t.indices for t in tasks if t.stacked) == [(0, 1, 2, 6), (3, 4), (7, 8)]
    assert sorted(t.indices for t in tasks if not t.stacked) == [(5,), (9,)]
    assert engine.member_bytes(cnn.replace(hidden=(64,)), image) > engine.member_bytes(cnn,
                                                                                       image)


def test_free_cores_is_between_one_and_the_affinity():
    assert 1 <= engine.free_cores() <= len(os.sched_getaffinity(0))


def test_free_cores_ignores_a_moments_load_but_not_a_steady_one(monkeypatch):
    """A core is busy only if every probe saw it busy; probing stops once all are free."""
    monkeypatch.setattr(engine, "usable_cores", lambda: 4)

    def probes(seen):
        calls = iter(seen)
        monkeypatch.setattr(engine, "busy_cores", lambda: next(calls))
        return engine.free_cores()

    assert probes([2.0, 0.2]) == 4            # a burst: the second probe sees it gone
    assert probes([2.0, 1.0, 1.6]) == 3       # the least busy of three probes counts
    assert probes([3.4, 3.6, 3.5]) == 1       # a steady load: at least one core all the same
    assert probes([0.4]) == 4                 # all free at once: one probe only (a 2nd raises)
    calls = []
    monkeypatch.setattr(engine, "busy_cores", lambda: calls.append(1) or 1.0)
    assert engine.free_cores() == 3 and len(calls) == engine.CORE_PROBES == 3


def test_train_many_keeps_order_runs_unstackable_specs_and_uses_one_thread():
    data = tiny("image", n=32)
    specs = [BASE.replace(epochs=2, seed=1), BASE.replace(model="cnn", hidden=(4,), epochs=1),
             BASE.replace(epochs=2, seed=2), BASE.replace(epochs=2, hidden=(5,))]
    threads = []
    before = torch.get_num_threads()
    results = engine.train_many(specs, data, workers=1,
                                progress=lambda i, e, row: threads.append(torch.get_num_threads()))
    assert set(threads) == {1} and torch.get_num_threads() == before
    for spec, r in zip(specs, results):
        _assert_same_run(r, fit(spec, data), rtol=1e-4)


@pytest.mark.slow
def test_worker_processes_give_the_same_results_as_one_process():
    specs = [RunSpec(data="digits", hidden=(8,), epochs=2, batch_size=256, seed=s % 2,
                     l2=1e-3 * (s // 2)) for s in range(4)]
    seen = []
    here = engine.train_many(specs, workers=1)  # data=None: each spec's own split
    there = engine.train_many(specs, workers=2, progress=lambda i, e, r: seen.append(i))
    assert sorted(set(seen)) == [0, 1, 2, 3]
    for a, b in zip(here, there):
        assert [r["val_loss"] for r in a.epochs] == [r["val_loss"] for r in b.epochs]


def test_execute_writes_the_store_like_the_runner(tmp_path):
    from reglab.lab.execute import Job
    from reglab.lab.store import Store
    spec = RunSpec(data="digits", hidden=(8,), epochs=2, batch_size=256)
    jobs = [Job(f"{arm}-s{s}", arm, spec.replace(seed=s, l2=l2))
            for arm, l2 in (("none", 0.0), ("l2", 1e-3)) for s in (0, 1)]
    stored = {}
    for name, eng in (("vec", "vectorized"), ("seq", "sequential")):
        with Store.open(tmp_path, name) as store:
            for i, job in enumerate(jobs):
                store.add_run(job.run_id, job.arm, job.spec.seed, job.spec.to_json(), i)
            outcome = engine.execute(store, jobs, workers=1, engine=eng)
            assert sorted(outcome.done) == sorted(j.run_id for j in jobs)
            stored[name] = {r["id"]: r for r in store.runs()}
            assert all((store.root / "models" / f"{j.run_id}.safetensors").exists() for j in jobs)
    for run_id, seq in stored["seq"].items():
        vec = stored["vec"][run_id]
        assert vec["status"] == seq["status"] == "done"
        assert math.isclose(vec["final"]["test_loss"], seq["final"]["test_loss"], rel_tol=1e-4)


def test_unknown_engine_is_an_error_naming_it():
    from reglab import InvalidParameterError
    with pytest.raises(InvalidParameterError, match="'engine' parameter of train_many"):
        engine.train_many([BASE], tiny(), engine="turbo")


def test_busy_cores_counts_other_processes_but_not_this_one():
    import subprocess
    import sys
    import threading
    import time

    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat: the load-average fallback is used")
    # on a machine that other jobs already keep busy a hog adds nothing measurable (2 cores,
    # both busy, stay 2): the test means something only where there is a free core to fill
    if engine.busy_cores(0.3) > engine.usable_cores() - 1.5:
        pytest.skip("other processes keep the cores busy: a hog cannot be told apart")
    # this process spinning (a thread) is not "another process keeping a core busy"
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)])
    spinner.start()
    try:
        own = engine.busy_cores(0.3)
    finally:
        stop.set()
        spinner.join()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start
        other = engine.busy_cores(0.3)
        free = engine.free_cores()
    finally:
        hog.kill()
        hog.wait()
    assert own < other - 0.5, (own, other)  # the hog is ~1 core; tolerance for other load
    assert other >= 0.7
    assert free <= max(1, engine.usable_cores() - 1)


def test_auto_workers_start_processes_only_when_the_work_outweighs_their_start():
    from reglab.lab.spec import RunSpec

    class Data:  # only what the estimate reads
        kind, input_shape, num_classes = "image", (1, 8, 8), 10
        train, val = range(1000), range(200)

    tiny = [RunSpec(hidden=(32, 32), epochs=3)] * 8
    big = [RunSpec(hidden=(256, 256), epochs=60)] * 21
    # 6 * params * rows * epochs / rate, by hand for the tiny sweep
    params = 65 * 32 + 33 * 32 + 33 * 10
    assert engine.estimated_seconds(tiny, [Data()] * 8) == pytest.approx(
        8 * 6 * params * 1200 * 3 / engine.SMALL_MODEL_FLOPS)
    assert engine.worth_processes(2, tiny, [Data()] * 8) == 1
    assert engine.worth_processes(2, big, [Data()] * 21) == 2
    assert engine.worth_processes(1, big, [Data()] * 21) == 1
    # a CNN: its convolutions once per output position (8x8, then 4x4 after the pool), the head
    macs = 10 * 32 * 64 + (32 * 9 + 1) * 64 * 16 + (64 * 4 + 1) * 256 + 257 * 10
    cnn = [RunSpec(model="cnn", epochs=2)] * 4
    assert engine.estimated_seconds(cnn, [Data()] * 4) == pytest.approx(
        4 * 6 * macs * 1200 * 2 / engine.CNN_FLOPS)
    assert engine.worth_processes(2, cnn, [Data()] * 4) == 1          # ~0.6 s of work
    assert engine.worth_processes(2, [RunSpec(model="cnn", epochs=60)] * 21, [Data()] * 21) == 2

    class Table(Data):
        kind, input_shape = "table", (64,)
    assert engine.worth_processes(2, cnn, [Table()] * 4) == 2  # no CNN on a table: unknown


def _fake_stack(l1, l2, wd, prox, shapes, dtype, seed=0):
    """A stacked._Stack with weights of ``shapes`` (K first) and per-member strengths."""
    from types import SimpleNamespace
    from reglab.train import stacked
    gen = torch.Generator().manual_seed(seed)
    stack = stacked._Stack.__new__(stacked._Stack)
    k = len(l1)
    stack.ids, stack.device = list(range(k)), torch.device("cpu")
    col = lambda v: torch.tensor(v, dtype=dtype)  # noqa: E731
    stack.l1, stack.l2, stack.wd, stack.prox = col(l1), col(l2), col(wd), col(prox)
    stack.lr, stack.smooth = col([1e-3] * k), col([0.0] * k)
    ws = [torch.randn(k, *s, generator=gen, dtype=dtype) for s in shapes]
    ws[0][1, 0] = 0.0  # exact zeros: sign 0
    stack.model = SimpleNamespace(weights=ws)
    stack._flags()
    grads = [t for w in ws for t in (torch.randn(w.shape, generator=gen, dtype=dtype),
                                     torch.randn(w.shape[0], 1, w.shape[2], generator=gen,
                                                 dtype=dtype))]
    return stack, grads


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_slices_sharing_a_strength_in_one_call_give_one_call_per_slice_bit_for_bit(dtype):
    # a sweep of strengths over part of a stack (and the 1024 x 300 layer takes L1's chunked
    # path): the grouped calls add the same gradient and value, element for element, as one
    # call per member and layer (the loop before the grouping), in the same order
    from reglab import kernels as K
    from reglab.train import stacked
    l1 = [0.0, 3e-3, 3e-3, 0.0, 1e-4, 3e-3, 0.0]
    l2 = [1e-4, 1e-4, 0.0, 1e-2, 1e-4, 1e-2, 0.0]
    wd = [0.0, 0.2, 0.2, 0.0, 0.05, 0.2, 0.0]
    prox = [0.3, 0.0, 0.3, 0.0, 0.1, 0.0, 0.3]
    stack, grads = _fake_stack(l1, l2, wd, prox, [(20, 16), (1024, 300), (16, 10)], dtype)
    assert not any(stack.everyone.values()) and len(stack.groups["l1"]) == 2
    ref_grads, orig = [g.clone() for g in grads], [g.clone() for g in grads]
    ref_value = torch.zeros(len(l1), dtype=dtype)
    for w, g in zip(stack.model.weights, ref_grads[0::2]):
        for term, value_of in (("l1", K.l1_value), ("l2", K.l2_value)):
            for s, lam in stack.users[term]:
                K.add_l1_l2_grad_([g[s]], [w[s]], **{term: lam})
                ref_value[s] += value_of(w[s], lam)
    value = stacked._penalty(stack, grads)
    assert torch.equal(value, ref_value)
    assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads))
    assert value[6] == 0 and all(torch.equal(g[6], o[6]) for g, o in zip(grads, orig))
    torch.testing.assert_close(  # member 3: L2 1e-2 alone; float64 sum of squares
        value[3].double(), 1e-2 * sum((w[3].double() ** 2).sum() for w in stack.model.weights),
        rtol=1e-5 if dtype is torch.float32 else 1e-12, atol=0)
    before = [w.clone() for w in stack.model.weights]
    lrs = [1e-3, 2e-3, 1e-3, 1e-3, 1e-3, 1e-3, 0.0]  # a member with its own lr, one frozen
    ref_ws = [w.clone() for w in stack.model.weights]
    for name, kernel in (("wd", K.decay_), ("prox", K.soft_threshold_)):
        for s, lam in stack.users[name]:
            if lrs[s] * lam > 0:
                kernel([w[s] for w in ref_ws], lrs[s] * lam)
        stacked._per_member(stack, name, kernel, stack.model.weights,
                            torch.tensor(lrs, dtype=dtype), lrs)
    assert all(torch.equal(a, b) for a, b in zip(stack.model.weights, ref_ws))
    for s in (3, 6):  # no decay, no proximal step: member 3 uses neither, member 6 is frozen
        assert all(torch.equal(w[s], b[s]) for w, b in zip(stack.model.weights, before))
    assert not torch.equal(stack.model.weights[1][1], before[1][1])  # decayed
