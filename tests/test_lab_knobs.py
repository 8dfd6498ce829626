"""The rest of the library in the lab: elastic net, group lasso, dropout kinds, Prechelt's
criteria. One builder each (sequential and DDP), what the plan stacks, example arms, tune."""

import pytest
import torch
from torch import nn

import reglab as rl
from lab_tiny import tiny
from reglab.lab import arms as arms_mod
from reglab.lab import execute as engine
from reglab.lab.compare import make_plan
from reglab.lab.spec import RunSpec
from reglab.lab.tune import Param, load_space
from reglab.train.models import build_model
from reglab.train.sequential import (attach_updates, fit, make_early_stopping, make_optimizer,
                                     make_penalty)
from reglab.train.stacked import train_chunk
from test_engine import BASE, _as64, _assert_same_run


def test_penalty_builder_sums_every_term_that_is_on():
    assert make_penalty(RunSpec()) is None
    pen = make_penalty(RunSpec(l1=1e-4, elastic_net=1e-3, l1_ratio=0.25, group_lasso=1e-2))
    assert repr(pen) == ("L1(lam=0.0001) + ElasticNet(lam=0.001, l1_ratio=0.25) + "
                         "GroupLasso(lam=0.01)")
    model = nn.Sequential(nn.Linear(3, 2)).double()
    w, b = model[0].weight.detach(), model[0].bias.detach()
    want = (1e-4 * w.abs().sum() + 1e-3 * (0.25 * w.abs().sum() + 0.75 * w.pow(2).sum())
            + 1e-2 * torch.sqrt(w.pow(2).sum(1) + b ** 2).sum())
    assert pen.value(model) == pytest.approx(float(want), rel=1e-12)


def test_proximal_group_lasso_builder_prunes_whole_neurons_bias_included():
    spec = RunSpec(optimizer="sgd", lr=1.0, proximal_group_lasso=10.0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    opt = make_optimizer(spec, model)
    handles = attach_updates(spec, model, opt)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()  # t = lr * lam = 10 > every group's norm: everything is exactly 0
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())
    assert len(handles) == 1


@pytest.mark.parametrize("criterion,text", [
    ("patience", "EarlyStopping(monitor='val_loss', mode='min', patience=4)"),
    ("gl", "EarlyStopping(monitor='val_loss', mode='min', patience=4, criterion=GL(alpha=2.0))"),
    ("pq", "EarlyStopping(monitor='val_loss', mode='min', patience=4, "
           "criterion=PQ(alpha=2.0, strip=3, train_key='train_loss'))"),
    ("up", "EarlyStopping(monitor='val_loss', mode='min', patience=4, "
           "criterion=UP(s=2, strip=3))"),
])
def test_early_stopping_builder_takes_the_criterion(criterion, text):
    spec = RunSpec(patience=4, stop_criterion=criterion, stop_alpha=2.0, stop_strip=3,
                   stop_strips=2)
    assert repr(make_early_stopping(spec)) == text


def test_a_criterion_alone_decides_when_patience_is_0():
    assert make_early_stopping(RunSpec(patience=0)) is None
    es = make_early_stopping(RunSpec(patience=0, stop_criterion="gl", stop_alpha=5.0))
    assert es.patience is None and repr(es.criterion) == "GL(alpha=5.0)"


@pytest.mark.parametrize("kind,layer", [("standard", rl.Dropout),
                                        ("gaussian", rl.GaussianDropout),
                                        ("dropconnect", rl.DropConnect)])
def test_dropout_kind_builds_its_layer_on_the_same_initial_weights(kind, layer):
    spec = RunSpec(hidden=(8, 6), dropout=0.25, dropout_kind=kind)
    torch.manual_seed(0)
    model = build_model(spec, "image", (1, 4, 4), 3)
    torch.manual_seed(0)
    plain = build_model(RunSpec(hidden=(8, 6)), "image", (1, 4, 4), 3)
    found = [m for m in model.modules() if isinstance(m, layer)]
    assert len(found) == 2 and all(m.drop == 0.25 for m in found)
    # the same initialization as without dropout: only where the layers sit differs
    assert ([p.tolist() for p in model.parameters()]
            == [p.tolist() for p in plain.parameters()])


