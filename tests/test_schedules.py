import math

import pytest

import reglab as rl
from reglab import schedules as S


def test_constant_linear_cosine_closed_forms():
    assert S.constant(0.3)(0) == S.constant(0.3)(10**6) == 0.3
    lin = S.linear(1.0, 0.0, steps=4)
    assert [lin(t) for t in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    cos = S.cosine(1.0, 0.0, steps=10)
    for t in range(12):
        expected = 0.5 * (1 + math.cos(math.pi * min(t / 10, 1)))
        assert cos(t) == pytest.approx(expected, abs=1e-15)


def test_step_and_warmup():
    st = S.step([1.0, 0.1, 0.01], boundaries=[3, 6])
    assert [st(t) for t in (0, 2, 3, 5, 6, 100)] == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    w = S.warmup(2.0, steps=4)
    assert [w(t) for t in range(6)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    wc = S.warmup(S.linear(1.0, 3.0, steps=2, unit="epoch"), steps=2)
    assert wc.unit == "epoch" and wc(1) == 2.0 * 0.5 and wc(5) == 3.0


def test_bad_schedules():
    with pytest.raises(rl.InvalidParameterError, match="'steps' parameter of linear"):
        S.linear(0, 1, steps=0)
    with pytest.raises(rl.InvalidParameterError, match="'unit' parameter of Schedule"):
        S.constant(1.0, unit="batch")
    with pytest.raises(rl.InvalidParameterError, match="len\\(boundaries\\) \\+ 1 = 2"):
        S.step([1.0], boundaries=[3])
    with pytest.raises(rl.InvalidParameterError, match="strictly increasing"):
        S.step([1.0, 2.0, 3.0], boundaries=[3, 3])


def test_check_strength_checks_the_whole_range_of_a_schedule():
    assert S.check_strength("L1", "lam", 0.1, 0) == 0.1
    sched = S.linear(0.0, 0.5, steps=10)
    assert S.check_strength("Dropout", "drop", sched, 0, 1, high_open=True) is sched
    with pytest.raises(rl.InvalidParameterError, match=r"'drop' parameter of Dropout .* reaches 1\.0"):
        S.check_strength("Dropout", "drop", S.linear(0.0, 1.0, steps=10), 0, 1, high_open=True)
    with pytest.raises(rl.InvalidParameterError, match=r"or a schedule\. Got -1 instead"):
        S.check_strength("L1", "lam", -1, 0)


def test_scheduled_counters_and_set_epoch():
    class Thing(S.Scheduled):
        pass

    a, b = Thing(), Thing()
    per_step, per_epoch = S.linear(0, 10, steps=10), S.linear(0, 10, steps=10, unit="epoch")
    a.advance(3)
    S.set_epoch(5, a, b)
    assert a.value_of(per_step) == 3.0 and a.value_of(per_epoch) == 5.0
    assert b.value_of(per_step) == 0.0 and b.value_of(0.25) == 0.25


def test_penalty_and_update_rule_counters_round_trip_through_state_dict():
    import torch
    from torch import nn
    model = nn.Linear(3, 2, bias=False)
    pen = rl.L1(S.linear(0.0, 1.0, steps=4)) + rl.L2(S.linear(0.0, 1.0, steps=2, unit="epoch"))
    for _ in range(3):
        pen(model)  # grad enabled: one step each
    S.set_epoch(1, pen)
    state = pen.state_dict()
    assert state == {"step": 3, "epoch": 1, "parts": [{"step": 3, "epoch": 1},
                                                      {"step": 3, "epoch": 1}]}
    fresh = rl.L1(S.linear(0.0, 1.0, steps=4)) + rl.L2(S.linear(0.0, 1.0, steps=2, unit="epoch"))
    fresh.load_state_dict(state)
    w = model.weight.detach()
    # L1 at step 3: 0.75 sum|w|; L2 at epoch 1: 0.5 sum w^2 -- the values they had when saved
    want = 0.75 * float(w.abs().sum()) + 0.5 * float(w.pow(2).sum())
    assert fresh.value(model) == pytest.approx(want, rel=1e-6)  # float32 sums
    assert fresh.value(model) == pen.value(model)

    rule = rl.ProximalL1(S.linear(0.0, 1.0, steps=10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rule.attach(opt)
    for _ in range(2):
        opt.step()
    assert rule.state_dict() == {"step": 2, "epoch": 0}
    other = rl.ProximalL1(S.linear(0.0, 1.0, steps=10))
    other.load_state_dict(rule.state_dict())
    assert other.value_of(other.lam) == 0.2


def test_dropout_counters_are_kept_out_of_the_model_state_dict():
    import torch
    from torch import nn
    from safetensors.torch import load, save
    model = nn.Sequential(nn.Linear(4, 4), rl.Dropout(drop=S.linear(0.0, 0.5, steps=10)))
    model.train()
    for _ in range(4):
        model(torch.ones(2, 4))
    states = S.module_states(model)
    assert states == {"1": {"step": 4, "epoch": 0}}
    assert set(model.state_dict()) == {"0.weight", "0.bias"}  # tensors only
    load(save(model.state_dict()))  # safetensors accepts it
    twin = nn.Sequential(nn.Linear(4, 4), rl.Dropout(drop=S.linear(0.0, 0.5, steps=10)))
    S.load_module_states(twin, states)
    assert twin[1].current_drop() == 0.2
    with pytest.raises(rl.InvalidParameterError) as e:
        S.load_module_states(twin, {"2": {"step": 1, "epoch": 0}})
    assert str(e.value) == ("The 'states' parameter of load_module_states must be a dict from "
                            "module_states() with the keys ['1']. Got {'2': {'step': 1, "
                            "'epoch': 0}} instead.")
    with pytest.raises(rl.InvalidParameterError) as e:
        twin[1].load_schedule_state({"step": -1, "epoch": 0})
    assert str(e.value) == ("The 'step' parameter of Dropout.load_schedule_state must be an int "
                            "in the range [0, inf). Got -1 instead.")
