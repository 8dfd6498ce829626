"""Update rules against closed forms and against torch's own optimizers, in float64."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab import schedules as S


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 3)).double()


def data(seed=1, n=32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def train(model, opt, steps, penalty=None, sched=None):
    """Full-batch steps; returns the parameters after each step (the trajectory)."""
    x, y = data()
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if penalty is not None:
            loss = loss + penalty(model)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        traj.append(torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()]))
    return torch.stack(traj)


def soft_threshold(w, t):
    return torch.sign(w) * torch.clamp(w.abs() - t, min=0)


def test_proximal_l1_step_is_the_closed_form_with_exact_zeros():
    w = torch.linspace(-1, 1, 21, dtype=torch.float64).reshape(3, 7)
    want = soft_threshold(w, 0.1 * 3.0)
    rule = rl.ProximalL1(3.0)
    rule.step([w], lr=0.1)
    assert torch.equal(w, want)                        # bit for bit
    assert int((w == 0).sum()) == int((want == 0).sum()) == 7   # |w| <= 0.3: exactly 0


def test_proximal_l1_attached_follows_sgd_then_threshold():
    model, twin = mlp(), mlp()
    x, y = data()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    rl.ProximalL1(0.2).attach(opt)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        twin.zero_grad()
        F.cross_entropy(twin(x), y).backward()
        with torch.no_grad():
            for p in twin.parameters():
                p -= 0.5 * p.grad
                if p.ndim >= 2:                        # default selection: weights only
                    p.copy_(soft_threshold(p, 0.5 * 0.2))
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-15)
    assert (model[0].weight == 0).sum() > 0 and (model[0].bias == 0).sum() == 0


def test_group_prox_zeroes_whole_rows_and_matches_closed_form():
    torch.manual_seed(0)
    w = torch.randn(6, 2, 2, 2, dtype=torch.float64)
    w[1] *= 0.01                                       # a small filter, below the threshold
    w[4] = 0.0                                         # an exact zero row stays 0, no NaN
    rows = w.reshape(6, -1)
    t = 0.05 * 4.0
    want = rows * torch.clamp(1 - t / rows.norm(dim=1, keepdim=True), min=0)
    want[4] = 0.0
    rl.ProximalGroupLasso(4.0).step([w], lr=0.05)
    torch.testing.assert_close(w.reshape(6, -1), want, rtol=1e-15, atol=0)
    assert torch.all(w[1] == 0) and torch.all(w[4] == 0) and torch.all(w[0] != 0)


def test_group_prox_scales_a_neuron_and_its_bias_together_closed_form():
    lin = nn.Linear(2, 3).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 0.0], [0.3, 0.0], [0.0, 0.0]], dtype=torch.float64))
        lin.bias.copy_(torch.tensor([4.0, 0.4, 7.0], dtype=torch.float64))
    opt = torch.optim.SGD(lin.parameters(), lr=0.5)
    rl.ProximalGroupLasso(2.0).attach(opt, lin)  # t = 0.5 * 2 = 1
    for p in lin.parameters():
        p.grad = torch.zeros_like(p)  # only the prox moves the weights
    opt.step()
    # ||(3, 0, 4)|| = 5 -> factor 1 - 1/5 = 0.8; ||(0.3, 0, 0.4)|| = 0.5 < 1 -> the neuron is 0;
    # (0, 0, 7): the bias alone is the group -> factor 1 - 1/7
    w, b = lin.weight.detach(), lin.bias.detach()
    torch.testing.assert_close(w[0], torch.tensor([2.4, 0.0], dtype=torch.float64),
                               rtol=1e-15, atol=0)
    assert b[0] == pytest.approx(3.2, rel=1e-15)
    assert torch.all(w[1] == 0) and b[1] == 0.0  # a pruned neuron outputs exactly 0
    assert b[2] == pytest.approx(6.0, rel=1e-15)
    # rows only: the bias is left alone
    lin2 = nn.Linear(2, 1).double()
    with torch.no_grad():
        lin2.weight.copy_(torch.tensor([[0.3, 0.4]], dtype=torch.float64))
        lin2.bias.fill_(9.0)
    opt2 = torch.optim.SGD(lin2.parameters(), lr=1.0)
    rl.ProximalGroupLasso(1.0, bias=False).attach(opt2, lin2)
    for p in lin2.parameters():
        p.grad = torch.zeros_like(p)
    opt2.step()
    assert torch.all(lin2.weight == 0) and lin2.bias.item() == 9.0


def test_uses_current_lr_after_a_scheduler_changes_it():
    w = nn.Parameter(torch.full((2, 2), 1.0, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    rl.ProximalL1(1.0).attach(opt)
    expected = 1.0
    for lr in (0.1, 0.05, 0.025):
        w.grad = torch.zeros_like(w)                   # only the threshold moves w
        opt.step()
        sched.step()
        expected -= lr * 1.0
        assert torch.allclose(w, torch.full_like(w, expected), rtol=0, atol=1e-15)


def test_handle_remove_stops_the_update():
    w = nn.Parameter(torch.ones(2, 3, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.1)
    handle = rl.DecoupledWeightDecay(1.0).attach(opt)
    w.grad = torch.zeros_like(w)
    opt.step()
    assert torch.allclose(w, torch.full_like(w, 0.9))
    handle.remove()
    opt.step()
    assert torch.allclose(w, torch.full_like(w, 0.9))


def test_sgd_weight_decay_equals_l2_half_as_loss_term():
    model_a, model_b = mlp(), mlp()
    every = lambda n, p: True                          # noqa: E731  SGD decays every param
    a = train(model_a, torch.optim.SGD(model_a.parameters(), lr=0.3, weight_decay=0.1), 8)
    b = train(model_b, torch.optim.SGD(model_b.parameters(), lr=0.3), 8, rl.L2(0.05, params=every))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert (a[-1] - a[0]).abs().max() > 1e-2          # it did move


def test_adam_coupled_l2_differs_from_decoupled_decay():
    model_a, model_b, model_c = mlp(), mlp(), mlp()
    coupled = train(model_a, torch.optim.Adam(model_a.parameters(), lr=0.01), 20, rl.L2(0.5))
    opt_b = torch.optim.Adam(model_b.parameters(), lr=0.01)
    rl.DecoupledWeightDecay(1.0).attach(opt_b)         # same strength: grad of L2(0.5) is 1.0*w
    decoupled = train(model_b, opt_b, 20)
    plain = train(model_c, torch.optim.Adam(model_c.parameters(), lr=0.01), 20)
    gap = (coupled[-1] - decoupled[-1]).abs().max()
    assert gap > 1e-3                                  # Adam rescales the coupled decay
    assert (decoupled[-1] - plain[-1]).abs().max() > 1e-3    # and the decay did act


def test_adam_plus_decoupled_decay_is_adamw():
    model_a, model_b = mlp(), mlp()
    groups = rl.param_groups(model_a, weight_decay=0.05)
    adamw = torch.optim.AdamW(groups, lr=0.01)
    opt_b = torch.optim.Adam(model_b.parameters(), lr=0.01)
    rl.DecoupledWeightDecay(0.05).attach(opt_b)       # default selection = decayed group above
    sched = torch.optim.lr_scheduler.ExponentialLR(opt_b, gamma=0.9)
    a = train(model_a, adamw, 10, sched=torch.optim.lr_scheduler.ExponentialLR(adamw, gamma=0.9))
    b = train(model_b, opt_b, 10, sched=sched)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_sgd_plus_decoupled_decay_is_sgd_weight_decay():
    model_a, model_b = mlp(), mlp()
    a = train(model_a, torch.optim.SGD(rl.param_groups(model_a, 0.1), lr=0.3), 6)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=0.3)
    rl.DecoupledWeightDecay(0.1).attach(opt_b)
    torch.testing.assert_close(a, train(model_b, opt_b, 6), rtol=0, atol=1e-12)


def test_selection_on_attach():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    rl.DecoupledWeightDecay(0.5, params=lambda n, p: n.startswith("3.")).attach(opt, model)
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for (n, p), b in zip(model.named_parameters(), before):
        assert torch.equal(p, b * 0.5 if n.startswith("3.") else b), n

    w = model[0].weight
    opt2 = torch.optim.SGD(model.parameters(), lr=1.0)
    rl.ProximalL1(10.0, params=[w]).attach(opt2)
    opt2.step()
    assert torch.all(w == 0) and torch.all(model[3].weight != 0)


def test_schedule_advances_once_per_optimizer_step():
    w = nn.Parameter(torch.ones(1, 1, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=1.0)
    rule = rl.DecoupledWeightDecay(S.step([0.0, 0.5], boundaries=[2]))
    rule.attach(opt)
    w.grad = torch.zeros_like(w)
    values = []
    for _ in range(4):
        opt.step()
        values.append(w.item())
    assert values == [1.0, 1.0, 0.5, 0.25] and rule._step_count == 4


def test_param_groups():
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[3].weight.requires_grad_(False)
    decay, keep = rl.param_groups(model, 0.01, no_decay=["0."])
    assert decay["weight_decay"] == 0.01 and keep["weight_decay"] == 0.0
    assert [id(p) for p in decay["params"]] == [id(model[1].weight)]
    assert {id(p) for p in keep["params"]} == {id(model[0].weight), id(model[1].bias),
                                               id(model[2].weight), id(model[2].bias),
                                               id(model[3].bias)}
    by_pred = rl.param_groups(model, 0.1, no_decay=lambda n, p: n == "1.weight")
    assert by_pred[0]["params"] == [model[0].weight]
    torch.optim.AdamW(rl.param_groups(model, 0.1), lr=1e-3)    # usable as is


WLAM = "a float in the range [0, inf) or a schedule"
BAD = [
    (lambda: rl.ProximalL1(-1.0), f"The 'lam' parameter of ProximalL1 must be {WLAM}. "
     "Got -1.0 instead."),
    (lambda: rl.ProximalGroupLasso(None), f"The 'lam' parameter of ProximalGroupLasso must be "
     f"{WLAM}. Got None instead."),
    (lambda: rl.DecoupledWeightDecay(float("inf")), f"The 'lam' parameter of DecoupledWeightDecay "
     f"must be {WLAM}. Got inf instead."),
    (lambda: rl.ProximalL1(0.1, params=1.0), "The 'params' parameter of ProximalL1 must be None, "
     "an iterable of tensors or a predicate (name, param) -> bool. Got 1.0 instead."),
    (lambda: rl.ProximalL1(0.1).attach("sgd"), "The 'optimizer' parameter of ProximalL1.attach "
     "must be a torch.optim.Optimizer. Got 'sgd' instead."),
    (lambda: rl.ProximalL1(0.1).attach(torch.optim.SGD(mlp().parameters()), model=3),
     "The 'model' parameter of ProximalL1.attach must be None or an nn.Module. Got 3 instead."),
    (lambda: rl.DecoupledWeightDecay(0.1, params=lambda n, p: True).attach(
        torch.optim.SGD(mlp().parameters())),
     "The 'model' parameter of DecoupledWeightDecay.attach must be an nn.Module when params is "
     "a predicate (it names the parameters). Got None instead."),
    (lambda: rl.ProximalL1(0.1).step([torch.ones(2)], lr=-0.1), "The 'lr' parameter of "
     "ProximalL1.step must be a float in the range [0, inf). Got -0.1 instead."),
    (lambda: rl.ProximalL1(0.1).step(None, lr=0.1), "The 'params' parameter of ProximalL1.step "
     "must be an iterable of tensors. Got None instead."),
    (lambda: rl.param_groups(mlp(), -0.1), "The 'weight_decay' parameter of param_groups must "
     "be a float in the range [0, inf). Got -0.1 instead."),
    (lambda: rl.param_groups("model", 0.1), "The 'model' parameter of param_groups must be an "
     "nn.Module. Got 'model' instead."),
    (lambda: rl.param_groups(mlp(), 0.1, no_decay=[1]), "The 'no_decay' parameter of "
     "param_groups must be None, a string, an iterable of strings or a predicate "
     "(name, param) -> bool. Got 1 instead."),
]


@pytest.mark.parametrize("build,message", BAD, ids=[m[:50] for _, m in BAD])
def test_bad_parameters(build, message):
    with pytest.raises(rl.InvalidParameterError) as e:
        build()
    assert str(e.value) == message


def test_decoupled_decay_on_an_optimizer_that_decays_too_warns_once_and_names_the_groups():
    """AdamW's default weight_decay is 0.01: attaching the rule to it decays twice, silently,
    unless told; an optimizer without its own decay gets no warning."""
    import warnings

    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    with pytest.warns(UserWarning) as record:
        rl.DecoupledWeightDecay(0.1).attach(torch.optim.AdamW(m.parameters()))
    assert [str(w.message) for w in record] == [
        "DecoupledWeightDecay: the AdamW it is attached to decays too, param group 0 "
        "(weight_decay=0.01); the two add up. Give the optimizer weight_decay=0 (AdamW's "
        "default is 0.01) or let it decay alone."]
    with pytest.warns(UserWarning, match=r"the SGD it is attached to decays too, param group 0 "
                                         r"\(weight_decay=0\.001\); "):
        rl.DecoupledWeightDecay(0.1).attach(torch.optim.SGD(rl.param_groups(m, 1e-3), lr=0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rl.DecoupledWeightDecay(0.1).attach(torch.optim.Adam(m.parameters()))
        rl.DecoupledWeightDecay(0.1).attach(torch.optim.AdamW(m.parameters(), weight_decay=0))
