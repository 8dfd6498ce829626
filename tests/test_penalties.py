"""Penalties against float64 brute force: per-parameter loops and autograd of the plain formula."""

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import schedules as S
from reglab.penalties import select


def small_model(seed=0, conv_bias=True):
    """Conv + BatchNorm + LayerNorm + Linear, float64, so every selection case is present.

    A conv bias before BatchNorm has gradient 0 up to rounding, which Adam scales up to full
    steps; trajectory tests leave it out (``conv_bias=False``) so that they compare signal.
    """
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, bias=conv_bias), nn.BatchNorm2d(3), nn.Flatten(),   # (B, 3, 2, 2) -> (B, 12)
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


def weight_bias_pairs(model):
    """(weight, bias or None) of every module with a weight of ndim >= 2: the default groups."""
    return [(m.weight, getattr(m, "bias", None)) for m in model.modules()
            if isinstance(getattr(m, "weight", None), torch.Tensor) and m.weight.ndim >= 2]


def ref_group_bias(model, lam):
    """lam * sum over neurons of sqrt(sum row^2 + b^2): a neuron's weights and its bias."""
    total = 0
    for w, b in weight_bias_pairs(model):
        for i, row in enumerate(w.reshape(w.shape[0], -1)):
            sq = (row ** 2).sum() + (0.0 if b is None else b[i] ** 2)
            total = total + lam * torch.sqrt(sq)
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
    ("L1", lambda: rl.L1(0.3), lambda m: ref_l1(weights(m), 0.3)),
    ("L2", lambda: rl.L2(0.7), lambda m: ref_l2(weights(m), 0.7)),
    ("ElasticNet", lambda: rl.ElasticNet(0.5, l1_ratio=0.2),
     lambda m: ref_enet(weights(m), 0.5, 0.2)),
    ("GroupLasso", lambda: rl.GroupLasso(0.4), lambda m: ref_group_bias(m, 0.4)),
    ("GroupLasso-rows", lambda: rl.GroupLasso(0.4, bias=False),
     lambda m: ref_group(weights(m), 0.4)),
    ("L1+L2+Group", lambda: rl.L1(0.1) + rl.L2(0.2) + rl.GroupLasso(0.3),
     lambda m: ref_l1(weights(m), 0.1) + ref_l2(weights(m), 0.2) + ref_group_bias(m, 0.3)),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_value_and_gradient_match_brute_force(name, make, ref):
    model = small_model()
    pen = make()
    got = grads_of(pen, model)
    want = grads_of(ref, model)
    assert got[0].dim() == 0 and got[0].dtype == torch.float64
    assert_same(got, want)
    assert pen.value(model) == pytest.approx(float(want[0]), rel=1e-12)


def test_gradient_at_exact_zeros_is_the_zero_subgradient():
    model = small_model()
    with torch.no_grad():
        conv, lin = model[0].weight, model[4].weight
        conv[0].zero_()            # a whole zero filter: group lasso subgradient 0
        lin[:, :3] = 0.0           # zero entries: sign(0) = 0 for L1
    pen = rl.L1(0.5) + rl.GroupLasso(0.5, bias=False)
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
    assert rl.GroupLasso(1.0, bias=False).value(conv) == pytest.approx(float(want), rel=1e-14)
    with torch.no_grad():
        conv.bias.copy_(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    # a filter's group is its 18 weights and its bias: sqrt(sum k^2 + b^2)
    want = sum(float((conv.weight[k].detach() ** 2).sum() + (k + 1) ** 2) ** 0.5 for k in range(3))
    assert rl.GroupLasso(1.0).value(conv) == pytest.approx(want, rel=1e-14)


def close(got, want):
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-15, atol=0)


