"""Penalties against float64 brute force: per-parameter loops and autograd of the plain formula."""

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import schedules as S
from reglab.penalties import select


def small_model(seed=0):
    """Conv + BatchNorm + LayerNorm + Linear, float64, so every selection case is present."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(),   # (B, 3, 2, 2) -> (B, 12)
        nn.LayerNorm(12), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 4),
    ).double()


def weights(model):
    return [p for p in model.parameters() if p.ndim >= 2]


# Plain formulas, one parameter at a time: the reference.
def ref_l1(ws, lam):
    return sum(lam * w.abs().sum() for w in ws)


def ref_l2(ws, lam):
    return sum(lam * (w ** 2).sum() for w in ws)


def ref_group(ws, lam):
    total = 0
    for w in ws:
        for row in w.reshape(w.shape[0], -1):
            total = total + lam * torch.sqrt((row ** 2).sum())
    return total


def ref_enet(ws, lam, r):
    return sum(lam * (r * w.abs().sum() + (1 - r) * (w ** 2).sum()) for w in ws)


def grads_of(fn, model):
    """Value and gradients (None for untouched params) of fn(model) by autograd."""
    model.zero_grad(set_to_none=True)
    value = fn(model)
    value.backward()
    return value.detach(), [None if p.grad is None else p.grad.clone() for p in model.parameters()]


def assert_same(got, want):
    (v1, g1), (v2, g2) = got, want
    torch.testing.assert_close(v1, v2, rtol=1e-12, atol=1e-14)
    for a, b in zip(g1, g2):
        if b is None:
            assert a is None or torch.count_nonzero(a) == 0
        else:
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


CASES = [
    ("L1", lambda: rl.L1(0.3), lambda ws: ref_l1(ws, 0.3)),
    ("L2", lambda: rl.L2(0.7), lambda ws: ref_l2(ws, 0.7)),
    ("ElasticNet", lambda: rl.ElasticNet(0.5, l1_ratio=0.2), lambda ws: ref_enet(ws, 0.5, 0.2)),
    ("GroupLasso", lambda: rl.GroupLasso(0.4), lambda ws: ref_group(ws, 0.4)),
    ("L1+L2+Group", lambda: rl.L1(0.1) + rl.L2(0.2) + rl.GroupLasso(0.3),
     lambda ws: ref_l1(ws, 0.1) + ref_l2(ws, 0.2) + ref_group(ws, 0.3)),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_value_and_gradient_match_brute_force(name, make, ref):
    model = small_model()
    pen = make()
    got = grads_of(pen, model)
    want = grads_of(lambda m: ref(weights(m)), model)
    assert got[0].dim() == 0 and got[0].dtype == torch.float64
    assert_same(got, want)
    assert pen.value(model) == pytest.approx(float(want[0]), rel=1e-12)


def test_gradient_at_exact_zeros_is_the_zero_subgradient():
    model = small_model()
    with torch.no_grad():
        conv, lin = model[0].weight, model[4].weight
        conv[0].zero_()            # a whole zero filter: group lasso subgradient 0
        lin[:, :3] = 0.0           # zero entries: sign(0) = 0 for L1
    pen = rl.L1(0.5) + rl.GroupLasso(0.5)
    _, grads = grads_of(pen, model)
    assert torch.all(grads[0][0] == 0) and torch.all(torch.isfinite(grads[0]))
    assert torch.all(grads[6][:, :3] == 0)        # model[4].weight is parameter 6
    want = grads_of(lambda m: ref_l1(weights(m), 0.5), model)[1]
    rows = model[4].weight.detach()
    torch.testing.assert_close(grads[6], want[6] + 0.5 * rows / rows.norm(dim=1, keepdim=True))


def test_backward_twice_with_retain_graph_and_scaled_output():
    model = small_model()
    pen = rl.L1(0.3) + rl.L2(0.2)
    value = pen(model)
    (2.5 * value).backward(retain_graph=True)
    first = model[0].weight.grad.clone()
    value.backward()                                   # signs are recomputed, not reused
    w = model[0].weight.detach()
    want = 0.3 * torch.sign(w) + 0.4 * w
    torch.testing.assert_close(first, 2.5 * want, rtol=1e-13, atol=0)
    torch.testing.assert_close(model[0].weight.grad, 3.5 * want, rtol=1e-13, atol=0)


def test_conv_groups_are_filters():
    conv = nn.Conv2d(2, 3, 3).double()
    with torch.no_grad():
        conv.weight.copy_(torch.arange(54, dtype=torch.float64).reshape(3, 2, 3, 3))
    want = sum(conv.weight[k].detach().norm() for k in range(3))
    assert rl.GroupLasso(1.0).value(conv) == pytest.approx(float(want), rel=1e-14)


def test_default_selection_excludes_biases_and_norm_params():
    model = small_model()
    names = [n for n, _ in select(model)]
    assert names == ["0.weight", "4.weight", "6.weight"]   # not BatchNorm / LayerNorm / biases
    _, grads = grads_of(rl.L1(1.0), model)
    for (n, p), g in zip(model.named_parameters(), grads):
        assert (g is not None) == (n in names), n


def test_selection_by_iterable_and_predicate():
    model = small_model()
    chosen = [model[4].bias, model[0].weight]
    assert [n for n, _ in select(model, chosen)] == ["0.weight", "4.bias"]   # model order
    assert [n for n, _ in select(model, iter(chosen))] == ["0.weight", "4.bias"]
    by_name = select(model, lambda name, p: name.startswith("4."))
    assert [n for n, _ in by_name] == ["4.weight", "4.bias"]
    loose = torch.ones(2, dtype=torch.float64)
    assert select(model, [loose])[0][0] == "params[0]"

    pen = rl.L2(0.3, params=lambda name, p: name.startswith("4."))
    ref = lambda m: 0.3 * ((m[4].weight ** 2).sum() + (m[4].bias ** 2).sum())   # noqa: E731
    assert_same(grads_of(pen, model), grads_of(ref, model))
    gen_pen = rl.L1(0.2, params=(p for p in [model[6].weight]))    # a generator, read once
    assert gen_pen.value(model) == gen_pen.value(model) == pytest.approx(
        0.2 * float(model[6].weight.detach().abs().sum()), rel=1e-13)


def test_sum_with_different_selections_and_shared_params():
    model = small_model()
    pen = rl.L1(0.2, params=[model[4].weight, model[4].bias]) + rl.L1(0.3) + rl.L2(0.1)
    ref = lambda m: (0.2 * (m[4].weight.abs().sum() + m[4].bias.abs().sum())   # noqa: E731
                     + ref_l1(weights(m), 0.3) + ref_l2(weights(m), 0.1))
    assert_same(grads_of(pen, model), grads_of(ref, model))
    assert isinstance(pen, rl.Penalty) and len(pen.parts) == 3
    assert sum([rl.L1(0.2), rl.L2(0.1)]).value(model) == pytest.approx(
        (ref_l1(weights(model), 0.2) + ref_l2(weights(model), 0.1)).item(), rel=1e-13)
    with pytest.raises(TypeError):
        rl.L1(0.1) + 1.0


def test_describe_rows():
    model = small_model()
    pen = rl.ElasticNet(0.5, l1_ratio=0.25) + rl.GroupLasso(0.1, params=[model[6].weight])
    rows = pen.describe(model)
    assert [(r["name"], r["term"]) for r in rows] == [
        ("0.weight", "l1"), ("4.weight", "l1"), ("6.weight", "l1"),
        ("0.weight", "l2"), ("4.weight", "l2"), ("6.weight", "l2"), ("6.weight", "group_lasso")]
    assert rows[0]["shape"] == (3, 2, 3, 3) and rows[0]["lam"] == 0.125
    assert rows[3]["lam"] == 0.375
    w = model[6].weight.detach()
    assert rows[6]["value"] == pytest.approx(0.1 * float(w.norm(dim=1).sum()), rel=1e-13)
    assert sum(r["value"] for r in rows) == pytest.approx(pen.value(model), rel=1e-12)


def test_schedules_change_the_value_as_steps_advance():
    model = small_model()
    with torch.no_grad():
        base, l1 = float(ref_l2(weights(model), 1.0)), float(ref_l1(weights(model), 1.0))
    pen = rl.L2(S.linear(0.0, 1.0, steps=4)) + rl.L1(0.5)
    assert pen.value(model) == pytest.approx(0.5 * l1)
    seen = []
    for _ in range(6):
        assert pen.value(model) == pen.value(model)       # value() does not advance
        seen.append(pen(model).detach().item() - 0.5 * l1)
    assert seen == pytest.approx([base * k for k in (0, 0.25, 0.5, 0.75, 1.0, 1.0)], rel=1e-12)
    with torch.no_grad():
        pen(model)                                        # no grad: not a training step
    assert pen.parts[0]._step_count == 6

    per_epoch = rl.L1(S.step([1.0, 0.0], boundaries=[2], unit="epoch"))
    S.set_epoch(2, per_epoch)
    assert per_epoch.value(model) == 0.0


def test_empty_selection_is_zero():
    model = nn.Linear(3, 1, bias=False).double()
    pen = rl.L1(1.0, params=lambda n, p: False)
    assert float(pen(model)) == 0.0 and pen.describe(model) == []


LAM = "a float in the range [0, inf) or a schedule"
PARAMS = "None, an iterable of tensors or a predicate (name, param) -> bool"
BAD = [
    (lambda: rl.L1(-0.1), f"The 'lam' parameter of L1 must be {LAM}. Got -0.1 instead."),
    (lambda: rl.L2(float("nan")), f"The 'lam' parameter of L2 must be {LAM}. Got nan instead."),
    (lambda: rl.L2("1e-3"), f"The 'lam' parameter of L2 must be {LAM}. Got '1e-3' instead."),
    (lambda: rl.GroupLasso(True),
     f"The 'lam' parameter of GroupLasso must be {LAM}. Got True instead."),
    (lambda: rl.ElasticNet(-1, 0.5), f"The 'lam' parameter of ElasticNet must be {LAM}. "
     "Got -1 instead."),
    (lambda: rl.ElasticNet(0.1, 1.5), "The 'l1_ratio' parameter of ElasticNet must be a float "
     "in the range [0, 1]. Got 1.5 instead."),
    (lambda: rl.ElasticNet(0.1, None), "The 'l1_ratio' parameter of ElasticNet must be a float "
     "in the range [0, 1]. Got None instead."),
    (lambda: rl.L1(0.1, params=3), f"The 'params' parameter of L1 must be {PARAMS}. "
     "Got 3 instead."),
    (lambda: rl.L1(0.1, params=["w"]), f"The 'params' parameter of L1 must be {PARAMS}. "
     "Got 'w' instead."),
    (lambda: rl.L2(0.1, params="weight"), f"The 'params' parameter of L2 must be {PARAMS}. "
     "Got 'weight' instead."),
    (lambda: rl.L1(S.linear(-1.0, 1.0, steps=3)), "The 'lam' parameter of L1 must be a float in "
     "the range [0, inf) or a schedule within it; linear(-1.0, 1.0, steps=3, unit='step') "
     "reaches -1.0. Got nan instead."),
    (lambda: select(nn.Linear(2, 2), 5), f"The 'params' parameter of select must be {PARAMS}. "
     "Got 5 instead."),
]


@pytest.mark.parametrize("build,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_parameters(build, message):
    with pytest.raises(rl.InvalidParameterError) as e:
        build()
    assert str(e.value) == message