def test_dropblock_is_for_the_cnn_on_images_only():
    spec = RunSpec(model="cnn", hidden=(8,), dropout=0.1, dropout_kind="dropblock")
    model = build_model(spec, "image", (1, 8, 8), 3)
    blocks = [m for m in model.modules() if isinstance(m, rl.DropBlock2d)]
    assert len(blocks) == 2 and blocks[0].block_size == 3
    assert blocks[0]._step_count == 0  # building the model took no training step
    for bad_model, kind in (("mlp", "image"), ("cnn", "signal")):
        with pytest.raises(rl.InvalidParameterError) as e:
            build_model(spec.replace(model=bad_model), kind, (1, 8, 8) if kind == "image"
                        else (1, 16), 3)
        assert str(e.value) == ("The 'dropout_kind' parameter of RunSpec must be 'standard', "
                                "'gaussian' or 'dropconnect' here ('dropblock' needs model "
                                "'cnn' on image data). Got 'dropblock' instead.")


def test_plan_runs_knobs_the_stacked_engine_lacks_one_by_one():
    data = tiny("image", n=32)
    specs = [BASE, BASE.replace(seed=1), BASE.replace(elastic_net=1e-3),
             BASE.replace(group_lasso=1e-3), BASE.replace(proximal_group_lasso=1e-3),
             BASE.replace(dropout=0.2, dropout_kind="gaussian"),
             BASE.replace(dropout_kind="dropconnect"),  # no dropout: the kind means nothing
             BASE.replace(patience=0, stop_criterion="gl", seed=2)]
    assert [engine.sequential_only(s) for s in specs] == [
        [], [], ["elastic_net"], ["group_lasso"], ["proximal_group_lasso"], ["dropout_kind"],
        [], []]
    tasks = engine.plan(specs, [data] * len(specs))
    assert [t.indices for t in tasks if t.stacked] == [(0, 1, 6, 7)]
    assert sorted(t.indices for t in tasks if not t.stacked) == [(2,), (3,), (4,), (5,)]


def test_prechelt_criteria_stack_and_match_the_sequential_run(float64):
    data = _as64(tiny("image", n=64, seed=0))
    specs = [BASE.replace(epochs=15, lr=5e-2, patience=0, stop_criterion="gl", stop_alpha=1.0),
             BASE.replace(epochs=15, lr=5e-2, patience=0, stop_criterion="up", stop_strip=2,
                          stop_strips=1),
             BASE.replace(epochs=15, lr=5e-2, patience=3, stop_criterion="pq", stop_alpha=0.5,
                          stop_strip=2)]
    stacked = train_chunk(specs, [data] * len(specs))
    for spec, vec in zip(specs, stacked):
        seq = fit(spec, data)
        _assert_same_run(vec, seq, rtol=1e-9)
    assert "generalization loss GL = 46.59 exceeded alpha = 1" in stacked[0].reason
    assert "validation error rose in 1 successive strips of 2 epochs" in stacked[1].reason


def test_sequential_fit_trains_every_new_knob():
    data = tiny("image", n=48)
    base = BASE.replace(epochs=3)
    for changes in ({"elastic_net": 1e-3, "l1_ratio": 0.3}, {"group_lasso": 1e-3},
                    {"proximal_group_lasso": 0.5}, {"dropout": 0.3, "dropout_kind": "gaussian"},
                    {"dropout": 0.3, "dropout_kind": "dropconnect"},
                    {"model": "cnn", "hidden": (8,), "dropout": 0.1, "dropout_kind": "dropblock"}):
        result = fit(base.replace(**changes), data)
        assert result.status == "done" and len(result.epochs) == 3, changes
    pruned = fit(base.replace(proximal_group_lasso=0.5, optimizer="sgd", lr=0.5), data)
    w, b = pruned.state["1.weight"], pruned.state["1.bias"]
    dead = (w == 0).all(1)
    assert dead.any() and (b[dead] == 0).all()  # a dead neuron's bias is 0 too


