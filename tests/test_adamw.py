"""``--optimizer adamw`` is torch.optim.AdamW: its own decoupled decay is the spec's
weight_decay, the lab's decay hook is then not attached, so the decay is applied exactly once
(issue 15: it used to be Adam with AdamW's decay forced to 0). Decay comes before the update,
as in AdamW, in both engines.

Reference: Adam + ``rl.DecoupledWeightDecay`` (a step pre-hook), which *is* AdamW
(``test_updates.test_adam_plus_decoupled_decay_is_adamw``); applying the decay twice or not
at all would move the weights away from it.
"""

from __future__ import annotations

import pytest
import torch

from lab_tiny import tiny
from reglab.lab.spec import RunSpec
from reglab.train.models import build_model
from reglab.train.sequential import attach_updates, fit, make_optimizer
from reglab.train.stacked import train_chunk

BASE = RunSpec(data="tiny", model="mlp", hidden=(12, 10), optimizer="adamw", lr=1e-2,
               epochs=4, batch_size=16, weight_decay=0.5)


def _data():
    data = tiny("image", n=64, seed=0)
    for part in ("train", "val", "test"):
        getattr(data, part).X = getattr(data, part).X.double()
    return data


def test_adamw_is_torch_adamw_with_the_specs_decay_on_the_weights_only():
    model = build_model(BASE, "image", (1, 8, 8), 3)
    opt = make_optimizer(BASE, model)
    assert type(opt) is torch.optim.AdamW
    decayed, kept = opt.param_groups
    assert (decayed["weight_decay"], kept["weight_decay"]) == (0.5, 0.0)
    assert {id(p) for p in decayed["params"]} == {id(p) for p in model.parameters()
                                                   if p.ndim >= 2}
    assert attach_updates(BASE, model, opt) == []            # no second decay
    adam = BASE.replace(optimizer="adam")
    handles = attach_updates(adam, model, make_optimizer(adam, model))
    assert len(handles) == 1                                 # Adam gets the decay hook
    handles[0].remove()


def test_adamw_trains_exactly_like_adam_plus_the_decoupled_decay_step(float64):
    data = _data()
    adamw, adam = fit(BASE, data), fit(BASE.replace(optimizer="adam"), data)
    no_decay = fit(BASE.replace(weight_decay=0.0), data)
    for k, v in adam.state.items():
        torch.testing.assert_close(adamw.state[k], v, rtol=1e-12, atol=1e-12)
    moved = max(float((adamw.state[k] - no_decay.state[k]).abs().max()) for k in adam.state)
    assert moved > 1e-3  # the decay does act


def test_the_stacked_engine_reproduces_sequential_adamw(float64):
    data = _data()
    specs = [BASE, BASE.replace(weight_decay=0.1, seed=1)]
    for spec, vec in zip(specs, train_chunk(specs, [data, data])):
        seq = fit(spec, data)
        assert [r["val_loss"] for r in vec.epochs] == pytest.approx(
            [r["val_loss"] for r in seq.epochs], rel=1e-9)
        for k, v in seq.state.items():
            torch.testing.assert_close(vec.state[k], v, rtol=1e-8, atol=1e-8)
