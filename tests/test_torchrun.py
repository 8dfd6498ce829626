"""Multi-node DDP (issue 17): ``torchrun --nnodes 2 --nproc-per-node 1`` on loopback, two
"nodes" joining one env:// group, gives the numbers of ``--nproc 2``.

float64 (the data trick of test_distributed.py: float64 inputs make a float64 model), L1 +
L2 terms, proximal L1, decoupled decay, augmentation, mixup and early stopping: per-epoch
rows and the best weights agree to 1e-9. ``reglab run`` under torchrun stores what
``reglab run --nproc 2`` stores.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from reglab.lab.spec import RunSpec
from reglab.train.ddp import fit_distributed, free_port

sys.path.insert(0, str(Path(__file__).parent))
from lab_tiny import tiny  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(),
                                reason="torch.distributed is not available in this build")

SPEC = RunSpec(data="tiny", model="mlp", hidden=(8,), optimizer="adam", lr=0.3, epochs=10,
               batch_size=15, l1=1e-3, l2=1e-3, weight_decay=1e-2, proximal_l1=1e-2,
               patience=2, augment=("noise",), mixup=0.4)
HERE = Path(__file__).parent


def float64_data() -> SimpleNamespace:
    data = tiny("tabular", n=86, classes=3)
    split = lambda s: SimpleNamespace(X=s.X.double(), y=s.y)  # noqa: E731
    return SimpleNamespace(kind=data.kind, input_shape=data.input_shape,
                           num_classes=data.num_classes, train=split(data.train),
                           val=split(data.val), test=split(data.test))


def two_nodes(command: list[str], cwd: Path) -> list[tuple[int, str]]:
    """Run ``torchrun --nnodes 2 --nproc-per-node 1 ... COMMAND`` as node 0 and node 1 on
    loopback; (exit code, stderr) of each."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node",
         "1", "--node-rank", str(r), "--master-addr", "127.0.0.1", "--master-port", str(port),
         *command], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for r in (0, 1)]
    outs = [n.communicate(timeout=300) for n in nodes]
    return [(n.returncode, o[1]) for n, o in zip(nodes, outs)]


@pytest.mark.slow  # 16 s; DDP against one process stays in the default run (test_distributed)
def test_two_torchrun_nodes_equal_nproc_2_in_float64(tmp_path):
    done = two_nodes([str(HERE / "torchrun_float64.py"), str(tmp_path)], tmp_path)
    assert [c for c, _ in done] == [0, 0], [e[-2000:] for _, e in done]
    got = json.loads((tmp_path / "result.json").read_text())
    state = load_file(str(tmp_path / "state.safetensors"))
    ref = fit_distributed(SPEC, float64_data(), nproc=2, timeout=120)
    assert ref.reason.startswith("early stopping: Stopped at epoch 8")
    assert (got["status"], got["reason"]) == (ref.status, ref.reason)
    assert len(got["epochs"]) == len(ref.epochs)
    for key in ("data_loss", "penalty", "train_acc", "val_loss", "val_acc", "sparsity"):
        a = torch.tensor([r[key] for r in ref.epochs], dtype=torch.float64)
        b = torch.tensor([r[key] for r in got["epochs"]], dtype=torch.float64)
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12, msg=key)
    assert state.keys() == ref.state.keys()
    for k in state:
        assert state[k].dtype == torch.float64
        torch.testing.assert_close(state[k], ref.state[k], rtol=1e-9, atol=1e-12, msg=k)
    for key in ("test_acc", "test_loss", "best_epoch", "epochs_trained", "sparsity"):
        assert got["final"][key] == pytest.approx(ref.final[key], rel=1e-9, abs=1e-12)


def _results(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]


@pytest.mark.slow  # two torchrun agents and a --nproc 2 run, each starting torch: ~20 s
def test_reglab_run_under_torchrun_stores_what_nproc_2_stores(tmp_path):
    argv = ["run", "--data", "digits", "--epochs", "3", "--hidden", "16", "--l1", "1e-4",
            "--quiet", "--name", "t"]
    done = two_nodes(["-m", "reglab.cli", *argv, "--out", "tr"], tmp_path)
    assert [c for c, _ in done] == [0, 0], [e[-2000:] for _, e in done]
    ref = subprocess.run([sys.executable, "-m", "reglab.cli", *argv, "--nproc", "2", "--out",
                          "np"], cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    got, want = _results(tmp_path / "tr" / "t" / "results.csv"), _results(
        tmp_path / "np" / "t" / "results.csv")
    assert got == want and got[0]["status"] == "done"
    a = load_file(str(tmp_path / "tr" / "t" / "models" / "run-s0.safetensors"))
    b = load_file(str(tmp_path / "np" / "t" / "models" / "run-s0.safetensors"))
    for k in b:
        torch.testing.assert_close(a[k], b[k], rtol=1e-9, atol=0, msg=k)
    # the same command again: rank 0 finds the run stored and tells rank 1 to stop
    again = two_nodes(["-m", "reglab.cli", *argv, "--out", "tr"], tmp_path)
    assert [c for c, _ in again] == [0, 0], [e[-2000:] for _, e in again]
    assert _results(tmp_path / "tr" / "t" / "results.csv") == want
