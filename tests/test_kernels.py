"""The regularizer kernels (reglab.kernels): closed forms, autograd as the reference, and a
float strength against a per-member (K, 1, 1) tensor of strengths, member by member.

The stacked engine calls the tensor form on (K, in, out) weights, ``rl.L1`` / ``rl.ProximalL1``
... the float form on one model's weights: equal numbers here are what keeps the engine's
members equal to the sequential runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reglab import kernels as K

STRENGTHS = [1e-4, 3e-3, 0.2, 1.5]  # one per member


def _stack(dtype, shape=(4, 6, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(*shape, generator=g, dtype=dtype)
    w[0, 0] = 0.0  # a zero row (group kernels), so exact zeros too (sign 0)
    w[1, 2, :3] = 0.0
    return w, torch.randn(*shape, generator=g, dtype=dtype)


def _per_member(values, dtype):
    return torch.tensor(values, dtype=dtype).view(-1, 1, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("l1, l2", [(True, False), (False, True), (True, True)])
def test_l1_l2_gradient_float_and_tensor_strengths_agree_per_member(dtype, l1, l2):
    w, g = _stack(dtype)
    lam1 = STRENGTHS if l1 else [0.0] * 4
    lam2 = STRENGTHS[::-1] if l2 else [0.0] * 4
    stacked = g.clone()
    K.add_l1_l2_grad_([stacked], [w], _per_member(lam1, dtype) if l1 else 0.0,
                      _per_member(lam2, dtype) if l2 else 0.0)
    for k in range(4):
        one = g[k].clone()
        K.add_l1_l2_grad_([one], [w[k]], float(dtype_round(lam1[k], dtype)),
                          float(dtype_round(lam2[k], dtype)))
        assert torch.equal(stacked[k], one), k
        # the reference: autograd of l1 * sum|w| + l2 * sum w^2 (sign(0) = 0 at exact zeros)
        wk = w[k].clone().requires_grad_()
        (lam1[k] * wk.abs().sum() + lam2[k] * (wk * wk).sum()).backward()
        torch.testing.assert_close(one, g[k] + wk.grad)


@pytest.mark.parametrize("l1, l2", [(0.3, 0.0), (0.0, 0.7), (0.3, 0.7)])
def test_the_new_tensor_gradient_is_the_in_place_one_onto_zeros(l1, l2):
    w, _ = _stack(torch.float32)
    onto = [torch.zeros_like(w)]
    K.add_l1_l2_grad_(onto, [w], l1, l2)
    assert torch.equal(K.l1_l2_grad([w], l1, l2)[0], onto[0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("l1, l2", [(0.3, 0.0), (0.3, 0.7)])
def test_l1_in_cache_sized_chunks_is_the_fused_path_bit_for_bit(dtype, l1, l2, l1_chunks):
    # Large contiguous CPU tensors take the L1 term chunk by chunk; with 7-element chunks
    # (the last one short) here, against the fused foreach path of a non-contiguous copy of
    # the same weights and the (K, 1, 1) tensor path: the same numbers, zeros included.
    chunks = l1_chunks
    w, g = _stack(dtype, shape=(4, 9, 5))            # 45 elements a member: 7 chunks
    w_t = w.transpose(1, 2).contiguous().transpose(1, 2)   # same values, not contiguous
    for k in range(4):
        chunked, fused = g[k].clone(), g[k].clone()
        K.add_l1_l2_grad_([chunked], [w[k]], l1, l2)
        K.add_l1_l2_grad_([fused], [w_t[k]], l1, l2)
        assert torch.equal(chunked, fused), k
    assert len(chunks) == 4                           # the chunked path did run
    stacked = g.clone()
    K.add_l1_l2_grad_([stacked], [w], _per_member([l1] * 4, dtype),
                      _per_member([l2] * 4, dtype) if l2 else 0.0)
    for k in range(4):
        one = g[k].clone()
        K.add_l1_l2_grad_([one], [w[k]], dtype_round(l1, dtype), dtype_round(l2, dtype))
        assert torch.equal(stacked[k], one), k


def test_l1_value_with_the_signs_given_is_the_same_sum():
    w, _ = _stack(torch.float64)
    torch.testing.assert_close(K.l1_value(w, 0.3, sign=torch.sign(w)), K.l1_value(w, 0.3),
                               rtol=1e-14, atol=0)


def dtype_round(x: float, dtype) -> float:
    """The strength as the stack holds it (a float32 stack rounds its strengths)."""
    return float(torch.tensor(x, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_per_member_equal_the_float_form(dtype):
    w, _ = _stack(dtype)
    lam = _per_member(STRENGTHS, dtype)
    for kernel, ref in ((K.l1_value, lambda x: x.abs().sum()),
                        (K.l2_value, lambda x: (x * x).sum()),
                        (K.group_lasso_value, lambda x: x.norm(dim=1).sum())):
        per_member = kernel(w, lam)
        assert per_member.shape == (4,)
        for k in range(4):
            one = kernel(w[k], dtype_round(STRENGTHS[k], dtype))
            assert one.ndim == 0
            torch.testing.assert_close(per_member[k], one, rtol=0, atol=0)
            torch.testing.assert_close(one, STRENGTHS[k] * ref(w[k]).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_of_many_tensors_equal_each_tensors_float_form_bit_for_bit(dtype):
    # l1_values / l2_values (one fused norm over tensors of several shapes, one strength
    # each) give l1_value / l2_value of each tensor with its strength as a float, exactly
    w, _ = _stack(dtype)
    ws = [w[0], w[1, :3], w[2].reshape(-1)[:7], w[3]]
    lams = torch.tensor([3e-3, 1e-4, 0.5, 1e-2], dtype=dtype)
    for many, one, ref in ((K.l1_values, K.l1_value, lambda x: x.abs().sum()),
                           (K.l2_values, K.l2_value, lambda x: (x * x).sum())):
        values = many(ws, lams)
        assert values.shape == (4,)
        for i, x in enumerate(ws):
            assert torch.equal(values[i], one(x, float(lams[i])))
            torch.testing.assert_close(values[i].double(), float(lams[i]) * ref(x.double()),
                                       rtol=1e-5 if dtype is torch.float32 else 1e-12, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_soft_threshold_is_the_closed_form_exactly_for_both_strengths(dtype):
    w, _ = _stack(dtype)
    t = [0.1, 0.5, 0.0, 2.0]
    w[2, 0, 0], w[3, 1, 1] = 0.5, -2.0  # |w| == t: exactly 0 (w[2] has t = 0: unchanged)
    w[1, 0, 0] = 0.5
    want = torch.sign(w) * torch.clamp_min(w.abs() - _per_member(t, dtype), 0)
    stacked = w.clone()
    K.soft_threshold_([stacked], _per_member(t, dtype))
    assert torch.equal(stacked, want)
    for k in range(4):
        one = w[k].clone()
        K.soft_threshold_([one], dtype_round(t[k], dtype))
        assert torch.equal(one, want[k]) and torch.equal(one, stacked[k])
    assert stacked[1, 0, 0] == 0 and stacked[3, 1, 1] == 0
    assert torch.equal(stacked[2], w[2])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_decay_is_w_times_one_minus_t_for_both_strengths(dtype):
    w, _ = _stack(dtype)
    t = _per_member([0.01, 0.1, 0.0, 0.5], dtype)
    stacked = w.clone()
    K.decay_([stacked], t)
    assert torch.equal(stacked, w * (1 - t))
    for k in range(4):
        one = w[k].clone()
        K.decay_([one], float(t[k]))
        assert torch.equal(one, stacked[k])


def test_decay_factor_kept_is_a_plain_tensor_and_the_cache_stays_small():
    K._FACTORS.clear()
    with torch.inference_mode():  # the first call under inference mode: used, not kept
        w = torch.ones(3, 2)
        K.decay_([w], 0.25)
    assert torch.equal(w, torch.full((3, 2), 0.75)) and not K._FACTORS
    p = torch.nn.Parameter(torch.ones(3, 2))
    for _ in range(2):  # the kept factor gives the same product as a fresh one
        K.decay_([p], 0.25)
    assert torch.equal(p.detach(), torch.full((3, 2), 0.5625)) and not p.grad
    (kept,) = K._FACTORS.values()
    assert type(kept) is torch.Tensor and not kept.is_inference() and kept.item() == 0.75
    mixed = [torch.ones(2, dtype=torch.float64), torch.ones(2)]  # not one dtype: no factor
    K.decay_(mixed, 0.1)
    assert mixed[0][0].item() == 0.9 and mixed[1][0].item() == torch.tensor(0.9).item()
    for i in range(40):  # a schedule: a new factor every step, the cache bounded
        K.decay_([p], 1e-3 * (i + 1))
    assert len(K._FACTORS) <= 16


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_group_soft_threshold_zeroes_whole_rows_for_both_strengths(dtype):
    w, _ = _stack(dtype)  # rows: dim 1 of the stack, dim 0 of a member
    t = [0.1, 1.0, 0.0, 100.0]
    norms = w.norm(dim=2, keepdim=True)
    scale = torch.clamp_min(1 - _per_member(t, dtype) / norms, 0)
    want = w * torch.nan_to_num(scale, nan=0.0)  # a zero row stays 0
    stacked = w.clone()
    K.group_soft_threshold_(stacked, _per_member(t, dtype))
    torch.testing.assert_close(stacked, want)
    for k in range(4):
        one = w[k].clone()
        K.group_soft_threshold_(one, dtype_round(t[k], dtype))
        assert torch.equal(one, stacked[k])
    assert torch.all(stacked[3] == 0) and torch.all(stacked[0, 0] == 0)
    assert torch.equal(stacked[2], w[2])


def test_group_lasso_gradient_is_autograds_with_zero_rows_at_zero():
    w, _ = _stack(torch.float64)
    lam = _per_member(STRENGTHS, torch.float64)
    stacked = K.group_lasso_grad(w, lam)
    for k in range(4):
        one = K.group_lasso_grad(w[k], STRENGTHS[k])
        assert torch.equal(one, stacked[k])
        wk = w[k].clone().requires_grad_()
        (STRENGTHS[k] * wk.norm(dim=1).sum()).backward()
        ref = torch.nan_to_num(wk.grad, nan=0.0)  # autograd's 0/0 at the zero row
        torch.testing.assert_close(one, ref, rtol=1e-13, atol=1e-15)
    assert torch.all(stacked[0, 0] == 0)


def test_conv_weights_rows_are_filters_and_one_d_rows_are_elements():
    w = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(K.group_lasso_value(w, 0.5),
                               0.5 * w.reshape(3, -1).norm(dim=1).sum())
    b = torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64)
    assert float(K.group_lasso_value(b, 1.0)) == 7.0
    K.group_soft_threshold_(b, 1.0)
    assert b.tolist() == [2.0, -3.0, 0.0]


def _intel_cpu() -> bool:
    try:
        return "GenuineIntel" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def test_bernoulli_is_rand_float64_below_p_on_every_cpu():
    for shape, p, dtype in [((64, 256), 0.7, torch.float32), ((3, 5, 7), 0.5, torch.float64),
                            ((1000,), 0.1, torch.bool)]:
        g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
        got = K.bernoulli_(torch.empty(shape, dtype=dtype), p, g1)
        want = (torch.rand(shape, dtype=torch.float64, generator=g2) < p).to(dtype)
        assert torch.equal(got, want)
        assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))  # same state
    m = K.bernoulli_(torch.empty(200_000), 0.3, torch.Generator().manual_seed(0))
    assert abs(m.mean().item() - 0.3) < 4 * (0.3 * 0.7 / 200_000) ** 0.5  # 4 sigma


@pytest.mark.skipif(_intel_cpu(), reason="PyTorch draws bernoulli_(p) from MKL on Intel CPUs")
def test_bernoulli_is_pytorchs_own_cpu_draw_off_intel():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    theirs = torch.empty(6, 64, 256).bernoulli_(0.75, generator=g1)
    ours = K.bernoulli_(torch.empty(6, 64, 256), 0.75, g2)
    assert torch.equal(theirs, ours)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
