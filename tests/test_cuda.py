"""The CUDA paths, run by ``bench/device.sh`` on a GPU machine (marked ``cuda``; skipped here).

On the CPU these tests are skipped with the reason: no GPU has been lent to this project's
machines, so they are the only check of the CUDA branches (the stacked engine on CUDA, the
batched dropout draw, augmentation on the device, DDP with NCCL).
"""

from __future__ import annotations

import math

import pytest
import torch

from lab_tiny import tiny
from reglab import augment as A
from reglab.lab.spec import RunSpec
from reglab.train.sequential import fit
from reglab.train.stacked import train_chunk

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="needs a CUDA GPU (bench/device.sh runs these on one)")]

BASE = RunSpec(data="tiny", model="mlp", hidden=(12, 10), optimizer="adam", lr=1e-2,
               epochs=5, batch_size=16, device="cuda")


def _as64(data):
    for part in ("train", "val", "test"):
        getattr(data, part).X = getattr(data, part).X.double()
    return data


def test_stacked_members_equal_the_sequential_runs_on_cuda_in_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        data = _as64(tiny("image", n=64, seed=0))
        specs = [BASE.replace(seed=0, **ch) for ch in
                 ({}, {"l1": 3e-3}, {"l2": 3e-3}, {"proximal_l1": 0.5}, {"weight_decay": 0.5},
                  {"patience": 1, "epochs": 10})]
        for spec, vec in zip(specs, train_chunk(specs, [data] * len(specs))):
            seq = fit(spec, data)
            assert vec.status == seq.status and vec.reason == seq.reason
            for a, b in zip(vec.epochs, seq.epochs):
                assert math.isclose(a["val_loss"], b["val_loss"], rel_tol=1e-9)
    finally:
        torch.set_default_dtype(old)


def test_dropout_on_cuda_keeps_the_expected_fraction():
    data = tiny("image", n=256, seed=1)
    res = train_chunk([BASE.replace(dropout=0.5, seed=s) for s in (0, 1)], [data] * 2)
    assert all(r.status == "done" and math.isfinite(r.final["test_loss"]) for r in res)


def test_augmentation_runs_on_the_device_and_is_seeded():
    x = torch.randn(32, 1, 8, 8, device="cuda")
    make = lambda: A.Compose([A.RandomRotation(15), A.RandomScale(0.9, 1.1),  # noqa: E731
                              A.GaussianNoise(0.1)], seed=3)
    a, b = make()(x), make()(x)
    assert a.device.type == "cuda" and torch.equal(a, b) and not torch.equal(a, x)


def test_ddp_on_one_gpu_with_nccl_equals_one_process():
    from reglab.train.ddp import fit_distributed
    spec = BASE.replace(epochs=3)
    data = tiny("image", n=64, seed=2)
    one, ddp = fit(spec, data), fit_distributed(spec, data, nproc=1)
    assert ddp.status == one.status
    assert math.isclose(ddp.final["val_loss"], one.final["val_loss"], rel_tol=1e-5)