def test_example_arms_run_on_request_and_the_default_eight_stay():
    assert arms_mod.ARMS == ("none", "l1", "l2", "dropout", "early_stopping", "augment",
                             "label_smoothing", "all")
    assert not set(arms_mod.EXAMPLES) & set(arms_mod.ARMS)  # examples only on request
    base = RunSpec(data="tiny", epochs=3)
    jobs = make_plan(base, "image", ["none", "elastic_net", "early_stopping_gl"], 1)
    specs = {j.arm: j.spec for j in jobs}
    assert (specs["elastic_net"].elastic_net, specs["elastic_net"].l1_ratio) == (1e-4, 0.5)
    assert (specs["early_stopping_gl"].stop_criterion, specs["early_stopping_gl"].patience) == (
        "gl", 0)
    assert specs["none"].stop_criterion == "patience" and specs["none"].elastic_net == 0.0
    none = specs["none"].to_dict()
    assert arms_mod.settings(specs["elastic_net"].to_dict(), none) == "elastic_net=1e-4"
    assert arms_mod.settings(specs["early_stopping_gl"].to_dict(), none) == "stop_criterion=gl"
    # a strength for the technique replaces the example's: one meaning per key
    jobs = make_plan(base, "image", ["elastic_net"], 1, overrides={"elastic_net": 3e-3})
    assert jobs[0].spec.elastic_net == 3e-3
    # a grid over the group-lasso strength: one arm per value, named after it
    jobs = make_plan(base, "image", ["none"], 1,
                     grids={"group_lasso": [("1e-3", 1e-3), ("1e-2", 1e-2)]})
    assert [(j.arm, j.spec.group_lasso, j.spec.proximal_group_lasso) for j in jobs] == [
        ("none", 0.0, 0.0), ("group_lasso-1e-3", 1e-3, 0.0), ("group_lasso-1e-2", 1e-2, 0.0)]


def test_tune_opt_in_ranges_are_searched_only_when_named():
    assert "elastic_net" not in load_space(None)
    space = load_space({"elastic_net": {}, "stop_criterion": {}, "l1_ratio": {"high": 0.5}})
    assert space["elastic_net"] == Param(1e-6, 1e-2, log=True, optional=True)
    assert space["stop_criterion"] == Param(choices=("patience", "gl", "pq", "up"))
    assert space["l1_ratio"] == Param(0.0, 0.5)


# ------------------------------------------------------------------ strength schedules

LINEAR = {"schedule": "linear", "start": 0, "end": 1e-3}


def test_a_schedule_table_in_toml_round_trips(tmp_path):
    from reglab.lab.spec import load_toml
    path = tmp_path / "run.toml"
    path.write_text('epochs = 4\nl2 = {schedule = "linear", start = 0, end = 1e-3}\n'
                    'dropout = {schedule = "cosine", start = 0.5, end = 0.1, steps = 2}\n')
    spec = RunSpec.from_dict(load_toml(path))
    assert (spec.l2, spec.dropout) == (1e-3, 0.5)  # the largest value: on, and how strong
    assert spec.schedules == {
        "l2": {"schedule": "linear", "start": 0.0, "end": 1e-3, "steps": None, "unit": "epoch"},
        "dropout": {"schedule": "cosine", "start": 0.5, "end": 0.1, "steps": 2,
                    "unit": "epoch"}}
    assert ('schedules = {l2 = {schedule = "linear", start = 0.0, end = 0.001, unit = '
            '"epoch"}, dropout = {schedule = "cosine", start = 0.5, end = 0.1, steps = 2, '
            'unit = "epoch"}}') in spec.to_toml()
    again = tmp_path / "again.toml"
    again.write_text(spec.to_toml())
    assert RunSpec.from_dict(load_toml(again)) == spec
    assert RunSpec.from_dict(__import__("json").loads(spec.to_json())) == spec
    # a number for the strength replaces its schedule; the others stay
    assert set(spec.replace(l2=1e-4).schedules) == {"dropout"}
    assert "schedules" not in RunSpec().to_dict()


@pytest.mark.parametrize("value,message", [
    ({"schedule": "linear", "start": 0, "end": 1.0}, "The 'dropout.end' parameter of RunSpec "
     "must be a float in the range [0, 1). Got 1.0 instead."),
    ({"schedule": "step", "start": 0, "end": 0.5}, "The 'dropout.schedule' parameter of "
     "RunSpec must be one of {'linear', 'cosine'}. Got 'step' instead."),
    ({"schedule": "linear", "start": 0}, "The 'dropout.end' parameter of RunSpec must be a "
     "number (the schedule's value at its start / end). Got None instead."),
    ({"schedule": "linear", "start": 0, "end": 0.5, "unit": "step"}, "The 'dropout.steps' "
     "parameter of RunSpec must be an int >= 1 with unit 'step'. Got None instead."),
    ({"schedule": "linear", "start": 0, "end": 0.5, "stesp": 3}, "The 'dropout.stesp' "
     "parameter of RunSpec must be one of {schedule, start, end, steps, unit}. Got 'stesp' "
     "instead. Did you mean 'steps'?"),
])
def test_bad_schedule_tables_name_the_key(value, message):
    with pytest.raises(rl.InvalidParameterError) as e:
        RunSpec(dropout=value)
    assert str(e.value) == message


