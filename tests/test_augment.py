"""reglab.augment: batched, seeded, never in place; geometry against scipy; seeded statistics.

Tolerances of the statistical tests: counts within 4.5 binomial standard deviations, means
within 4.5 standard errors, Kolmogorov-Smirnov distances below 1.63 / sqrt(n) (the 1 % point);
every test is seeded, so a pass or a failure is reproducible.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab import augment as A
from reglab import schedules as S
from reglab.augment import functional as AF

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gen(seed=0, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


def ks_uniform(samples, low, high):
    """Kolmogorov-Smirnov distance between samples and U[low, high]."""
    s = np.sort(np.asarray(samples, dtype=np.float64))
    cdf = (s - low) / (high - low)
    n = len(s)
    return max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))


def binomial_ok(count, n, p, z=4.5):
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1e-9


# ----------------------------------------------------------------------------- every transform
# (name, factory, input shape): every transform that goes into a Compose, on a typical input.
CASES = [
    ("rotation", lambda **kw: A.RandomRotation(20, **kw), (16, 3, 12, 10)),
    ("hflip", lambda **kw: A.HorizontalFlip(**kw), (16, 3, 12, 10)),
    ("vflip", lambda **kw: A.VerticalFlip(**kw), (16, 3, 12, 10)),
    ("scale", lambda **kw: A.RandomScale(0.8, 1.25, **kw), (16, 3, 12, 10)),
    ("translate", lambda **kw: A.RandomTranslate(0.2, **kw), (16, 3, 12, 10)),
    ("erasing", lambda **kw: A.RandomErasing(scale=(0.1, 0.3), **kw), (16, 3, 12, 10)),
    ("noise-image", lambda **kw: A.GaussianNoise(0.1, **kw), (16, 3, 12, 10)),
    ("shift-zeros", lambda **kw: A.Shift(0.25, "zeros", **kw), (16, 2, 40)),
    ("shift-circular", lambda **kw: A.Shift(0.25, "circular", **kw), (16, 40)),
    ("amplitude", lambda **kw: A.AmplitudeScale(0.5, 1.5, **kw), (16, 2, 40)),
    ("timewarp", lambda **kw: A.TimeWarp(0.3, **kw), (16, 2, 40)),
    ("timewarp-2d", lambda **kw: A.TimeWarp(0.3, **kw), (16, 40)),
    ("noise-tabular", lambda **kw: A.GaussianNoise(0.1, **kw), (16, 7)),
    ("swap", lambda **kw: A.SwapNoise(0.3, **kw), (16, 7)),
]
IDS = [c[0] for c in CASES]


def _input(shape, dtype=torch.float32, device="cpu", seed=1):
    # Continuous, asymmetric values: any flip, shift, swap or warp changes them.
    return torch.randn(shape, generator=gen(seed), dtype=dtype).to(device)


def _always(factory):
    """The transform applied to every sample (flips and erasing default to p = 0.5)."""
    return factory(p=1.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name,factory,shape", CASES, ids=IDS)
def test_shape_dtype_device_kept_and_input_untouched(name, factory, shape, dtype, device):
    x = _input(shape, dtype, device)
    before = x.clone()
    out = _always(factory)(x, generator=gen(0, device))
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.equal(x, before)  # never in place
    assert out.data_ptr() != x.data_ptr()
    assert not torch.equal(out, x)  # it did something


@pytest.mark.parametrize("name,factory,shape", CASES, ids=IDS)
def test_seeded_reproducibility(name, factory, shape):
    x = _input(shape)
    t = factory(p=0.7)
    a, b = t(x, generator=gen(3)), t(x, generator=gen(3))
    c = t(x, generator=gen(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    torch.manual_seed(5)  # no generator: torch's global one, so manual_seed reproduces it
    d = t(x)
    torch.manual_seed(5)
    assert torch.equal(d, t(x))


@pytest.mark.parametrize("name,factory,shape", CASES, ids=IDS)
def test_identity_at_strength_zero_and_p_zero(name, factory, shape):
    x = _input(shape)
    for out in (_always(factory)(x, generator=gen(0), strength=0.0),
                factory(p=0.0)(x, generator=gen(0)),
                A.Compose([_always(factory)], seed=0, strength=0.0)(x)):
        assert torch.equal(out, x)
        assert out.data_ptr() != x.data_ptr()  # a copy, free to modify


@pytest.mark.parametrize("name,factory,shape", CASES, ids=IDS)
def test_per_sample_randomness_in_one_batched_call(name, factory, shape, monkeypatch):
    t = _always(factory)
    cls = type(t)
    calls = []
    original = cls.apply

    def spy(self, x, **params):
        calls.append((x.shape[0], {k: v.shape[0] for k, v in params.items()}))
        return original(self, x, **params)

    monkeypatch.setattr(cls, "apply", spy)
    x = _input((256,) + shape[1:])
    out = t(x, generator=gen(0))
    # one call for the whole batch, with one parameter per sample
    assert calls == [(256, {k: 256 for k in calls[0][1]})]
    if name in ("hflip", "vflip"):
        return  # no parameters: the per-sample draw is p (test_flip_probability)
    # per-sample parameters: every sample's change differs from the others'
    delta = (out - x).flatten(1)
    distinct = {tuple(np.round(r.numpy(), 5)) for r in delta}
    assert len(distinct) > 200


def test_geometry_is_one_resampling_per_batch(monkeypatch):
    calls = []
    original = AF.F.grid_sample

    def spy(src, grid, *args, **kwargs):
        calls.append(src.shape[0])
        return original(src, grid, *args, **kwargs)

    monkeypatch.setattr(AF.F, "grid_sample", spy)
    aug = A.Compose([A.RandomRotation(15), A.RandomScale(0.9, 1.1), A.RandomTranslate(0.1)],
                    seed=0)
    aug(torch.randn(256, 3, 32, 32))
    assert calls == [256]  # rotate, scale, translate composed: one resampling for the batch
    calls.clear()
    A.Compose([A.RandomRotation(15), A.GaussianNoise(0.1), A.RandomScale(0.9, 1.1)],
              seed=0)(torch.randn(8, 1, 8, 8))
    assert calls == [8, 8]  # noise between them: nothing to fuse across it


def test_fused_geometry_is_the_single_affine_of_the_same_draws():
    """scale -> rotate -> translate fused equals ``AF.affine`` with the parameters drawn one
    transform at a time from the same seed (T R S about the centre, checked against scipy
    above), and it consumes the generator exactly as the transforms applied one by one."""
    x = torch.randn(16, 2, 9, 9, dtype=torch.float64)
    ts = [A.RandomScale(0.8, 1.2), A.RandomRotation(20), A.RandomTranslate(0.1)]
    out = A.Compose(ts, seed=5)(x)
    g = torch.Generator().manual_seed(5)
    draws = [t.sample(x, g, 1.0) for t in ts]
    ref = AF.affine(x, angle=draws[1]["angle"], scale=draws[0]["scale"],
                    translate=draws[2]["translate"])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    one_by_one = torch.Generator().manual_seed(5)
    for t in ts:
        t(x, generator=one_by_one)
    assert torch.equal(g.get_state(), one_by_one.get_state())


def test_fused_geometry_skips_samples_whose_coin_says_no():
    x = torch.randn(64, 1, 8, 8, dtype=torch.float64)
    out = A.Compose([A.RandomRotation(30, p=0.5), A.RandomScale(0.5, 0.6, p=0.5)], seed=1)(x)
    same = (out - x).flatten(1).abs().amax(1) < 1e-12
    assert 4 <= int(same.sum()) <= 32  # ~ 64 / 4 untouched: both coins said no
    plain = A.Compose([A.RandomRotation(30, p=0.0), A.RandomScale(0.5, 0.6, p=0.0)], seed=1)(x)
    assert torch.equal(plain, x) and plain is not x


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [64, 27])
@pytest.mark.parametrize("idle", [0.0, 0.3])
def test_apply_each_equals_each_pipeline_alone_with_one_warp(dtype, batch, idle, monkeypatch):
    """``Compose.apply_each`` (the stacked engine's augmentation) gives, bit for bit, what
    each pipeline gives alone on its own batch, leaves every generator and strength
    schedule where the one-by-one calls leave them, and resamples all fused batches in one
    ``grid_sample``. With every member acting (``idle`` 0.3) the matrices of all members
    are built together (per-sample coins of p < 1 included; 27 rows put the cosines in the
    vectorized loop's tail); a member at strength 0 (``idle`` 0) is copied and the others'
    matrices are built one member at a time. A run that does not fuse (noise) runs per
    pipeline, and pipelines without a seed fall back to the loop."""
    def pipes():
        geo = ["rotate", "translate", "scale", "noise"]
        return [A.from_names(geo, "image", seed=3),
                A.from_names(geo, "image", seed=4, strength=S.linear(0.5, 2.0, 10, unit="step")),
                A.from_names(geo, "image", seed=5, strength=idle),
                A.Compose([A.RandomRotation(20, p=0.5), A.RandomTranslate(0.1),
                           A.RandomScale(0.9, 1.1, p=0.7), A.GaussianNoise(0.1)], seed=3)]
    xs = torch.randn(4, batch, 1, 8, 8, dtype=dtype)
    alone, each = pipes(), pipes()
    calls = []
    original = AF.F.grid_sample

    def spy(src, grid, *args, **kwargs):
        calls.append(src.shape[0])
        return original(src, grid, *args, **kwargs)

    for step in range(3):
        ref = torch.stack([p(x) for p, x in zip(alone, xs)])
        monkeypatch.setattr(AF.F, "grid_sample", spy)
        got = A.Compose.apply_each(each, xs)
        monkeypatch.setattr(AF.F, "grid_sample", original)
        assert torch.equal(got, ref) and got.dtype == dtype
        assert calls == [(3 if idle == 0 else 4) * batch]  # one warp for all that move
        calls.clear()
        if idle == 0:
            assert torch.equal(got[2], xs[2])  # strength 0: a copy
    for a, b in zip(alone, each):
        assert torch.equal(a.generator("cpu").get_state(), b.generator("cpu").get_state())
        assert a.value_of(a.strength) == b.value_of(b.strength)
    plain = [lambda x: x + 1, lambda x: 2 * x]  # any callables: the loop
    assert torch.equal(A.Compose.apply_each(plain, xs[:2]), torch.stack([xs[0] + 1, 2 * xs[1]]))
    unseeded = [A.from_names(["rotate", "scale"], "image") for _ in range(2)]
    torch.manual_seed(0)
    got = A.Compose.apply_each(unseeded, xs[:2])
    torch.manual_seed(0)
    assert torch.equal(got, torch.stack([p(x) for p, x in zip(unseeded, xs[:2])]))


def test_import_is_fast_and_geometry_needs_no_kornia():
    code = ("import sys; import reglab.augment as A; import torch\n"
            "A.RandomRotation(10)(torch.zeros(2, 1, 4, 4))\n"
            "print(sorted(m for m in ('kornia', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]"]


# ----------------------------------------------------------------------------- geometry: reference
def _scipy_affine(img, angle, zoom, translate):
    """Reference: p_out = c + zoom R(angle) (p_in - c) + t in (x, y), y down, bilinear, 0 outside."""
    from scipy import ndimage
    h, w = img.shape
    th = math.radians(angle)
    fwd = zoom * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    inv = np.linalg.inv(fwd)
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    swap = np.array([[0, 1], [1, 0]])  # scipy indexes (row, col) = (y, x)
    offset = swap @ (c - inv @ (c + np.asarray(translate)))
    return ndimage.affine_transform(img, swap @ inv @ swap, offset=offset, order=1,
                                    mode="grid-constant", cval=0.0)


def test_affine_matches_scipy_float64_reference():
    x = torch.randn(3, 2, 7, 9, generator=gen(0), dtype=torch.float64)
    angle = torch.tensor([23.0, -71.0, 0.0], dtype=torch.float64)
    zoom = torch.tensor([1.3, 0.8, 1.0], dtype=torch.float64)
    shift = torch.tensor([[0.7, -1.2], [0.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
    out = AF.affine(x, angle=angle, scale=zoom, translate=shift)
    for i in range(3):
        for ch in range(2):
            ref = _scipy_affine(x[i, ch].numpy(), float(angle[i]), float(zoom[i]), shift[i].numpy())
            np.testing.assert_allclose(out[i, ch].numpy(), ref, atol=1e-5)


def test_rotation_by_90_is_rot90_and_integer_translation_is_a_shift():
    x = torch.randn(2, 3, 6, 6, generator=gen(0))
    turned = AF.affine(x, angle=torch.tensor([90.0, -90.0]))
    torch.testing.assert_close(turned[0], torch.rot90(x[0], -1, (1, 2)), atol=1e-5, rtol=0)
    torch.testing.assert_close(turned[1], torch.rot90(x[1], 1, (1, 2)), atol=1e-5, rtol=0)
    moved = AF.affine(x, translate=torch.tensor([[2.0, 1.0], [-1.0, 0.0]]))
    ref = torch.zeros_like(x)
    ref[0, :, 1:, 2:] = x[0, :, :-1, :-2]
    ref[1, :, :, :-1] = x[1, :, :, 1:]
    torch.testing.assert_close(moved, ref, atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------- parameter statistics
def test_rotation_angles_uniform_in_range_scaled_by_strength():
    x = torch.zeros(20000, 1, 2, 2)
    t = A.RandomRotation(15)
    for s in (1.0, 0.4):
        angle = t.sample(x, gen(0), s)["angle"]
        assert angle.abs().max() <= 15 * s
        assert ks_uniform(angle, -15 * s, 15 * s) < 1.63 / math.sqrt(len(angle))
    assert len(torch.unique(angle)) > 0.99 * len(angle)  # its own angle per sample (float32 ties)


def test_rotation_angle_recovered_from_a_synthetic_image():
    # A bright dot right of the centre, rotated: its centroid angle is the drawn angle.
    x = torch.zeros(512, 1, 33, 33)
    x[:, :, 16, 28] = 1.0
    t = A.RandomRotation(40)
    params = t.sample(x, gen(1), 1.0)
    out = t.apply(x, **params)[:, 0]
    ys, xs = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    mass = out.sum((1, 2))
    cx, cy = (out * xs).sum((1, 2)) / mass - 16, (out * ys).sum((1, 2)) / mass - 16
    recovered = torch.rad2deg(torch.atan2(cy, cx))  # clockwise on screen (y down) is positive
    # bilinear spreads the dot over 4 pixels: the centroid is off by a fraction of a degree
    torch.testing.assert_close(recovered, params["angle"], atol=0.75, rtol=0)


def test_scale_translate_amplitude_warp_parameter_ranges():
    x = torch.zeros(20000, 1, 10, 20)
    z = A.RandomScale(0.8, 1.25).sample(x, gen(0), 1.0)["scale"]
    assert ks_uniform(z, 0.8, 1.25) < 1.63 / math.sqrt(len(z))
    z_half = A.RandomScale(0.8, 1.25).sample(x, gen(0), 0.5)["scale"]
    torch.testing.assert_close(z_half, z.sqrt())  # u ** s
    d = A.RandomTranslate(0.1).sample(x, gen(0), 1.0)["translate"]
    assert ks_uniform(d[:, 0], -2.0, 2.0) < 1.63 / math.sqrt(len(d))  # 0.1 * W = 2 pixels
    assert ks_uniform(d[:, 1], -1.0, 1.0) < 1.63 / math.sqrt(len(d))  # 0.1 * H = 1 pixel
    sig = torch.zeros(20000, 40)
    g = A.AmplitudeScale(0.5, 1.5).sample(sig, gen(0), 1.0)["gain"]
    assert ks_uniform(g, 0.5, 1.5) < 1.63 / math.sqrt(len(g))
    r = A.TimeWarp(0.2).sample(sig, gen(0), 1.0)["factors"]
    assert ks_uniform(r.log(), -math.log(1.2), math.log(1.2)) < 1.63 / math.sqrt(len(r))


@pytest.mark.parametrize("cls,axis", [(A.HorizontalFlip, -1), (A.VerticalFlip, -2)])
def test_flip_probability_binomial_and_strength(cls, axis):
    x = torch.randn(4000, 1, 5, 6, generator=gen(0))
    for p, s in ((0.3, 1.0), (0.5, 1.0), (0.6, 0.5)):
        out = cls(p=p)(x, generator=gen(1), strength=s)
        flipped = (out == x.flip(axis)).flatten(1).all(1)
        kept = (out == x).flatten(1).all(1)
        assert bool((flipped ^ kept).all())  # each sample flipped whole, or untouched
        assert binomial_ok(int(flipped.sum()), len(x), p * min(s, 1.0))


def test_gaussian_noise_std_and_mean():
    x = torch.randn(1000, 200, generator=gen(0))
    for s in (1.0, 0.5):
        noise = (A.GaussianNoise(0.3)(x, generator=gen(1), strength=s) - x).double()
        n = noise.numel()
        assert abs(float(noise.mean())) < 4.5 * 0.3 * s / math.sqrt(n)
        # sd of the sample std is about sigma / sqrt(2n)
        assert abs(float(noise.std()) - 0.3 * s) < 4.5 * 0.3 * s / math.sqrt(2 * n)


def test_per_sample_probability_of_any_transform():
    x = torch.randn(4000, 1, 6, 6, generator=gen(0))
    out = A.GaussianNoise(0.5, p=0.25)(x, generator=gen(1))
    changed = (out != x).flatten(1).any(1)
    assert binomial_ok(int(changed.sum()), len(x), 0.25)


def test_random_erasing_box_area_value_and_probability():
    x = torch.randn(2000, 3, 32, 32, generator=gen(0)) + 10.0  # no value is 0 by chance
    out = A.RandomErasing(p=0.4, scale=(0.05, 0.25), value=0.0)(x, generator=gen(1))
    erased = out == 0  # (B, C, H, W)
    assert torch.equal(erased[:, 0], erased[:, 2])  # all channels erased alike
    frac = erased[:, 0].flatten(1).float().mean(1)
    hit = frac > 0
    assert binomial_ok(int(hit.sum()), len(x), 0.4)
    # one solid box per hit sample: its area equals the product of its row and column extents
    rows = erased[hit, 0].any(2).sum(1)
    cols = erased[hit, 0].any(1).sum(1)
    assert torch.equal(rows * cols, erased[hit, 0].flatten(1).sum(1))
    # area in the configured range, up to rounding of the sides and clipping at the border
    assert float(frac[hit].min()) > 0.03 and float(frac[hit].max()) < 0.28
    assert abs(float(frac[hit].mean()) - 0.15) < 0.02
    torch.testing.assert_close(out[~erased], x[~erased])


def test_shift_exact_and_uniform_over_integers():
    x = torch.arange(10.0).repeat(3, 2, 1)  # (3, 2, 10)
    k = torch.tensor([3, -2, 0])
    circ = AF.shift(x, k, "circular")
    for i in range(3):
        assert torch.equal(circ[i], torch.roll(x[i], int(k[i]), dims=-1))
    zeros = AF.shift(x, k, "zeros")
    assert torch.equal(zeros[0, 0], torch.tensor([0, 0, 0, 0, 1, 2, 3, 4, 5, 6.0]))
    assert torch.equal(zeros[1, 1], torch.tensor([2, 3, 4, 5, 6, 7, 8, 9, 0, 0.0]))
    shifts = A.Shift(0.1).sample(torch.zeros(21000, 40), gen(0), 1.0)["shifts"]  # K = 4
    counts = torch.bincount(shifts + 4, minlength=9)
    assert len(counts) == 9 and all(binomial_ok(int(c), 21000, 1 / 9) for c in counts)
    assert A.Shift(0.1).max_samples(40, 0.5) == 2


def test_time_warp_closed_form_on_a_ramp():
    # A linear ramp is reproduced exactly by linear interpolation: out(t) = c + (t - c) / r.
    length = 41
    x = torch.arange(float(length), dtype=torch.float64).repeat(2, 1)
    r = torch.tensor([1.25, 1.0], dtype=torch.float64)
    out = AF.time_warp(x, r)
    c = (length - 1) / 2
    torch.testing.assert_close(out[0], c + (torch.arange(float(length), dtype=torch.float64) - c)
                               / 1.25)
    torch.testing.assert_close(out[1], x[1])
    squeezed = AF.time_warp(x[:1], torch.tensor([0.5], dtype=torch.float64), "zeros")
    assert float(squeezed[0, 0]) == 0.0  # from outside the signal: 0
    assert float(squeezed[0, int(c)]) == pytest.approx(c)  # the centre stays


def test_swap_noise_fraction_and_columns_kept():
    b, f = 2000, 10
    x = torch.arange(b * f, dtype=torch.float32).view(b, f)  # every value distinct
    out = A.SwapNoise(0.3)(x, generator=gen(0))
    swapped = out != x
    assert binomial_ok(int(swapped.sum()), b * f, 0.3)
    # a swapped value comes from the same column of another row
    col = torch.arange(f).expand(b, f)
    assert torch.equal((out.long() % f), col)
    donors = out.long() // f
    assert bool((donors[swapped] != torch.arange(b)[:, None].expand(b, f)[swapped]).all())


def test_amplitude_scale_is_a_per_sample_gain():
    x = torch.randn(64, 3, 20, generator=gen(0))
    t = A.AmplitudeScale(0.5, 2.0)
    params = t.sample(x, gen(1), 1.0)
    torch.testing.assert_close(t.apply(x, **params), x * params["gain"][:, None, None])


# ----------------------------------------------------------------------------- Compose
def test_compose_seed_owns_the_generator_and_advances():
    x = torch.randn(32, 1, 8, 8, generator=gen(0))
    make = lambda seed: A.Compose([A.RandomRotation(15), A.GaussianNoise(0.1)], seed=seed)  # noqa
    a, b, c = make(0), make(0), make(1)
    first = a(x)
    assert torch.equal(first, b(x)) and not torch.equal(first, c(x))
    assert not torch.equal(first, a(x))  # the generator moved on: a new draw each batch
    assert torch.equal(a(x, generator=gen(9)), b(x, generator=gen(9)))  # an explicit generator wins


def test_compose_strength_scales_magnitude_and_follows_schedules():
    x = torch.randn(2000, 50, generator=gen(0))
    half = A.Compose([A.GaussianNoise(0.4)], seed=0, strength=0.5)(x) - x
    assert abs(float(half.std()) - 0.2) < 0.005
    sched = A.Compose([A.GaussianNoise(0.4)], seed=0, strength=S.linear(0.0, 1.0, steps=2))
    assert torch.equal(sched(x), x)  # t = 0: strength 0
    assert abs(float((sched(x) - x).std()) - 0.2) < 0.005  # t = 1: 0.5
    assert abs(float((sched(x) - x).std()) - 0.4) < 0.01  # t = 2: 1
    by_epoch = A.Compose([A.GaussianNoise(0.4)], seed=0,
                         strength=S.linear(0.0, 1.0, steps=4, unit="epoch"))
    assert torch.equal(by_epoch(x), x)
    S.set_epoch(2, by_epoch)
    assert abs(float((by_epoch(x) - x).std()) - 0.2) < 0.005


def test_compose_empty_and_repr():
    x = torch.randn(4, 3)
    out = A.Compose([])(x)
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
    aug = A.Compose([A.RandomRotation(15), A.HorizontalFlip()], seed=3)
    assert repr(aug) == ("Compose([RandomRotation(degrees=15, p=1), HorizontalFlip(p=0.5)], "
                         "seed=3, strength=1.0)")
    assert len(aug) == 2 and isinstance(aug[0], A.RandomRotation)


# ----------------------------------------------------------------------------- names
def test_names_build_every_default_for_its_kind():
    shapes = {"image": (8, 1, 8, 8), "signal": (8, 1, 40), "tabular": (8, 5)}
    expected = {"image": ["rotate", "flip", "vflip", "scale", "translate", "noise", "erase"],
                "signal": ["shift", "scale", "noise", "warp"], "tabular": ["noise", "swap"]}
    for kind, names in expected.items():
        assert list(A.NAMES[kind]) == names
        aug = A.from_names(names, kind, seed=0)
        x = torch.randn(shapes[kind])
        assert aug(x).shape == x.shape and len(aug) == len(names)
    assert A.NAMES["image"]["rotate"]().degrees == 15
    assert A.NAMES["image"]["rotate"](degrees=5).degrees == 5
    assert isinstance(A.from_names("rotate, noise", "image")[1], A.GaussianNoise)
    assert A.from_names(["noise"], "tabular", strength=0.5).strength == 0.5


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(rl.InvalidParameterError) as err:
        A.from_names(["rotate", "flop"], "image")
    assert str(err.value) == (
        "The 'names' parameter of from_names must be one of {'rotate', 'flip', 'vflip', "
        "'scale', 'translate', 'noise', 'erase'} for kind 'image'. Got 'flop' instead.")
    with pytest.raises(rl.InvalidParameterError, match=r"\{'noise', 'swap'\} for kind 'tabular'"):
        A.from_names(["rotate"], "tabular")
    with pytest.raises(rl.InvalidParameterError, match="'kind' parameter of from_names"):
        A.from_names(["noise"], "video")


# ----------------------------------------------------------------------------- mixing
def _constant_batch(b, shape=(1, 4, 4)):
    # sample i is the constant i + 1: mixing weights can be read back from the pixels
    return (torch.arange(b, dtype=torch.float64) + 1).view(b, *([1] * len(shape))).expand(
        b, *shape).contiguous()


def test_mixup_weights_beta_symmetric_and_soft_targets():
    b = 2000
    x = _constant_batch(b)
    y = torch.arange(b)  # one class per sample: the soft label names both samples and lam
    xm, ys = A.Mixup(alpha=0.4, seed=0)(x, y, num_classes=b)
    assert ys.dtype == torch.float64 and ys.shape == (b, b)
    torch.testing.assert_close(ys.sum(1), torch.ones(b, dtype=torch.float64))
    lam = ys[y, y]
    other = ys.clone()
    other[y, y] = 0
    j = other.argmax(1)
    assert bool((j != y).all()) and int((ys > 0).sum(1).max()) == 2  # one other sample
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)), symmetric about 1/2
    var = 1 / (4 * (2 * 0.4 + 1))
    assert abs(float(lam.mean()) - 0.5) < 4.5 * math.sqrt(var / b)
    assert abs(float(lam.var()) - var) < 0.015
    low, high = int((lam < 0.25).sum()), int((lam > 0.75).sum())
    assert abs(low - high) < 4.5 * math.sqrt(low + high)
    # the pixels are mixed with exactly the target's weight: x_i' = lam x_i + (1 - lam) x_j
    torch.testing.assert_close(xm[:, 0, 0, 0], lam * x[:, 0, 0, 0] + (1 - lam) * x[j, 0, 0, 0])


def test_cutmix_label_weight_is_the_pasted_area():
    b = 1500
    x = _constant_batch(b, (2, 16, 12))
    y = torch.arange(b)  # one class per sample: the soft label names the partner
    xm, ys = A.CutMix(alpha=1.0, seed=0)(x, y, num_classes=b)
    torch.testing.assert_close(ys.sum(1), torch.ones(b, dtype=torch.float64))
    own = xm == x
    own_frac = own[:, 0].flatten(1).double().mean(1)
    torch.testing.assert_close(ys[torch.arange(b), y], own_frac)
    # what was pasted is one sample's, its label weight is its area, and it is a rectangle
    pasted = ~own[:, 0]
    src = (xm[:, 0] - 1).long()
    for i in range(0, b, 97):
        if pasted[i].any():
            j = int(src[i][pasted[i]][0])
            assert bool((src[i][pasted[i]] == j).all()) and j != i
            assert float(ys[i, j]) == pytest.approx(float(pasted[i].double().mean()))
            rows, cols = pasted[i].any(1).sum(), pasted[i].any(0).sum()
            assert int(rows * cols) == int(pasted[i].sum())
    # box area (1 - lam) H W with lam ~ U(0, 1) for alpha 1, shrunk only by clipping
    assert 0.25 < float(1 - own_frac.mean()) < 0.5


def test_cutmix_on_signals_pastes_a_segment():
    x = _constant_batch(300, (1, 50))
    xm, ys = A.CutMix(alpha=1.0, seed=1)(x, torch.arange(300), num_classes=300)
    own_frac = (xm == x)[:, 0].double().mean(1)
    torch.testing.assert_close(ys[torch.arange(300), torch.arange(300)], own_frac)


@pytest.mark.parametrize("cls", [A.Mixup, A.CutMix])
def test_mixing_identity_seed_and_no_in_place(cls):
    x = torch.randn(64, 1, 8, 8, generator=gen(0))
    y = torch.randint(0, 5, (64,), generator=gen(1))
    before = x.clone()
    for mix in (cls(alpha=1.0, strength=0.0), cls(alpha=1.0, p=0.0)):
        xm, ys = mix(x, y, num_classes=5)
        assert torch.equal(xm, x) and torch.equal(ys, F.one_hot(y, 5).float())
    a = cls(alpha=1.0, seed=7)(x, y, 5)
    b = cls(alpha=1.0, seed=7)(x, y, 5)
    c = cls(alpha=1.0, seed=8)(x, y, 5)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    assert torch.equal(x, before)
    # soft targets in, soft targets out (mixup after cutmix)
    _, ys2 = cls(alpha=1.0, seed=0)(a[0], a[1], 5)
    torch.testing.assert_close(ys2.sum(1), torch.ones(64))


def test_mixup_p_is_per_sample():
    x = _constant_batch(2000)
    xm, ys = A.Mixup(alpha=1.0, p=0.3, seed=0)(x, torch.arange(2000), num_classes=2000)
    mixed = ys.max(1).values < 1.0
    assert binomial_ok(int(mixed.sum()), 2000, 0.3)
    assert torch.equal(xm[~mixed], x[~mixed])


def test_soft_cross_entropy_matches_torch():
    logits = torch.randn(32, 7, generator=gen(0), dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 7, (32,), generator=gen(1))
    soft = torch.softmax(torch.randn(32, 7, generator=gen(2), dtype=torch.float64), 1)
    torch.testing.assert_close(A.soft_cross_entropy(logits, soft), F.cross_entropy(logits, soft))
    torch.testing.assert_close(A.soft_cross_entropy(logits, F.one_hot(y, 7).double()),
                               F.cross_entropy(logits, y))
    torch.testing.assert_close(A.soft_cross_entropy(logits, y, "sum"),
                               F.cross_entropy(logits, y, reduction="sum"))
    g1, = torch.autograd.grad(A.soft_cross_entropy(logits, soft), logits)
    torch.testing.assert_close(g1, (torch.softmax(logits, 1) - soft).detach() / 32)


# ----------------------------------------------------------------------------- bad parameters
BAD = [
    (lambda: A.RandomRotation(200), "The 'degrees' parameter of RandomRotation must be a float in "
     "the range [0, 180]. Got 200 instead."),
    (lambda: A.RandomRotation(10, padding_mode="wrap"), "The 'padding_mode' parameter of "
     "RandomRotation must be one of {'zeros', 'border', 'reflection'}. Got 'wrap' instead."),
    (lambda: A.HorizontalFlip(p=1.5), "The 'p' parameter of HorizontalFlip must be a float in the "
     "range [0, 1]. Got 1.5 instead."),
    (lambda: A.RandomScale(0, 1.1), "The 'low' parameter of RandomScale must be a float in the "
     "range (0, inf). Got 0 instead."),
    (lambda: A.RandomScale(1.2, 1.1), "The 'high' parameter of RandomScale must be a float >= low "
     "(1.2). Got 1.1 instead."),
    (lambda: A.RandomTranslate(-0.1), "The 'fraction' parameter of RandomTranslate must be a float "
     "in the range [0, 1]. Got -0.1 instead."),
    (lambda: A.GaussianNoise(std="0.1"), "The 'std' parameter of GaussianNoise must be a float in "
     "the range [0, inf). Got '0.1' instead."),
    (lambda: A.RandomErasing(scale=(0.4, 0.2)), "The 'scale' parameter of RandomErasing must be a "
     "pair (low, high) of floats in the range [0, 1] with low <= high. Got (0.4, 0.2) instead."),
    (lambda: A.RandomErasing(ratio=(0, 2)), "The 'ratio' parameter of RandomErasing must be a "
     "pair (low, high) of floats in the range (0, inf) with low <= high. Got (0, 2) instead."),
    (lambda: A.Shift(0.1, mode="reflect"), "The 'mode' parameter of Shift must be one of "
     "{'zeros', 'circular'}. Got 'reflect' instead."),
    (lambda: A.Shift(5), "The 'max_shift' parameter of Shift must be a float in the range [0, 1]. "
     "Got 5 instead."),
    (lambda: A.AmplitudeScale(1.5, 0.5), "The 'high' parameter of AmplitudeScale must be a float "
     ">= low (1.5). Got 0.5 instead."),
    (lambda: A.TimeWarp(-1), "The 'max_stretch' parameter of TimeWarp must be a float in the "
     "range [0, 10]. Got -1 instead."),
    (lambda: A.SwapNoise(1.5), "The 'fraction' parameter of SwapNoise must be a float in the "
     "range [0, 1]. Got 1.5 instead."),
    (lambda: A.Mixup(alpha=0), "The 'alpha' parameter of Mixup must be a float in the range "
     "(0, inf). Got 0 instead."),
    (lambda: A.CutMix(seed=1.5), "The 'seed' parameter of CutMix must be an int or None. Got 1.5 "
     "instead."),
    (lambda: A.Compose([A.GaussianNoise(), "flip"]), "The 'transforms' parameter of Compose must "
     "be a list of reglab.augment transforms. Got [GaussianNoise(std=0.1, p=1), 'flip'] instead."),
    (lambda: A.Compose(A.GaussianNoise()), "The 'transforms' parameter of Compose must be a list "
     "of reglab.augment transforms. Got GaussianNoise(std=0.1, p=1) instead."),
    (lambda: A.Compose(3), "The 'transforms' parameter of Compose must be a list of "
     "reglab.augment transforms. Got 3 instead."),
    (lambda: A.Compose([], strength=-1), "The 'strength' parameter of Compose must be a float in "
     "the range [0, inf) or a schedule. Got -1 instead."),
    (lambda: A.RandomRotation(10)(torch.zeros(4, 8, 8)), "The 'x' parameter of RandomRotation must "
     "be a floating-point tensor of shape (B, C, H, W). Got a torch.float32 tensor of shape "
     "(4, 8, 8) instead."),
    (lambda: A.Shift()(torch.zeros(4, 8, dtype=torch.long)), "The 'x' parameter of Shift must be a "
     "floating-point tensor of shape (B, L) or (B, C, L). Got a torch.int64 tensor of shape (4, 8) "
     "instead."),
    (lambda: A.SwapNoise()(torch.zeros(4, 1, 8)), "The 'x' parameter of SwapNoise must be a "
     "floating-point tensor of shape (B, F). Got a torch.float32 tensor of shape (4, 1, 8) "
     "instead."),
    (lambda: A.CutMix()(torch.zeros(4, 8), torch.zeros(4, dtype=torch.long), 3), "The 'x' parameter "
     "of CutMix must be a floating-point tensor of shape (B, C, H, W) or (B, C, L). Got a "
     "torch.float32 tensor of shape (4, 8) instead."),
    (lambda: A.Mixup()(torch.zeros(4, 8), torch.tensor([0, 1, 2, 3]), 3), "The 'y' parameter of "
     "Mixup must be class indices in [0, 2]. Got 'labels in [0, 3]' instead."),
    (lambda: A.Mixup()(torch.zeros(4, 8), torch.tensor([0, 1, 2]), 3), "The 'y' parameter of Mixup "
     "must be 4 labels, one per sample of x. Got '3 labels' instead."),
    (lambda: A.Mixup()(torch.zeros(4, 8), torch.zeros(4, 2), 3), "The 'y' parameter of Mixup must "
     "be int64 class indices (B,) or float soft targets (B, 3). Got a torch.float32 tensor of "
     "shape (4, 2) instead."),
    (lambda: A.soft_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 3), "avg"), "The 'reduction' "
     "parameter of soft_cross_entropy must be one of {'mean', 'sum', 'none'}. Got 'avg' instead."),
]


@pytest.mark.parametrize("build,message", BAD, ids=[m.split("'")[1] + f"-{i}"
                                                     for i, (_, m) in enumerate(BAD)])
def test_bad_parameters_exact_messages(build, message):
    with pytest.raises(rl.InvalidParameterError) as err:
        build()
    assert str(err.value) == message
