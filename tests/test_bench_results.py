"""bench/run_all.py's merge: rerunning one benchmark replaces its section and nothing else."""

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("run_all", HERE.parent / "bench" / "run_all.py")
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)

PREVIOUS = """# Benchmark results

header text

## Sweep engine vs the roofline floor (bench/sweep.py)

old sweep

## Sweep engine vs the roofline floor, 20 epochs (bench/sweep.py --epochs 20)

a run with other flags

## `reglab compare` wall time (bench/compare_wall.py)

an older title of compare_wall

## `reglab compare` workloads (bench/compare_wall.py)

old workloads
"""


def test_a_rerun_replaces_its_own_section_and_keeps_every_other():
    fresh = {"sweep": "## Sweep engine vs the roofline floor (bench/sweep.py)\n\nnew sweep\n",
             "compare_wall": "## `reglab compare` workloads (bench/compare_wall.py)\n\nnew\n"}
    out = run_all.merge(PREVIOUS, fresh)
    assert [s.splitlines()[0] for s in out] == [
        "## Sweep engine vs the roofline floor (bench/sweep.py)",
        "## Sweep engine vs the roofline floor, 20 epochs (bench/sweep.py --epochs 20)",
        "## `reglab compare` wall time (bench/compare_wall.py)",
        "## `reglab compare` workloads (bench/compare_wall.py)"]
    assert "new sweep" in out[0] and "old sweep" not in "".join(out)
    assert "a run with other flags" in out[1] and "an older title" in out[2]
    assert out[3].endswith("new\n") and "old workloads" not in "".join(out)


def test_a_section_with_a_new_title_is_appended():
    fresh = {"gemm_shapes": "## Shapes (bench/gemm_shapes.py)\n\nrates\n"}
    out = run_all.merge(PREVIOUS, fresh)
    assert len(out) == 5 and out[-1] == fresh["gemm_shapes"]
    assert out[:4] == ["## " + c for c in PREVIOUS.split("\n## ")[1:]]


@pytest.mark.parametrize("name", run_all.SCRIPTS)
def test_every_script_named_exists(name):
    assert (HERE.parent / "bench" / f"{name}.py").is_file()
