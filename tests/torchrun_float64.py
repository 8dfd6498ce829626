"""One rank of the float64 DDP run of tests/test_torchrun.py, started by torchrun.

Usage: torchrun ... tests/torchrun_float64.py OUT. Rank 0 writes ``OUT/result.json`` (status,
reason, per-epoch rows, final metrics) and ``OUT/state.safetensors`` (the best weights).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from safetensors.torch import save_file  # noqa: E402

from reglab.train.ddp import fit_distributed, joined_group, serve  # noqa: E402
from test_torchrun import SPEC, float64_data  # noqa: E402


def main(out: Path) -> None:
    data = float64_data()
    with joined_group(SPEC, "float64 tiny") as rank:
        if rank != 0:
            serve(SPEC, data)
            return
        result = fit_distributed(SPEC, data)
    save_file({k: v.contiguous() for k, v in result.state.items()},
              str(out / "state.safetensors"))
    (out / "result.json").write_text(json.dumps(
        {"status": result.status, "reason": result.reason, "epochs": result.epochs,
         "final": result.final}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