def test_group_lasso_groups_a_neuron_with_its_bias_closed_form():
    lin = nn.Linear(2, 2).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 0.0]], dtype=torch.float64))
        lin.bias.copy_(torch.tensor([4.0, 0.0], dtype=torch.float64))
    pen = rl.GroupLasso(2.0)
    assert pen.value(lin) == 10.0  # 2 * ||(3, 0, 4)|| + 2 * ||(0, 0, 0)||
    pen(lin).backward()
    # d/dw = lam * w / 5 = (1.2, 0); d/db = lam * b / 5 = 1.6; the zero neuron: subgradient 0
    close(lin.weight.grad, [[1.2, 0.0], [0.0, 0.0]])
    close(lin.bias.grad, [1.6, 0.0])
    lin.zero_grad()
    pen.add_grad_(lin)  # the hook path: the same numbers
    close(lin.weight.grad, [[1.2, 0.0], [0.0, 0.0]])
    close(lin.bias.grad, [1.6, 0.0])
    # a selected bias counts once, in its neuron's group
    assert rl.GroupLasso(2.0, params=lambda n, p: True).value(lin) == 10.0
    assert [r["name"] for r in pen.describe(lin)] == ["weight"]
    assert repr(rl.GroupLasso(0.5, bias=False)) == "GroupLasso(lam=0.5, bias=False)"


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
    b = model[6].bias.detach()
    want = 0.1 * float(torch.sqrt(w.pow(2).sum(1) + b ** 2).sum())
    assert rows[6]["value"] == pytest.approx(want, rel=1e-13)
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
     "the range [0, inf) or a schedule within it. Got linear(-1.0, 1.0, steps=3, "
     "unit='step') instead. The schedule reaches -1.0, outside [0, inf)."),
    (lambda: select(nn.Linear(2, 2), 5), f"The 'params' parameter of select must be {PARAMS}. "
     "Got 5 instead."),
    (lambda: rl.L1(0.1).attach("sgd"), "The 'optimizer' parameter of L1.attach must be a "
     "torch.optim.Optimizer. Got 'sgd' instead."),
    (lambda: (rl.L1(0.1) + rl.L2(0.1)).attach(torch.optim.SGD(nn.Linear(2, 2).parameters()),
                                              model=3),
     "The 'model' parameter of Penalty.attach must be None or an nn.Module. Got 3 instead."),
    (lambda: (rl.L2(0.1) + rl.L1(0.1, params=lambda n, p: True)).attach(
        torch.optim.SGD(nn.Linear(2, 2).parameters())), "The 'model' parameter of Penalty.attach "
     "must be an nn.Module when params is a predicate (it names the parameters). Got None "
     "instead."),
]


@pytest.mark.parametrize("build,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_parameters(build, message):
    with pytest.raises(rl.InvalidParameterError) as e:
        build()
    assert str(e.value) == message


# -------------------------------------------------------------- gradient mode: add_grad_, attach


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, 2, 4, 4, generator=g, dtype=torch.float64), torch.arange(6) % 4


def train(model, pen, opt_name, mode, steps=12):
    """Run ``steps`` SGD-momentum or Adam steps with ``pen`` as a loss term or attached."""
    x, y = batch()
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
            "adam": lambda p: torch.optim.Adam(p, lr=0.01)}[opt_name]
    opt = make(model.parameters())
    if mode == "hook":
        pen.attach(opt, model)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        if mode == "loss":
            loss = loss + pen(model)
        loss.backward()
        opt.step()
    return [p.detach() for p in model.parameters()]


