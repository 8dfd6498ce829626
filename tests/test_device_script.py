"""bench/device.sh, the prepared GPU check, stops with one clear line where no GPU answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: device.sh would run")
def test_device_script_refuses_without_a_gpu_and_runs_nothing(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "device.sh")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"device.sh: no CUDA GPU here ({sys.executable}: "
                                   "torch.cuda.is_available() is False); run it on a GPU machine")
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_sweep_on_cuda_says_it_needs_a_gpu():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "sweep.py"), "--device", "cuda"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 2
    assert "sweep.py: --device cuda needs a CUDA GPU" in proc.stderr