def test_only_strengths_take_a_schedule():
    with pytest.raises(rl.InvalidParameterError) as e:
        RunSpec(schedules={"lr": LINEAR})
    assert str(e.value) == ("The 'schedules' parameter of RunSpec must be a table of {l1, l2, "
                            "weight_decay, proximal_l1, elastic_net, group_lasso, "
                            "proximal_group_lasso, dropout} -> schedule. Got 'lr' instead.")
    with pytest.raises(rl.InvalidParameterError) as e:
        RunSpec(lr=LINEAR)
    assert str(e.value).startswith("The 'lr' parameter of RunSpec must be a float in the range "
                                   "(0, inf). Got {'schedule': 'linear'")


def test_scheduled_strengths_reach_penalty_rules_and_dropout_per_epoch():
    from reglab.train.contract import RunState
    from reglab.train.sequential import run_epochs
    spec = RunSpec(optimizer="sgd", epochs=4, hidden=(5,), l2=LINEAR,
                   proximal_l1={"schedule": "linear", "start": 0.4, "end": 0.0, "steps": 2},
                   dropout={"schedule": "linear", "start": 0.0, "end": 0.3})
    model = build_model(spec, "tabular", (3,), 2)
    opt = make_optimizer(spec, model)
    handles = attach_updates(spec, model, opt)
    pen = make_penalty(spec)
    drop = [m for m in model.modules() if isinstance(m, rl.Dropout)][0]
    seen = []

    def train():
        rule = handles[0].rule
        seen.append((pen.value_of(pen.lam), rule.value_of(rule.lam), drop.current_drop()))
        return {"data_loss": torch.tensor(1.0), "penalty": torch.tensor(0.0),
                "train_acc": torch.tensor(0.5)}

    run_epochs(RunState(4, None), model, opt, pen, train,
               lambda: {"val_loss": 1.0, "val_acc": 0.5}, None, handles)
    # epoch e of 4: l2 = 1e-3 * e / 4, proximal_l1 = 0.4 * (1 - e / 2) then 0, drop 0.3 e / 4
    want = [(1e-3 * e / 4, max(0.4 * (1 - e / 2), 0.0), 0.3 * e / 4) for e in range(4)]
    assert seen == [tuple(pytest.approx(x, abs=1e-15) for x in row) for row in want]


def test_scheduled_runs_train_sequentially_and_adamw_takes_no_decay_schedule():
    data = tiny("image", n=32)
    spec = BASE.replace(l2=LINEAR)
    assert engine.sequential_only(spec) == ["schedules"]
    assert [t.stacked for t in engine.plan([spec, spec.replace(seed=1)], [data] * 2)] == [
        False, False]
    assert fit(spec.replace(epochs=2), data).status == "done"
    with pytest.raises(rl.InvalidParameterError) as e:
        make_optimizer(RunSpec(optimizer="adamw", weight_decay=LINEAR), nn.Linear(2, 2))
    assert str(e.value).startswith("The 'weight_decay' parameter of RunSpec must be a number "
                                   "with optimizer 'adamw' (torch's AdamW takes no schedule;")


def test_settings_show_a_schedule_as_a_person_writes_it():
    none = RunSpec().to_dict()
    spec = RunSpec(l2=LINEAR).to_dict()
    assert arms_mod.settings(spec, none) == "schedules=l2 linear 0->1e-3, l2=1e-3"


def test_tune_none_arm_switches_the_new_knobs_off_too():
    from reglab.lab.tune import plain
    spec = RunSpec(elastic_net=1e-3, group_lasso=1e-3, proximal_group_lasso=1e-2,
                   stop_criterion="gl", l2=LINEAR, dropout=0.2, dropout_kind="gaussian")
    off = plain(spec)
    assert (off.elastic_net, off.group_lasso, off.proximal_group_lasso, off.l2, off.dropout,
            off.stop_criterion, off.schedules) == (0.0, 0.0, 0.0, 0.0, 0.0, "patience", {})
    assert make_penalty(off) is None and make_early_stopping(off) is None
