"""DDP training (reglab run --nproc): 2 CPU processes (gloo) against one process, float64.

Same global batches (the seed's permutation, uneven slices of 15-row batches and a short last
batch), L1 + L2 loss terms, proximal L1, decoupled decay, augmentation, mixup and early
stopping: per-epoch losses and the final weights must agree to rounding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from reglab.train.ddp import fit_distributed
from reglab.train.sequential import fit
from reglab.lab.spec import RunSpec

sys.path.insert(0, str(Path(__file__).parent))
from lab_tiny import float64_copy, tiny  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(),
                                reason="torch.distributed is not available in this build")




def _single(spec, data):
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    try:
        return fit(spec, data)
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)


def test_two_processes_match_one_process_on_the_same_global_batches():
    data = float64_copy(tiny("tabular", n=86, classes=3))
    spec = RunSpec(data="tiny", model="mlp", hidden=(8,), optimizer="adam", lr=0.3,
                   epochs=10, batch_size=15, l1=1e-3, l2=1e-3, weight_decay=1e-2,
                   proximal_l1=1e-2, patience=2, augment=("noise",), mixup=0.4)
    one = _single(spec, data)
    seen = []
    two = fit_distributed(spec, data, nproc=2, on_epoch=lambda e, row: seen.append(e),
                          timeout=120)
    assert one.reason.startswith("early stopping: Stopped at epoch 8")  # best: epoch 6 (from 1)
    assert (two.status, two.reason) == (one.status, one.reason)
    assert seen == list(range(len(one.epochs)))
    for key in ("data_loss", "penalty", "train_acc", "val_loss", "val_acc", "sparsity"):
        a = torch.tensor([r[key] for r in one.epochs], dtype=torch.float64)
        b = torch.tensor([r[key] for r in two.epochs], dtype=torch.float64)
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12, msg=key)
    assert one.final["sparsity"] > 0  # the proximal step made exact zeros, on both
    assert one.state.keys() == two.state.keys()
    for k in one.state:
        assert two.state[k].dtype == torch.float64
        torch.testing.assert_close(two.state[k], one.state[k], rtol=1e-9, atol=1e-12, msg=k)
    for key in ("test_acc", "test_loss", "best_epoch", "epochs_trained"):
        assert two.final[key] == pytest.approx(one.final[key], rel=1e-9, abs=1e-12)


def test_two_processes_follow_the_lr_schedule_and_label_smoothing_of_one_process():
    data = float64_copy(tiny("tabular", n=86, classes=3))
    spec = RunSpec(data="tiny", model="mlp", hidden=(8,), optimizer="adam", lr=0.1,
                   epochs=6, batch_size=15, weight_decay=1e-2, lr_schedule="cosine",
                   warmup=0.2, label_smoothing=0.1, mixup=0.4)
    one = _single(spec, data)
    two = fit_distributed(spec, data, nproc=2, timeout=120)
    lrs = [r["lr"] for r in one.epochs]
    assert lrs[0] < lrs[1] and lrs[-1] < lrs[1] / 10  # warmed up, then cosine toward 0
    for key in ("data_loss", "val_loss", "lr"):
        a = torch.tensor([r[key] for r in one.epochs], dtype=torch.float64)
        b = torch.tensor([r[key] for r in two.epochs], dtype=torch.float64)
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12, msg=key)


def test_the_new_knobs_under_ddp_match_one_process():
    """Elastic net, group lasso (term and prox), a Prechelt criterion and schedules (a loss
    term's and an update rule's, per epoch): the same builders on both backends."""
    data = float64_copy(tiny("tabular", n=86, classes=3))
    spec = RunSpec(data="tiny", model="mlp", hidden=(8,), optimizer="adam", lr=0.3,
                   epochs=8, batch_size=15, elastic_net=1e-3, l1_ratio=0.3, group_lasso=1e-3,
                   proximal_group_lasso=1e-2, patience=0, stop_criterion="up", stop_strip=2,
                   stop_strips=1,
                   l2={"schedule": "linear", "start": 0.0, "end": 1e-2},
                   weight_decay={"schedule": "cosine", "start": 0.1, "end": 0.0, "steps": 4})
    one = _single(spec, data)
    two = fit_distributed(spec, data, nproc=2, timeout=120)
    assert "validation error rose in 1 successive strips of 2 epochs" in one.reason
    assert (two.status, two.reason) == (one.status, one.reason)
    for key in ("data_loss", "penalty", "val_loss", "sparsity"):
        a = torch.tensor([r[key] for r in one.epochs], dtype=torch.float64)
        b = torch.tensor([r[key] for r in two.epochs], dtype=torch.float64)
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12, msg=key)
    for k in one.state:
        torch.testing.assert_close(two.state[k], one.state[k], rtol=1e-9, atol=1e-12, msg=k)