GRAD_CASES = CASES + [
    ("scheduled sum", lambda: rl.L1(S.linear(0.0, 0.4, steps=5)) + rl.L2(S.warmup(0.3, steps=3))
     + rl.GroupLasso(S.cosine(0.2, 0.0, steps=8)), None),
    ("mixed selections", lambda: rl.L1(0.2, params=lambda n, p: n.startswith("4."))
     + rl.L1(0.1) + rl.ElasticNet(0.3, l1_ratio=0.5), None),
]


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("name,make,_", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_attached_trajectory_equals_loss_term(name, make, _, opt_name):
    pen_loss, pen_hook = make(), make()
    want = train(small_model(conv_bias=False), pen_loss, opt_name, "loss")
    got = train(small_model(conv_bias=False), pen_hook, opt_name, "hook")
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    counts = lambda pen: [p._step_count for p in getattr(pen, "parts", [pen])]   # noqa: E731
    assert counts(pen_hook) == counts(pen_loss) == [12] * len(counts(pen_loss))
    plain = train(small_model(conv_bias=False), make(), opt_name, "none")
    assert max(float((a - b).abs().max()) for a, b in zip(got, plain)) > 1e-3   # it did act


@pytest.mark.parametrize("name,make,_", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_add_grad_equals_autograd_of_the_loss_term(name, make, _):
    model = small_model()
    want = grads_of(make(), model)[1]                 # None where the penalty does not reach
    model.zero_grad(set_to_none=True)
    pen = make()
    pen.add_grad_(model)
    assert [p.grad is None for p in model.parameters()] == [g is None for g in want]
    for p, g in zip(model.parameters(), want):
        if g is not None:
            torch.testing.assert_close(p.grad, g, rtol=1e-13, atol=1e-15)
    before = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    make().add_grad_(model)                           # adds onto an existing .grad
    for p, b in zip(model.parameters(), before):
        if b is not None:
            torch.testing.assert_close(p.grad, 2 * b, rtol=1e-13, atol=1e-15)


def test_add_grad_at_exact_zeros_and_frozen_params():
    model = small_model()
    with torch.no_grad():
        model[0].weight[0].zero_()                    # a zero filter and zero entries
        model[4].weight[:, :3] = 0.0
    model[6].weight.requires_grad_(False)             # frozen: autograd would give it nothing
    (rl.L1(0.5) + rl.GroupLasso(0.5)).add_grad_(model)
    assert torch.all(model[0].weight.grad[0] == 0) and torch.all(model[4].weight.grad[:, :3] == 0)
    assert model[6].weight.grad is None


def test_unused_weight_gets_a_gradient_in_both_modes():
    def model():
        m = small_model()
        m[6].spare = nn.Linear(3, 3).double()        # never called: its grad stays None
        return m
    pen = lambda: rl.L2(0.4) + rl.L1(0.1)            # noqa: E731
    a, b = model(), model()
    train(a, pen(), "sgd", "loss", steps=3)
    train(b, pen(), "sgd", "hook", steps=3)
    torch.testing.assert_close(a[6].spare.weight, b[6].spare.weight, rtol=1e-13, atol=0)
    assert not torch.equal(a[6].spare.weight, model()[6].spare.weight)


def test_handle_remove_stops_the_hook_and_value_is_for_logging():
    model, x, y = small_model(), *batch()
    pen = rl.L1(0.3) + rl.L2(S.linear(0.1, 0.5, steps=4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    handle = pen.attach(opt, model)
    value = pen.value(model)
    assert value == pytest.approx(float(pen(model).detach()), rel=1e-14)  # (advances once)
    assert pen.value(model) == pen.value(model)       # value() does not advance
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert [p._step_count for p in pen.parts] == [2, 2]
    handle.remove()
    opt.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    want = [p.detach() - 0.1 * p.grad for p in model.parameters()]
    opt.step()                                        # a plain SGD step now
    for p, w in zip(model.parameters(), want):       # the penalty would move them by ~0.03
        torch.testing.assert_close(p.detach(), w, rtol=1e-14, atol=1e-17)
    assert [p._step_count for p in pen.parts] == [2, 2]


def test_attach_without_model_selects_from_the_optimizer():
    pen_a, pen_b = rl.L1(0.2) + rl.L2(0.1), rl.L1(0.2) + rl.L2(0.1)
    a, b = small_model(), small_model()
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1)
    pen_a.attach(opt_a)
    pen_b.attach(opt_b, b)
    x, y = batch()
    for m, opt in [(a, opt_a), (b, opt_b)]:
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    extra = nn.Linear(2, 2).double()
    opt_a.add_param_group({"params": list(extra.parameters())})
    extra.weight.grad = torch.zeros_like(extra.weight)
    before = extra.weight.detach().clone()
    opt_a.step()                                      # the new group is selected too
    torch.testing.assert_close(extra.weight.detach(),
                               before - 0.1 * (0.2 * before.sign() + 0.2 * before))


@pytest.mark.parametrize("name,make,_", CASES, ids=[c[0] for c in CASES])
def test_add_grad_in_cache_sized_chunks_matches(name, make, _, l1_chunks):
    # Large CPU tensors take the chunked L1 path; a 7-element chunk runs it here (with a short
    # last chunk) on small tensors. A transposed weight (not contiguous) takes the fused path.
    chunked = l1_chunks
    model = small_model()
    with torch.no_grad():
        model[6].weight = nn.Parameter(model[6].weight.detach().t().contiguous().t())
    want = grads_of(make(), model)[1]
    model.zero_grad(set_to_none=True)
    make().add_grad_(model)
    for p, g in zip(model.parameters(), want):
        if g is not None:
            torch.testing.assert_close(p.grad, g, rtol=1e-13, atol=1e-15)
    has_l1 = name in ("L1", "ElasticNet", "L1+L2+Group")
    assert [id(w) for w in chunked] == ([id(model[0].weight), id(model[4].weight)] if has_l1
                                        else [])


def test_attached_hook_leaves_a_layer_frozen_between_steps_alone():
    # attach's hook keeps its plan between steps; freezing a layer must still leave it alone,
    # as a loss term would (no gradient, so the optimizer skips it)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rl.L2(0.5).attach(opt)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    for frozen in (False, True):
        if frozen:
            model[0].weight.requires_grad_(False)
        before = model[0].weight.detach().clone()
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        assert torch.equal(model[0].weight, before) == frozen


@pytest.mark.parametrize("make, change, coefs", [
    (lambda: rl.L1(0.5) + rl.L2(0.25), lambda pen: setattr(pen.parts[1], "lam", 0.0),
     [(0.5, 0.25), (0.5, 0.0)]),
    (lambda: rl.ElasticNet(1.0, l1_ratio=0.5), lambda pen: setattr(pen, "l1_ratio", 1.0),
     [(0.5, 0.5), (1.0, 0.0)]),
])
def test_attached_hook_follows_a_strength_changed_between_steps(make, change, coefs):
    # attach's hook keeps its plan while the strengths stay the same; one set anew must be
    # the one the next step uses: grad += a * sign(w) + 2 * b * w with the (a, b) of each step
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    pen = make()
    pen.attach(opt)
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randint(0, 2, (8,))
    for step, (a, b) in enumerate(coefs):
        if step == 1:
            change(pen)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        want = [p.detach() - 0.1 * (p.grad + (a * p.sign() + 2 * b * p if p.ndim >= 2 else 0))
                for p in model.parameters()]
        opt.step()
        for p, w in zip(model.parameters(), want):
            torch.testing.assert_close(p.detach(), w, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("given,shown", [
    (lambda m: torch.zeros(3), "tensor([0., 0., 0.])"),
    (lambda m: torch.zeros(30, 30), "a Tensor of shape (30, 30)"),
    (lambda m: m.parameters(), "a Parameter of shape (8, 4)"),   # parameters(), not named
    (lambda m: 5, "5"),
])
def test_a_penalty_called_on_what_is_not_a_model_says_what_it_takes(given, shown):
    """pen(w) or pen(model.parameters()) (common slips) used to fail inside the selection with
    'iteration over a 0-d tensor' or an unpacking error; the message is one line."""
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    for pen in (rl.L1(1e-3), rl.L2(1e-3)):
        with pytest.raises(rl.InvalidParameterError) as info:
            pen(given(m))
        assert str(info.value) == (
            f"The 'model' parameter of {type(pen).__name__} must be an nn.Module or (name, "
            f"parameter) pairs such as model.named_parameters(). Got {shown} instead.")
    assert float(rl.L1(1e-3)(m.named_parameters())) == float(rl.L1(1e-3)(m))


def test_an_error_about_a_model_stays_one_line():
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(rl.InvalidParameterError) as info:
        rl.L2(1e-3).attach(m)
    assert str(info.value) == ("The 'optimizer' parameter of L2.attach must be a "
                               "torch.optim.Optimizer. Got a Sequential instead.")
