"""Choose the default strength of each `reglab compare` arm on VALIDATION data.

For each built-in data set given, every arm's candidate strengths are trained on seeds that
`compare` does not use (10, 11) and scored by mean validation accuracy (ties: validation
loss). The test split is never read. Stage 2 picks `all` among combinations of the stage-1
winners. The numbers go to scripts/select_defaults.md; the picks are then copied by hand
into src/reglab/lab/defaults.toml (so a change of defaults is a reviewed commit).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/select_defaults.py digits mnist1d
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import reglab.data
from reglab.lab.arms import base_changes
from reglab.lab.execute import Job, run_experiment
from reglab.lab.spec import RunSpec
from reglab.lab.store import Store

SEEDS = (10, 11)
AUG = {"image": [("rotate",), ("translate",), ("rotate", "scale", "translate"), ("noise",)],
       "signal": [("shift",), ("shift", "scale"), ("shift", "scale", "noise"), ("noise",)],
       "tabular": [("noise",), ("swap",)]}
GRID = {
    "none": [{}],
    "l1": [{"proximal_l1": v} for v in (0.1, 0.3, 1.0, 3.0)],
    "l2": [{"l2": v} for v in (1e-4, 3e-4, 1e-3, 3e-3)],
    "dropout": [{"dropout": v} for v in (0.1, 0.2, 0.3, 0.5)],
    "early_stopping": [{"patience": v} for v in (5, 10, 20)],
}


def score(store: Store) -> dict[str, tuple[float, float]]:
    """Per candidate label: (mean val acc, mean val loss) over the seeds."""
    out: dict[str, list] = {}
    for r in store.runs():
        if r["status"] == "done":
            out.setdefault(r["arm"], []).append((r["final"]["val_acc"], r["final"]["val_loss"]))
    return {k: (statistics.mean(a for a, _ in v), statistics.mean(b for _, b in v))
            for k, v in out.items()}


def run_grid(data: str, kind: str, grid: dict[str, list[dict]], folder: Path, tag: str):
    base = RunSpec.from_dict({**base_changes(kind), "data": data})
    jobs, labels, scores = [], {}, {}
    for arm, cands in grid.items():
        for i, ch in enumerate(cands):
            label = f"{arm}.{i}"
            labels[label] = (arm, ch)
            jobs += [Job(f"{label}-s{s}".replace(".", "_"), label, base.replace(seed=s, **ch))
                     for s in SEEDS]
    run_experiment(jobs, folder, f"select-{data}-{tag}", engine="sequential",
                   after=lambda store: scores.update(score(store)))
    return {k: (labels[k], v) for k, v in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="+")
    ap.add_argument("--folder", default=tempfile.gettempdir() + "/reglab-select")
    args = ap.parse_args()
    lines = ["# Default strengths chosen on validation data", "",
             f"`scripts/select_defaults.py DATA...`; seeds {SEEDS}; score = mean validation accuracy "
             "(ties: validation loss) on the final (early-stopping-restored) weights; the "
             "test split is never read.", ""]
    for data in args.data:
        t0 = time.time()
        kind = reglab.data.load(data, seed=0).kind
        grid = dict(GRID, augment=[{"augment": a} for a in AUG[kind]])
        res = run_grid(data, kind, grid, Path(args.folder), "single")
        picks = {}
        lines += [f"## {data} ({kind}, base {base_changes(kind)})", "",
                  "| arm | setting | val acc % | val loss |", "|---|---|---|---|"]
        for label, ((arm, ch), (acc, loss)) in sorted(res.items()):
            lines.append(f"| {arm} | {ch} | {100 * acc:.2f} | {loss:.4f} |")
            if arm not in picks or (acc, -loss) > (picks[arm][1][0], -picks[arm][1][1]):
                picks[arm] = (ch, (acc, loss))
        merged = {k: v for arm in ("l2", "dropout", "early_stopping", "augment")
                  for k, v in picks[arm][0].items()}
        half = dict(merged, l2=merged["l2"] / 3, dropout=round(merged["dropout"] / 2, 3))
        combos = [merged, half, {k: v for k, v in merged.items() if k != "augment"},
                  {k: v for k, v in half.items() if k != "augment"}]
        res2 = run_grid(data, kind, {"all": combos}, Path(args.folder), "all")
        lines += ["", "`all` (L2 + dropout + early stopping + augmentation) candidates:", "",
                  "| setting | val acc % | val loss |", "|---|---|---|"]
        for label, ((arm, ch), (acc, loss)) in sorted(res2.items()):
            lines.append(f"| {ch} | {100 * acc:.2f} | {loss:.4f} |")
            if arm not in picks or (acc, -loss) > (picks[arm][1][0], -picks[arm][1][1]):
                picks[arm] = (ch, (acc, loss))
        lines += ["", "Picks:", ""] + [f"- {arm}: `{ch}` (val acc {100 * a:.2f}%)"
                                       for arm, (ch, (a, _)) in picks.items()]
        lines += ["", f"({time.time() - t0:.0f} s)", ""]
        print("\n".join(lines[-12:]), flush=True)
    write_sections(Path(__file__).with_suffix(".md"), "\n".join(lines) + "\n")


def write_sections(path: Path, new: str) -> None:
    """Replace the "## data" sections this run measured; keep the other data sets' sections."""
    def sections(text: str) -> dict[str, str]:
        parts = text.split("\n## ")
        return {p.split(" ", 1)[0]: "## " + p for p in parts[1:]}
    head = new.split("\n## ")[0]
    old = sections(path.read_text()) if path.exists() else {}
    merged = {**old, **sections(new)}
    path.write_text(head + "\n" + "\n".join(s.rstrip("\n") + "\n" for s in merged.values()))


if __name__ == "__main__":
    main()
