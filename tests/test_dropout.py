"""Dropout family: statistics against closed forms (seeded, tolerances of 5 standard errors),
exact invariants (whole channels / samples / blocks), autograd, MC dropout, exact error text."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab import dropout as D
from reglab import schedules as S

Z = 5.0  # tolerances are Z standard errors; every test is seeded, so none is flaky


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def positive(*shape, seed=0):
    # Strictly positive input: an output is zero exactly where the mask is zero.
    return torch.rand(*shape, generator=gen(seed)) + 0.5


# ----------------------------------------------------------------------------- plain dropout

@pytest.mark.parametrize("use_generator", [False, True], ids=["fused", "generator"])
@pytest.mark.parametrize("drop", [0.1, 0.5, 0.9])
def test_zero_fraction_and_mean_match_binomial(drop, use_generator):
    torch.manual_seed(0)
    n, keep = 200_000, 1 - drop
    y = D.dropout(torch.ones(n), drop, generator=gen(1) if use_generator else None)
    se = math.sqrt(drop * keep / n)  # binomial standard error of a fraction
    assert abs((y == 0).float().mean().item() - drop) < Z * se
    assert abs(y.double().mean().item() - 1.0) < Z * se / keep  # y = kept / keep
    assert torch.unique(y).tolist() == pytest.approx([0.0, 1 / keep])


@pytest.mark.parametrize("use_generator", [False, True], ids=["fused", "generator"])
def test_expectation_preserved_per_element(use_generator):
    torch.manual_seed(0)
    drop, samples = 0.3, 4000
    x = torch.randn(64, generator=gen(2))
    g = gen(3) if use_generator else None
    mean = torch.stack([D.dropout(x, drop, generator=g) for _ in range(samples)]).double().mean(0)
    # Var(y_i) = x_i^2 * drop / keep for inverted dropout.
    se = x.double().abs() * math.sqrt(drop / (1 - drop)) / math.sqrt(samples)
    assert ((mean - x.double()).abs() <= Z * se + 1e-12).all()


def test_eval_and_drop_zero_are_identity():
    x = torch.randn(3, 4)
    layer = rl.Dropout(drop=0.5).eval()
    assert layer(x) is x
    assert rl.Dropout(drop=0.0).train()(x) is x
    assert D.dropout(x, 0.5, training=False) is x and D.dropout(x, 0.0) is x


def test_keep_is_one_minus_drop():
    x = torch.randn(1000)
    a, b = rl.Dropout(keep=0.8), rl.Dropout(drop=0.2)
    torch.manual_seed(7)
    ya = a(x)
    torch.manual_seed(7)
    assert torch.equal(ya, b(x))
    ga, gb = rl.Dropout(keep=0.8, generator=gen(5)), rl.Dropout(drop=0.2, generator=gen(5))
    assert torch.equal(ga(x), gb(x))
    assert repr(a) == repr(b) == "Dropout(drop=0.2, keep=0.8)"


@pytest.mark.parametrize("use_generator", [False, True], ids=["fused", "generator"])
def test_gradient_is_mask_over_keep(use_generator):
    drop, keep = 0.25, 0.75
    x = positive(500).requires_grad_()
    torch.manual_seed(0)
    y = D.dropout(x, drop, generator=gen(1) if use_generator else None)
    y.sum().backward()
    kept = (y != 0).float()
    assert torch.equal(x.grad, kept / keep)  # dy/dx = m / keep, exactly
    assert torch.equal(y, x.detach() * x.grad)


def test_generator_reproducible_and_global_rng_untouched():
    x, xs = torch.randn(100), torch.randn(4, 8, 6, 6)
    state = torch.get_rng_state()
    for fn in (D.dropout, D.drop_path, D.gaussian_dropout):
        assert torch.equal(fn(x, 0.5, generator=gen(4)), fn(x, 0.5, generator=gen(4)))
        assert not torch.equal(fn(x, 0.5, generator=gen(4)), fn(x, 0.5, generator=gen(5)))
    assert torch.equal(D.spatial_dropout(xs, 0.5, generator=gen(4)),
                       D.spatial_dropout(xs, 0.5, generator=gen(4)))
    assert torch.equal(D.drop_block2d(xs, 0.3, 3, generator=gen(4)),
                       D.drop_block2d(xs, 0.3, 3, generator=gen(4)))
    assert torch.equal(torch.get_rng_state(), state)


# ----------------------------------------------------------------------------- structured drops

@pytest.mark.parametrize("use_generator", [False, True], ids=["fused", "generator"])
@pytest.mark.parametrize("shape", [(16, 32, 20), (16, 32, 5, 5), (8, 16, 2, 3, 3)],
                         ids=["NCL", "NCHW", "NCDHW"])
def test_spatial_dropout_zeros_whole_channels(shape, use_generator):
    torch.manual_seed(0)
    drop, keep = 0.4, 0.6
    x = positive(*shape)
    y = D.spatial_dropout(x, drop, generator=gen(1) if use_generator else None)
    flat_x, flat_y = x.flatten(2), y.flatten(2)  # (N, C, units)
    dropped = (flat_y == 0).all(dim=2)
    kept_ok = torch.isclose(flat_y, flat_x / keep, rtol=1e-6, atol=0).all(dim=2)
    assert (dropped | kept_ok).all() and not (dropped & kept_ok).any()
    n = dropped.numel()
    assert abs(dropped.float().mean().item() - drop) < Z * math.sqrt(drop * keep / n)


def test_spatial_dropout_module_and_shape_error():
    layer = rl.SpatialDropout(drop=0.5)
    x = torch.randn(2, 3, 4, 4)
    assert layer.eval()(x) is x
    with pytest.raises(rl.InvalidParameterError, match=r"^The 'x' parameter of spatial_dropout "
                       r"must be a tensor of shape \(N, C, L\), \(N, C, H, W\) or \(N, C, D, H, "
                       r"W\)\. Got a tensor of shape \(2, 3\) instead\.$"):
        layer.train()(torch.randn(2, 3))


def test_drop_path_zeros_whole_samples():
    drop, keep, n = 0.3, 0.7, 4000
    x = positive(n, 3, 4)
    y = rl.DropPath(drop=drop, generator=gen(1))(x)
    dropped = (y == 0).flatten(1).all(dim=1)
    kept_ok = (y.flatten(1) == (x * (1 / keep)).flatten(1)).all(dim=1)
    assert (dropped | kept_ok).all()
    assert abs(dropped.float().mean().item() - drop) < Z * math.sqrt(drop * keep / n)
    assert D.drop_path(x, drop, training=False) is x


def test_drop_connect_drops_weights_not_activations():
    torch.manual_seed(0)
    lin = nn.Linear(64, 32)
    with torch.no_grad():
        lin.weight.uniform_(0.1, 1.0)
    layer = rl.DropConnect(lin, drop=0.5, generator=gen(3))
    x = positive(10, 64)
    y = layer(x)
    # Reference: the same mask drawn from the same generator, applied to the weights.
    scaled_mask = D.dropout(torch.ones_like(lin.weight), 0.5, generator=gen(3))
    expected = F.linear(x, lin.weight * scaled_mask, lin.bias)
    assert torch.allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert (y > 0).all()  # activations are not zeroed: every output still sums kept weights
    zero_frac = (scaled_mask == 0).float().mean().item()
    assert abs(zero_frac - 0.5) < Z * math.sqrt(0.25 / scaled_mask.numel())
    # Gradient flows to the weights through the mask with the 1/keep scaling.
    y.sum().backward()
    assert torch.allclose(lin.weight.grad, scaled_mask * x.sum(0), rtol=1e-6)
    layer.eval()
    assert torch.equal(layer(x), lin(x))


def _corner_counts(size, k):
    # How many block corners c in [0, size - k] have c <= i <= c + k - 1, per position i.
    return [sum(1 for c in range(size - k + 1) if c <= i <= c + k - 1) for i in range(size)]


def test_drop_block_zeros_contiguous_blocks():
    k, x = 3, positive(2, 2, 10, 10)
    y = D.drop_block2d(x, 0.3, block_size=k, generator=gen(1))
    assert 0 < (y == 0).sum() < y.numel() / 2
    zero = (y == 0).tolist()
    for n in range(2):
        for c in range(2):
            z = zero[n][c]

            def in_zero_block(i, j):
                return any(all(z[a][b] for a in range(r, r + k) for b in range(s, s + k))
                           for r in range(max(0, i - k + 1), min(i, 10 - k) + 1)
                           for s in range(max(0, j - k + 1), min(j, 10 - k) + 1))

            assert all(in_zero_block(i, j) for i in range(10) for j in range(10) if z[i][j])


def test_drop_block_zero_fraction_matches_exact_reference():
    drop, k, h, w = 0.2, 3, 12, 9
    gamma = drop / k**2 * h * w / ((h - k + 1) * (w - k + 1))
    ci, cj = _corner_counts(h, k), _corner_counts(w, k)
    # A unit survives iff none of the corners whose block covers it fires.
    expected = sum(1 - (1 - gamma) ** (a * b) for a in ci for b in cj) / (h * w)
    y = D.drop_block2d(torch.ones(200, 10, h, w), drop, k, generator=gen(2))
    per_map = (y == 0).flatten(2).float().mean(2).flatten()  # independent feature maps
    se = per_map.std().item() / math.sqrt(per_map.numel())
    assert abs(per_map.mean().item() - expected) < Z * se
    assert expected < drop  # overlapping blocks: the realised rate is below the target


def test_drop_block_rescales_by_count_of_kept_units():
    x = positive(4, 3, 8, 8)
    y = D.drop_block2d(x, 0.25, block_size=2, generator=gen(1))
    kept = y != 0
    scale = x.numel() / kept.sum().item()
    assert torch.allclose(y[kept], x[kept] * scale, rtol=1e-6)
    ones = torch.ones(4, 3, 8, 8)
    out = D.drop_block2d(ones, 0.25, block_size=2, generator=gen(1))
    assert out.sum().item() == pytest.approx(ones.numel(), rel=1e-6)  # mean activation kept
    assert D.drop_block2d(x, 0.25, training=False) is x


def test_drop_block_large_block_is_clipped_to_map():
    y = D.drop_block2d(torch.ones(500, 1, 4, 4), 0.5, block_size=7, generator=gen(0))
    per_map = (y == 0).flatten(1).all(dim=1)  # k = 4 covers the map: all or nothing
    assert ((y == 0).flatten(1).any(dim=1) == per_map).all()
    assert abs(per_map.float().mean().item() - 0.5) < Z * math.sqrt(0.25 / 500)


def test_gaussian_dropout_moments():
    drop, n = 0.2, 400_000
    y = rl.GaussianDropout(drop=drop, generator=gen(0))(torch.ones(n)).double()
    var = drop / (1 - drop)  # 0.25
    assert abs(y.mean().item() - 1) < Z * math.sqrt(var / n)
    assert abs(y.var().item() - var) < Z * var * math.sqrt(2 / (n - 1))  # normal: Var(s^2)
    x = torch.randn(5)
    assert rl.GaussianDropout(drop=drop).eval()(x) is x


@pytest.mark.parametrize("make", [
    lambda: rl.Dropout(drop=0.5), lambda: rl.SpatialDropout(drop=0.5),
    lambda: rl.DropPath(drop=0.5), lambda: rl.DropBlock2d(drop=0.5, block_size=2),
    lambda: rl.GaussianDropout(drop=0.5)], ids=lambda f: "")
def test_every_layer_is_identity_in_eval(make):
    x = torch.randn(2, 3, 4, 4)
    assert make().eval()(x) is x


# ----------------------------------------------------------------------------- schedules

def test_schedule_drives_drop_rate_per_training_forward():
    layer = rl.Dropout(drop=S.linear(0.0, 0.5, steps=4), generator=gen(0))
    n = 100_000
    seen = []
    for _ in range(6):
        seen.append((layer(torch.ones(n)) == 0).float().mean().item())
        layer.eval()(torch.ones(3))  # eval forwards do not count
        layer.train()
    for frac, target in zip(seen, [0.0, 0.125, 0.25, 0.375, 0.5, 0.5]):
        assert abs(frac - target) < Z * math.sqrt(0.25 / n)
    assert layer._step_count == 6 and layer.current_drop() == 0.5


def test_keep_schedule_and_epoch_schedule():
    a = rl.Dropout(keep=S.linear(1.0, 0.5, steps=4), generator=gen(1))
    b = rl.Dropout(drop=S.linear(0.0, 0.5, steps=4), generator=gen(1))
    x = torch.randn(1000)
    for _ in range(5):
        assert torch.equal(a(x), b(x))
    net = nn.Sequential(nn.Linear(2, 2), rl.DropPath(drop=S.step([0.0, 0.3], [2], unit="epoch")))
    S.set_epoch(3, net)
    assert net[1].current_drop() == 0.3
    assert repr(net[1]) == "DropPath(drop=step([0.0, 0.3], [2], unit='epoch'), keep=1 - drop)"


# ----------------------------------------------------------------------------- MC dropout

def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(),
                         rl.Dropout(drop=S.linear(0.2, 0.5, steps=10)), nn.Linear(16, 16),
                         nn.Dropout(0.3), nn.Linear(16, 4))


def test_mc_predict_matches_manual_loop_and_keeps_batchnorm_in_eval():
    net, x = _net(), torch.randn(5, 6)
    net.train()
    net[1].running_mean.add_(0.1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(11)
    mean, std, entropy = rl.mc_predict(net, x, samples=20)
    assert entropy is None and not mean.requires_grad
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # BN untouched
    assert all(m.training for m in net.modules())  # modes restored
    assert net[3]._step_count == 0  # MC passes are not training steps
    # Reference: the same passes by hand (BN in eval, only dropouts in train), same seed.
    net.eval()
    net[3].train()
    net[5].train()
    torch.manual_seed(11)
    with torch.no_grad():
        outs = torch.stack([net(x) for _ in range(20)])
    assert torch.allclose(mean, outs.mean(0), atol=1e-6)
    assert torch.allclose(std, (outs - outs.mean(0)).pow(2).mean(0).sqrt(), atol=1e-6)
    assert (std > 0).all()


def test_mc_predict_softmax_entropy_and_generator():
    net, x = _net().eval(), torch.randn(5, 6)
    state = torch.get_rng_state()
    p1 = rl.mc_predict(net, x, samples=15, generator=gen(3), softmax=True)
    p2 = rl.mc_predict(net, x, samples=15, generator=gen(3), softmax=True)
    assert torch.equal(torch.get_rng_state(), state)  # global RNG left as it was
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))
    assert torch.allclose(p1.mean.sum(1), torch.ones(5))
    ref = -(p1.mean.double() * p1.mean.double().log()).sum(1)
    assert torch.allclose(p1.entropy.double(), ref, atol=1e-6)
    assert (p1.entropy <= math.log(4) + 1e-6).all()
    assert not any(m.training for m in net.modules())


def test_mc_predict_restores_modes_on_error():
    class Boom(nn.Module):
        calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("boom")
            return x

    net = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.5), Boom())
    net.train()
    net[1].eval()
    modes = [m.training for m in net.modules()]
    with pytest.raises(RuntimeError, match="boom"):
        rl.mc_predict(net, torch.randn(4, 3), samples=3)
    assert [m.training for m in net.modules()] == modes


def test_is_dropout_covers_torch_and_reglab_layers():
    for m in (nn.Dropout(), nn.Dropout1d(), nn.Dropout2d(), nn.Dropout3d(), nn.AlphaDropout(),
              rl.Dropout(drop=0.1), rl.SpatialDropout(drop=0.1), rl.DropPath(drop=0.1),
              rl.DropBlock2d(drop=0.1), rl.GaussianDropout(drop=0.1),
              rl.DropConnect(nn.Linear(2, 2), drop=0.1)):
        assert D.is_dropout(m)
    assert not D.is_dropout(nn.BatchNorm1d(2)) and not D.is_dropout(nn.Linear(2, 2))


# ----------------------------------------------------------------------------- bad input

BOTH = ("Exactly one of the 'drop' and 'keep' parameters of {} must be given "
        "(keep = 1 - drop; PyTorch's p is drop). Got {} instead.")
DROP = "The 'drop' parameter of {} must be a float in the range [0, 1) or a schedule. Got {} instead."

BAD = [
    (lambda: rl.Dropout(drop=1.0), DROP.format("Dropout", "1.0")),
    (lambda: rl.Dropout(drop=-0.1), DROP.format("Dropout", "-0.1")),
    (lambda: rl.Dropout(drop=float("nan")), DROP.format("Dropout", "nan")),
    (lambda: rl.Dropout(drop="0.5"), DROP.format("Dropout", "'0.5'")),
    (lambda: rl.Dropout(drop=0.2, keep=0.8), BOTH.format("Dropout", "both drop=0.2 and keep=0.8")),
    (lambda: rl.Dropout(), BOTH.format("Dropout", "neither")),
    (lambda: rl.DropPath(), BOTH.format("DropPath", "neither")),
    (lambda: rl.Dropout(keep=0.0), "The 'keep' parameter of Dropout must be a float in the "
     "range (0, 1] or a schedule. Got 0.0 instead."),
    (lambda: rl.Dropout(keep=1.5), "The 'keep' parameter of Dropout must be a float in the "
     "range (0, 1] or a schedule. Got 1.5 instead."),
    (lambda: rl.Dropout(drop=S.linear(0.0, 1.0, steps=3)), "The 'drop' parameter of Dropout "
     "must be a float in the range [0, 1) or a schedule within it. Got linear(0.0, 1.0, "
     "steps=3, unit='step') instead. The schedule reaches 1.0, outside [0, 1)."),
    (lambda: rl.Dropout(keep=S.linear(1.0, 0.0, steps=3)), "The 'keep' parameter of Dropout "
     "must be a float in the range (0, 1] or a schedule within it. Got linear(1.0, 0.0, "
     "steps=3, unit='step') instead. The schedule reaches 0.0, outside (0, 1]."),
    (lambda: rl.SpatialDropout(drop=1.0), DROP.format("SpatialDropout", "1.0")),
    (lambda: rl.GaussianDropout(drop=-0.1), DROP.format("GaussianDropout", "-0.1")),
    (lambda: rl.DropBlock2d(drop=0.1, block_size=0), "The 'block_size' parameter of "
     "DropBlock2d must be an int in the range [1, inf). Got 0 instead."),
    (lambda: rl.DropBlock2d(drop=0.1, block_size=2.0), "The 'block_size' parameter of "
     "DropBlock2d must be an int in the range [1, inf). Got 2.0 instead."),
    (lambda: rl.DropConnect(nn.Conv2d(1, 1, 3), drop=0.5), "The 'linear' parameter of "
     "DropConnect must be an nn.Linear. Got Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1)) "
     "instead."),
    (lambda: rl.DropConnect(nn.Linear(2, 2), drop=1.0), DROP.format("DropConnect", "1.0")),
    (lambda: D.dropout(torch.ones(2), 1.0), "The 'drop' parameter of dropout must be a float "
     "in the range [0, 1). Got 1.0 instead."),
    (lambda: D.drop_block2d(torch.ones(2, 3, 4), 0.1), "The 'x' parameter of drop_block2d must "
     "be a tensor of shape (N, C, H, W). Got a tensor of shape (2, 3, 4) instead."),
    (lambda: rl.mc_predict(_net(), torch.ones(2, 6), samples=0), "The 'samples' parameter of "
     "mc_predict must be an int in the range [1, inf). Got 0 instead."),
    (lambda: rl.mc_predict(_net(), torch.ones(2, 6), softmax=1), "The 'softmax' parameter of "
     "mc_predict must be a bool. Got 1 instead."),
    (lambda: rl.mc_predict(nn.Linear(6, 2), torch.ones(2, 6)), "The 'model' parameter of "
     "mc_predict must be a module with at least one dropout layer (otherwise every sample is "
     "the same and std is 0). Got 'Linear' instead."),
]


@pytest.mark.parametrize("build, message", BAD, ids=[m[:60] for _, m in BAD])
def test_bad_parameters_exact_message(build, message):
    with pytest.raises(rl.InvalidParameterError) as e:
        build()
    assert str(e.value) == message


def test_positional_p_is_refused():
    # reglab never takes a bare p: Dropout(0.5) would be ambiguous (drop or keep?).
    with pytest.raises(TypeError):
        rl.Dropout(0.5)


@pytest.mark.parametrize("with_generator", [False, True])
def test_cpu_masks_are_rand_float64_below_keep_on_every_cpu(with_generator):
    """Not PyTorch's CPU bernoulli_, whose draw is MKL's on Intel CPUs: one stream everywhere,
    the one the stacked engine draws per member too."""
    x, x4, keep = torch.randn(32, 50), torch.randn(4, 6, 3, 3), 0.7

    def gen():
        torch.manual_seed(5)
        return torch.Generator().manual_seed(5) if with_generator else None

    got = D.dropout(x, 0.3, generator=gen())
    g = gen()
    want = x * ((torch.rand(32, 50, dtype=torch.float64, generator=g) < keep).to(x.dtype) / keep)
    assert torch.equal(got, want)
    got = D.spatial_dropout(x4, 0.3, generator=gen())
    g = gen()
    coins = torch.rand(4, 6, 1, 1, dtype=torch.float64, generator=g) < keep
    assert torch.equal(got, x4 * (coins.to(x4.dtype) / keep))


@pytest.mark.parametrize("make,owner", [
    (lambda: rl.Dropout(0.5), "Dropout"),
    (lambda: rl.SpatialDropout(0.2), "SpatialDropout"),
    (lambda: rl.DropPath(0.1), "DropPath"),
    (lambda: rl.GaussianDropout(0.3), "GaussianDropout"),
    (lambda: rl.DropBlock2d(0.1, 3), "DropBlock2d"),
    (lambda: rl.DropConnect(torch.nn.Linear(4, 2), 0.5), "DropConnect"),
])
def test_a_positional_strength_is_refused_with_both_meanings_of_p(make, owner):
    """nn.Dropout(0.5) habits: the note's p is keep, PyTorch's is drop, so a bare number is
    ambiguous; the error names the layer and both spellings, not a private base class."""
    with pytest.raises(TypeError) as info:
        make()
    text = str(info.value)
    assert text.startswith(f"{owner} takes its strength by name, not by position: drop= "
                           "(PyTorch's p, the probability of zeroing a unit) or keep= (the "
                           "note's p, of keeping one). Got the positional argument(s) ")
    assert "_DropLayer" not in text and f"write e.g. {owner}(drop=" in text
