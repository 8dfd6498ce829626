#!/usr/bin/env bash
# The GPU checks, as one prepared script for a lent GPU machine (issue 12):
#   1. the CUDA-marked tests (tests/test_cuda.py and every test parametrized on cuda);
#   2. bench/sweep.py on the GPU: K = 128 MLPs, 20 epochs, against the GPU's roofline floor;
# then the figures go into bench/RESULTS.md as the section "GPU (bench/device.sh)".
#
#   bash bench/device.sh            # on the GPU machine, from the repository root
#
# It uses .venv/bin/python when there is one, else $PYTHON or python3 (a GPU image's own
# torch with CUDA: the CPU wheel this project installs here cannot see a GPU). Where no GPU
# answers it stops at once with one line and exit code 2, before running anything.
# Results also go to $OUT (the device tool's folder that comes back), or bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ] && .venv/bin/python -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then PY=.venv/bin/python
else PY=python3
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ! "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    echo "device.sh: no CUDA GPU here ($PY: torch.cuda.is_available() is False); run it on a GPU machine" >&2
    exit 2
fi
out=${OUT:-bench/out}
mkdir -p "$out"
gpu=$("$PY" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"{p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, CUDA {torch.version.cuda}")')
echo "device.sh: $gpu"
set +e
"$PY" -m pytest -q -p no:cacheprovider -m 'cuda or not slow' -k 'cuda' tests 2>&1 | tee "$out/cuda-tests.txt"
tests_rc=${PIPESTATUS[0]}
set -e
"$PY" bench/sweep.py --device cuda --k 128 --epochs 20 --repeats 3 --markdown "$out/sweep-cuda.md" \
    2>&1 | tee "$out/sweep-cuda.txt"
"$PY" - "$out" "$gpu" "$tests_rc" <<'PYEOF'
import datetime, pathlib, re, sys
out, gpu, rc = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
summary = (out / "cuda-tests.txt").read_text().strip().splitlines()[-1]
section = "\n".join([
    "## GPU (bench/device.sh)", "",
    f"- machine: {gpu}; date {datetime.date.today().isoformat()}",
    f"- CUDA-marked tests: `{summary}` (exit code {rc})", "",
    (out / "sweep-cuda.md").read_text().replace("## ", "### ", 1).strip(), ""])
results = pathlib.Path("bench/RESULTS.md")
text = results.read_text() if results.exists() else "# Benchmark results\n"
old = re.compile(r"^## GPU \(bench/device\.sh\)\n.*?(?=^## |\Z)", re.S | re.M)
text = old.sub(section + "\n", text) if old.search(text) else text.rstrip() + "\n\n" + section
results.write_text(text)
(out / "RESULTS.md").write_text(text)
print("device.sh: bench/RESULTS.md updated")
PYEOF
exit "$tests_rc"
