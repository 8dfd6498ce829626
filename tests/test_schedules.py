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
