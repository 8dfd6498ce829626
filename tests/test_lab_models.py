"""Models: output shapes per kind, dropout placement, parameter counts."""

import pytest
import torch

from reglab import InvalidParameterError
from torch.utils.flop_counter import FlopCounterMode

from reglab.train.models import build_model, multiply_adds, parameter_count
from reglab.lab.spec import RunSpec

SHAPES = {"image": (1, 8, 8), "signal": (1, 40), "tabular": (13,)}


@pytest.mark.parametrize("model", ["linear", "mlp", "cnn"])
@pytest.mark.parametrize("kind", ["image", "signal", "tabular"])
def test_output_shape_per_kind(model, kind):
    spec = RunSpec(model=model, hidden=(16, 8), dropout=0.2)
    if model == "cnn" and kind == "tabular":
        with pytest.raises(InvalidParameterError, match="'model' parameter of RunSpec"):
            build_model(spec, kind, SHAPES[kind], 4)
        return
    net = build_model(spec, kind, SHAPES[kind], 4)
    assert net(torch.randn(5, *SHAPES[kind])).shape == (5, 4)


def test_linear_is_multinomial_logistic_regression():
    net = build_model(RunSpec(model="linear"), "tabular", (13,), 3)
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 13 * 3 + 3


def test_mlp_puts_dropout_after_each_hidden_activation():
    from reglab.dropout import Dropout
    net = build_model(RunSpec(hidden=(16, 8), dropout=0.3, activation="tanh"), "image",
                      (1, 8, 8), 10)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Flatten", "Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout",
                     "Linear"]
    assert all(isinstance(m, Dropout) for m in net if type(m).__name__ == "Dropout")
    assert [m.drop for m in net if isinstance(m, Dropout)] == [0.3, 0.3]
    plain = build_model(RunSpec(hidden=(16, 8)), "image", (1, 8, 8), 10)
    assert "Dropout" not in [type(m).__name__ for m in plain]


def test_cnn_is_2d_for_images_and_1d_for_signals():
    img = build_model(RunSpec(model="cnn", hidden=(32,)), "image", (1, 8, 8), 10)
    sig = build_model(RunSpec(model="cnn", hidden=(32,)), "signal", (1, 40), 10)
    assert any(isinstance(m, torch.nn.Conv2d) for m in img)
    assert any(isinstance(m, torch.nn.Conv1d) for m in sig)


def test_global_pool_cnn_is_four_padded_convs_a_global_max_and_dropout_before_the_head():
    for kind, shape, conv in (("image", (1, 8, 8), torch.nn.Conv2d),
                              ("signal", (1, 40), torch.nn.Conv1d)):
        net = build_model(RunSpec(model="cnn", cnn_arch="global_pool", dropout=0.3), kind,
                          shape, 10)
        convs = [m for m in net if isinstance(m, conv)]
        assert [(c.out_channels, c.kernel_size[0], c.padding[0]) for c in convs] == [
            (64, 5, 2), (64, 5, 2), (128, 5, 2), (128, 5, 2)]
        names = [type(m).__name__ for m in net]
        assert names[-4:] == [f"AdaptiveMaxPool{len(shape) - 1}d", "Flatten", "Dropout",
                              "Linear"] and names.count(f"MaxPool{len(shape) - 1}d") == 1
        assert parameter_count(RunSpec(model="cnn", cnn_arch="global_pool"), kind, shape,
                               10) == sum(p.numel() for p in net.parameters())
        assert net(torch.randn(3, *shape)).shape == (3, 10)
    # shift-invariant: content moved by an even step inside a zero margin wide enough that no
    # position seeing the content also sees the padding (receptive field +-12 samples, twice)
    # gives the same logits exactly; the one pool by 2 makes an odd step only approximate
    net = build_model(RunSpec(model="cnn", cnn_arch="global_pool"), "signal", (1, 100), 10)
    x = torch.nn.functional.pad(torch.randn(3, 1, 40), (30, 30))
    for step in (2, -4):
        assert torch.equal(net.eval()(torch.roll(x, step, dims=-1)), net(x))
    assert not torch.equal(net(torch.roll(x, 1, dims=-1)), net(x))
    with pytest.raises(InvalidParameterError, match="'standard' or 'gaussian' for cnn_arch"):
        build_model(RunSpec(model="cnn", cnn_arch="global_pool", dropout=0.3,
                            dropout_kind="dropconnect"), "signal", (1, 40), 10)
    with pytest.raises(InvalidParameterError, match="at least 2 per side"):
        build_model(RunSpec(model="cnn", cnn_arch="global_pool"), "signal", (1, 1), 10)


def test_global_pool_runs_train_one_by_one():
    from reglab.lab.execute import sequential_only
    assert sequential_only(RunSpec(model="cnn", cnn_arch="global_pool")) == ["cnn_arch"]
    assert sequential_only(RunSpec(model="cnn")) == []
    assert sequential_only(RunSpec(model="mlp", cnn_arch="global_pool")) == []  # no CNN


@pytest.mark.parametrize("model, kind, shape, arch", [
    ("cnn", "image", (1, 8, 8), "two_block"), ("cnn", "image", (3, 12, 10), "two_block"),
    ("cnn", "signal", (2, 40), "two_block"), ("cnn", "signal", (2, 40), "global_pool"),
    ("cnn", "image", (1, 8, 8), "global_pool"), ("cnn", "signal", (1, 41), "global_pool"),
    ("mlp", "image", (1, 8, 8), "two_block"), ("linear", "table", (13,), "two_block")])
def test_multiply_adds_are_torchs_flop_count_plus_the_bias_adds(model, kind, shape, arch):
    # the reference: torch's FLOP counter on one sample's forward pass (2 per multiply-add of a
    # conv or linear layer, biases not counted), plus one add per bias and output position
    spec = RunSpec(model=model, hidden=(24, 16) if model == "mlp" else (20,), cnn_arch=arch)
    net = build_model(spec, kind, shape, 7).eval()
    biases = []
    net.apply(lambda m: m.register_forward_hook(
        lambda mod, inp, out: biases.append(out[0].numel()) if getattr(mod, "bias", None)
        is not None else None))
    with FlopCounterMode(display=False) as count, torch.no_grad():
        net(torch.zeros(1, *shape))
    assert multiply_adds(spec, kind, shape, 7) == count.get_total_flops() // 2 + sum(biases)

