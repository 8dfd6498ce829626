"""The training knobs of issue 13: lr schedules, label smoothing, split_seed.

References: closed forms of the schedule factor; torch's own ``label_smoothing`` for one-hot
targets; a hand-made Adam loop for the per-step lr; the data split of ``reglab.data.load``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lab_tiny import tiny
from reglab import kernels
from reglab._validation import InvalidParameterError
from reglab.lab import execute
from reglab.lab.spec import RunSpec
from reglab.schedules import lr_factor
from reglab.train.sequential import fit, lr_at, steps_per_epoch


def test_constant_without_warmup_is_exactly_one():
    f = lr_factor("constant", 0.0, 100)
    assert all(f(t) == 1.0 for t in range(100))
    spec = RunSpec(lr=3e-3, epochs=4, batch_size=10)
    assert lr_at(spec, steps_per_epoch(spec, 95))(37) == 3e-3  # ceil(95 / 10) = 10 steps


def test_cosine_with_warmup_closed_form():
    f = lr_factor("cosine", 0.1, 100)  # 10 warmup steps, then 90 cosine steps
    assert [f(t) for t in range(10)] == pytest.approx([(t + 1) / 10 for t in range(10)])
    for t in (10, 30, 55, 99):
        assert f(t) == pytest.approx(0.5 * (1 + math.cos(math.pi * (t - 10) / 90)), abs=1e-15)
    assert f(10) == 1.0


def test_step_schedule_drops_tenfold_at_half_and_three_quarters():
    f = lr_factor("step", 0.0, 40)
    assert [f(t) for t in (0, 19, 20, 29, 30, 39)] == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]


def test_a_one_step_run_and_a_large_warmup_stay_defined():
    assert lr_factor("cosine", 0.5, 1)(0) == 1.0
    f = lr_factor("step", 0.9, 3)  # 2 warmup steps, 1 main step
    assert [f(t) for t in range(3)] == pytest.approx([0.5, 1.0, 1.0])


def test_the_loop_uses_the_scheduled_lr_at_every_step():
    data = tiny("tabular", n=40, seed=0)
    spec = RunSpec(data="tiny", hidden=(6,), optimizer="sgd", lr=0.05, epochs=3,
                   batch_size=16, lr_schedule="cosine", warmup=0.25)
    result = fit(spec, data)
    lr = lr_at(spec, 3)  # 40 rows / 16 = 3 steps per epoch, 9 in all
    assert [r["lr"] for r in result.epochs] == [lr(2), lr(5), lr(8)]
    # reference: the same SGD with the lr set by hand before each step
    from reglab.train.models import build_model
    torch.manual_seed(spec.seed)
    model = build_model(spec, data.kind, tuple(data.input_shape), data.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=0.9)
    gen = torch.Generator().manual_seed(spec.seed)
    t = 0
    for _ in range(3):
        for idx in torch.randperm(40, generator=gen).split(16):
            for g in opt.param_groups:
                g["lr"] = lr(t)
            t += 1
            opt.zero_grad()
            F.cross_entropy(model(data.train.X[idx]), data.train.y[idx]).backward()
            opt.step()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(result.state[k], v, rtol=1e-6, atol=1e-7)


def test_a_cosine_schedule_changes_the_run():
    data = tiny("image", n=64, seed=0)
    spec = RunSpec(data="tiny", hidden=(12,), epochs=3, batch_size=16)
    const = fit(spec, data)
    cos = fit(spec.replace(lr_schedule="cosine", warmup=0.1), data)
    assert const.status == cos.status == "done"
    assert cos.final["val_loss"] != const.final["val_loss"]  # the schedule did something


def test_smoothed_one_hot_targets_equal_torchs_label_smoothing():
    torch.manual_seed(0)
    logits = torch.randn(7, 5, dtype=torch.float64)
    y = torch.randint(5, (7,))
    for eps in (0.0, 0.1, 0.37):
        soft = kernels.smooth_targets(F.one_hot(y, 5).double(), eps, 5)
        assert torch.allclose(soft.sum(1), torch.ones(7, dtype=torch.float64))
        ref = F.cross_entropy(logits, y, label_smoothing=eps)
        torch.testing.assert_close(kernels.cross_entropy(logits, soft), ref, rtol=1e-12, atol=0)
        torch.testing.assert_close(kernels.cross_entropy(logits, y, eps), ref, rtol=0, atol=0)
        torch.testing.assert_close(kernels.cross_entropy(logits, F.one_hot(y, 5).double(), eps),
                                   ref, rtol=1e-12, atol=0)


def test_smoothing_a_mixed_target_smooths_the_mixture():
    t = torch.tensor([[0.7, 0.3, 0.0, 0.0]])
    out = kernels.smooth_targets(t, 0.2, 4)
    torch.testing.assert_close(out, torch.tensor([[0.61, 0.29, 0.05, 0.05]]))


def test_label_smoothing_changes_the_training_loss_not_the_validation_loss_formula():
    data = tiny("image", n=64, seed=0)
    spec = RunSpec(data="tiny", hidden=(12,), epochs=2, batch_size=16)
    plain, smooth = fit(spec, data), fit(spec.replace(label_smoothing=0.3), data)
    assert smooth.epochs[0]["data_loss"] > plain.epochs[0]["data_loss"]  # a smoothed target
    from reglab.train.sequential import evaluate
    from reglab.train.models import build_model
    model = build_model(spec, data.kind, tuple(data.input_shape), data.num_classes)
    model.load_state_dict(smooth.state)
    assert evaluate(model, data.val.X, data.val.y)[0] == pytest.approx(
        smooth.final["val_loss"], rel=1e-12)  # plain cross-entropy


def test_bad_knob_values_name_the_key():
    with pytest.raises(InvalidParameterError, match=r"The 'lr_schedule' parameter of RunSpec "
                       r"must be one of .*'constant'.*Got 'linear' instead"):
        RunSpec(lr_schedule="linear")
    with pytest.raises(InvalidParameterError, match=r"'warmup' parameter of RunSpec must be a "
                       r"float in the range \[0, 1\)\. Got 1\.0 instead"):
        RunSpec(warmup=1.0)
    with pytest.raises(InvalidParameterError, match=r"'label_smoothing' parameter"):
        RunSpec(label_smoothing=-0.1)
    with pytest.raises(InvalidParameterError, match=r"'split_seed' parameter"):
        RunSpec(split_seed=-1)


def test_split_seed_fixes_the_split_apart_from_the_seed():
    assert RunSpec(seed=3).data_seed == 3
    assert RunSpec(seed=3, split_seed=7).data_seed == 7
    # specs stored before these keys existed read back as the same configuration
    old = RunSpec(seed=3).to_dict()
    assert not {"split_seed", "lr_schedule", "warmup", "label_smoothing"} & set(old)
    assert RunSpec.from_dict(old) == RunSpec(seed=3)
    new = RunSpec(lr_schedule="cosine", warmup=0.1, label_smoothing=0.1).to_dict()
    assert (new["lr_schedule"], new["warmup"], new["label_smoothing"]) == ("cosine", 0.1, 0.1)
    a = execute.load_data(RunSpec(data="breast_cancer", seed=0, split_seed=5))
    b = execute.load_data(RunSpec(data="breast_cancer", seed=5))
    c = execute.load_data(RunSpec(data="breast_cancer", seed=5, split_seed=0))
    assert a is b  # the cache keys on the split seed
    assert torch.equal(a.test.X, b.test.X) and not torch.equal(a.test.X, c.test.X)
    assert RunSpec.from_dict(RunSpec(split_seed=4).to_dict()).split_seed == 4
