"""Choose the defaults of ``reglab compare`` (the base run and each arm's strength) on
VALIDATION data only.

Protocol (per built-in data set; the test split is never read, not even printed):

* Every candidate is trained on the selection seeds (:func:`selection_seeds`: 10, 11, ...),
  each of which is also the run's split seed: different train/validation splits, none of them a split
  ``compare`` reports (compare uses seeds 0, 1, 2...). There are as many as it takes for the
  selection to see at least :data:`MIN_VAL_ROWS` (1200) validation rows in all, the count one
  MNIST-1D selection already had (2 x 600): digits 5 x 269 = 1345 images, breast_cancer 14 x
  86 = 1204 rows. (Until 2026-12-03 digits and breast_cancer used three splits: on digits 807
  images, where the best candidates differ by one or two images and one standard error is one
  image.) The score of a candidate is its mean validation accuracy over those seeds (ties: mean
  validation loss), on the final (early-stopping-restored) weights.
* Stage 1, the budget: base runs (width, epochs, learning-rate schedule) are scored twice:
  plain (the ``none`` arm) and with a reference regularized recipe. Regularized arms are what
  needs the budget, so the regularized score decides, by the one-standard-error rule (as in
  CART and glmnet's ``lambda.1se``): among the bases whose reference score is within one
  standard error of the best one (the sample std of the best base's per-seed scores over
  sqrt(seeds)), the cheapest is kept, cost = epochs x multiply-adds per sample (a count, not a
  timing, so the pick does not depend on the machine). Scores closer than that are a few
  validation images apart and flip with the CPU's float rounding; a budget that costs twice as
  much must earn it. The plain scores say whether ``none`` loses anything by training as long
  (then it would deserve a shorter budget of its own, and the table says so).
* Stage 2, each arm alone on that base: a grid of strengths per technique.
* Stage 3, ``all`` (the note's combination: L2 + dropout + early stopping + augmentation,
  and label smoothing, an addition, where validation prefers it): the stage-2 winners
  together, softer variants of them, and the same with the stage-2 label smoothing. Since
  2026-12-05 label smoothing is a candidate of ``all``: an arm of ``compare`` that a user reads
  as "every technique together" should not leave out one of the arms it lists (L1 stays out:
  the note keeps it for sparse linear models). Whether it is in is the validation's choice,
  and the note's own combination stays in the table.

``--model cnn`` runs the same protocol for the CNN (its own bases in :data:`CNN_BASES`; the
dense layer's width is ``hidden[0]``); its picks go to the ``[KIND.models.cnn]`` tables of
``defaults.toml``, which ``compare --model cnn`` uses instead of the MLP's.

The numbers go to ``scripts/select_defaults.md``; the picks are copied by hand into
``src/reglab/lab/defaults.toml`` (a change of defaults is a reviewed commit). Runs are stored under
``--folder`` and reused, so a rerun (or a grown grid) trains only what is new.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/select_defaults.py digits
    OMP_NUM_THREADS=1 .venv/bin/python scripts/select_defaults.py digits --model cnn

``--stage3-only`` re-runs stage 3 alone, on the base and stage-2 picks of ``defaults.toml``
(the earlier selection's), and replaces only that part of the data set's section.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import reglab.data
from reglab.lab.execute import Job, run_experiment
from reglab.lab.spec import RunSpec
from reglab.train.models import multiply_adds

DATA = ("breast_cancer", "digits", "mnist1d")
FIRST_SEED, MIN_VAL_ROWS = 10, 1200


def selection_seeds(val_rows: int) -> tuple[int, ...]:
    """Split seeds 10, 11, ...: as many as give at least MIN_VAL_ROWS validation rows."""
    return tuple(range(FIRST_SEED, FIRST_SEED - (-MIN_VAL_ROWS // val_rows)))


# Stage 1: base runs per data set (the arms change strengths only).
BASES: dict[str, list[dict[str, Any]]] = {
    "digits": [
        {"hidden": (256, 256), "epochs": 40, "lr_schedule": "constant"},   # the old default
        {"hidden": (256, 256), "epochs": 100, "lr_schedule": "constant"},
        {"hidden": (256, 256), "epochs": 100, "lr_schedule": "cosine"},
        {"hidden": (256, 256), "epochs": 200, "lr_schedule": "cosine"},
        {"hidden": (512, 512), "epochs": 100, "lr_schedule": "cosine"},
        # later candidates: longer at a constant rate, and the same number of steps as
        # 100 epochs at batch 64 (the demo's cost) with batch 128 over 200 epochs
        {"hidden": (256, 256), "epochs": 200, "lr_schedule": "constant"},
        {"hidden": (256, 256), "epochs": 200, "lr_schedule": "constant", "batch_size": 128},
        {"hidden": (256, 256), "epochs": 200, "lr_schedule": "cosine", "batch_size": 128,
         "lr": 2e-3},
    ],
    "mnist1d": [
        {"hidden": (256, 256), "epochs": 60, "lr_schedule": "constant"},   # the old default
        {"hidden": (512, 512, 512), "epochs": 100, "lr_schedule": "cosine"},
        {"hidden": (512, 512, 512), "epochs": 200, "lr_schedule": "cosine"},
    ],
    "breast_cancer": [
        {"hidden": (128, 128), "epochs": 60, "lr_schedule": "constant"},   # the old default
        {"hidden": (128, 128), "epochs": 100, "lr_schedule": "cosine"},
    ],
}
# The CNN's bases (conv 32 -> 64, then a dense layer of hidden[0] units): hidden (256,) is
# what `--model cnn` trained with the MLP defaults (hidden[0] of 256-256 / 512-512-512).
CNN_BASES: dict[str, list[dict[str, Any]]] = {
    "digits": [
        {"hidden": (256,), "epochs": 100, "lr_schedule": "constant"},   # the MLP's base
        {"hidden": (256,), "epochs": 100, "lr_schedule": "cosine"},
        {"hidden": (256,), "epochs": 200, "lr_schedule": "cosine"},
        {"hidden": (128,), "epochs": 100, "lr_schedule": "cosine"},
    ],
    "mnist1d": [
        {"hidden": (512,), "epochs": 200, "lr_schedule": "cosine"},   # the MLP's base
        {"hidden": (256,), "epochs": 200, "lr_schedule": "cosine"},
        {"hidden": (512,), "epochs": 300, "lr_schedule": "cosine"},
        # the shift-invariant CNN (global max pool; hidden unused): a later candidate
        {"cnn_arch": "global_pool", "hidden": (512,), "epochs": 100, "lr_schedule": "cosine"},
        {"cnn_arch": "global_pool", "hidden": (512,), "epochs": 200, "lr_schedule": "cosine"},
    ],
}
FIXED = {"digits": {"batch_size": 64, "lr": 1e-3, "optimizer": "adam"},
         "mnist1d": {"batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
         "breast_cancer": {"batch_size": 32, "lr": 1e-3, "optimizer": "adam"}}

# A reference regularized recipe per data kind for stage 1 (the probes).
REFERENCE = {
    "image": {"augment": ("rotate", "translate", "scale"), "dropout": 0.3, "weight_decay": 0.05},
    "signal": {"augment": ("shift", "warp"), "dropout": 0.1, "weight_decay": 0.1},
    "tabular": {"augment": ("noise",), "dropout": 0.1, "weight_decay": 0.05},
}

AUG: dict[str, list[dict[str, Any]]] = {
    "image": [{"augment": ("rotate", "translate", "scale")},
              {"augment": ("rotate", "translate", "scale"), "augment_strength": 0.5},
              {"augment": ("rotate", "translate", "scale"), "augment_strength": 1.5},
              {"augment": ("rotate", "translate")},
              {"augment": ("translate", "scale")},
              {"augment": ("noise",)}],
    "signal": [{"augment": ("shift", "warp")},
               {"augment": ("shift", "warp"), "augment_strength": 0.5},
               {"augment": ("shift",)},
               {"augment": ("shift", "warp", "scale")}],
    "tabular": [{"augment": ("noise",)}, {"augment": ("noise",), "augment_strength": 0.5},
                {"augment": ("swap",)}],
}
GRID: dict[str, list[dict[str, Any]]] = {
    "l1": [{"proximal_l1": v} for v in (0.03, 0.1, 0.3)],
    "l2": [{"l2": v} for v in (1e-5, 1e-4, 1e-3)] + [{"weight_decay": v} for v in (0.01, 0.05, 0.2)],
    "dropout": [{"dropout": v} for v in (0.1, 0.2, 0.3, 0.5)],
    "early_stopping": [{"patience": v} for v in (10, 20, 40)],
    "label_smoothing": [{"label_smoothing": v} for v in (0.05, 0.1, 0.2)],
}

# mnist1d runs cost ~10x digits' (4000 signals, 512-512-512): a smaller grid around the
# strengths the probe and the old selection point to.
GRID_FOR: dict[str, dict[str, list[dict[str, Any]]]] = {
    "mnist1d": {
        "l1": [{"proximal_l1": 0.1}],
        "l2": [{"l2": 1e-4}, {"weight_decay": 0.05}, {"weight_decay": 0.2}],
        "dropout": [{"dropout": 0.1}, {"dropout": 0.2}],
        "early_stopping": [{"patience": 20}],
        "label_smoothing": [{"label_smoothing": 0.1}],
    },
}


# mnist1d CNN runs cost about as much as its MLP's: the same small grid, plus dropout 0.3 and
# patience 40
CNN_GRID_FOR: dict[str, dict[str, list[dict[str, Any]]]] = {
    "mnist1d": {
        "l1": [{"proximal_l1": 0.1}],
        "l2": [{"l2": 1e-4}, {"weight_decay": 0.05}, {"weight_decay": 0.2}],
        "dropout": [{"dropout": 0.1}, {"dropout": 0.2}, {"dropout": 0.3}],
        "early_stopping": [{"patience": 20}, {"patience": 40}],
        "label_smoothing": [{"label_smoothing": 0.1}],
    },
}


def grid_for(data: str, model: str) -> dict[str, list[dict[str, Any]]]:
    """Stage 2's strength grids for a data set and model."""
    return GRID_FOR.get(data, GRID) if model == "mlp" else CNN_GRID_FOR.get(data, GRID)


def section_title(data: str, model: str) -> str:
    """The markdown section's name: "digits", "digits cnn", ..."""
    return data if model == "mlp" else f"{data} {model}"


def key(changes: dict[str, Any]) -> str:
    """A short stable name for a candidate's spec changes."""
    text = json.dumps(changes, sort_keys=True, default=list)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


class Scorer:
    """Trains candidates on the selection seeds (stored and reused) and scores them."""

    def __init__(self, data: str, folder: Path, model: str = "mlp"):
        self.data, self.folder, self.model = data, folder, model
        ds = reglab.data.load(data, seed=FIRST_SEED)
        self.seeds = selection_seeds(len(ds.val))  # every split has as many validation rows
        self.kind, self.shape, self.classes = ds.kind, ds.input_shape, ds.num_classes
        self.seconds: list[float] = []

    def cost(self, changes: dict[str, Any]) -> int:
        """Training cost of a candidate as a count: epochs x multiply-adds per sample."""
        spec = RunSpec.from_dict({"data": self.data, "model": self.model, **changes})
        return spec.epochs * multiply_adds(spec, self.kind, self.shape, self.classes)

    def score(self, stage: str, cands: list[dict[str, Any]]) -> list[tuple]:
        """[(changes, (mean val acc, mean val loss), mean seconds per run, per-seed val accs)]
        in the given order (per-seed: in seed order)."""
        jobs, seen = [], set()
        for ch in cands:
            name = key(ch)
            if name in seen:
                continue
            seen.add(name)
            spec = RunSpec.from_dict({"data": self.data, "model": self.model, **ch})
            jobs += [Job(f"c{name}-s{s}", name, spec.replace(seed=s)) for s in self.seeds]
        out: dict[str, list] = {}

        def collect(store):
            for r in store.runs():
                if r["status"] == "done":
                    f = r["final"]
                    out.setdefault(r["arm"], []).append(
                        (r["seed"], f["val_acc"], f["val_loss"], f["seconds"]))
        t0 = time.time()
        tag = self.data if self.model == "mlp" else f"{self.data}-{self.model}"
        run_experiment(jobs, self.folder, f"select-{tag}-{stage}", after=collect)
        print(f"  {stage}: {len(jobs)} runs in {time.time() - t0:.0f} s", flush=True)
        res = []
        for ch in cands:
            rows = sorted(out.get(key(ch), []))
            if len(rows) != len(self.seeds):
                raise SystemExit(f"candidate {ch} finished {len(rows)} of {len(self.seeds)} runs")
            res.append((ch, (statistics.mean(a for _, a, _, _ in rows),
                             statistics.mean(b for _, _, b, _ in rows)),
                        statistics.mean(c for _, _, _, c in rows), [a for _, a, _, _ in rows]))
        return res


def best(res: list[tuple]) -> tuple:
    """The candidate with the highest mean val accuracy (ties: lower val loss)."""
    return max(res, key=lambda r: (round(r[1][0], 6), -r[1][1]))


def one_se(res: list[tuple], cost) -> tuple[tuple, float]:
    """The cheapest candidate within one standard error of the best (ties: the better score),
    and that standard error: std of the best's per-seed accuracies / sqrt(seeds)."""
    top = best(res)
    se = statistics.stdev(top[3]) / len(top[3]) ** 0.5
    near = [r for r in res if round(r[1][0], 6) >= round(top[1][0] - se, 6)]
    return min(near, key=lambda r: (cost(r[0]), -round(r[1][0], 6), r[1][1])), se


def table(res: list[tuple], label: str, strip: dict[str, Any] | None = None) -> list[str]:
    lines = [f"| {label} | val acc % | val loss | s/run |", "|---|---|---|---|"]
    for ch, (acc, loss), sec, _ in res:
        shown = {k: v for k, v in ch.items() if not strip or k not in strip}
        lines.append(f"| `{shown}` | {100 * acc:.2f} | {loss:.4f} | {sec:.1f} |")
    return lines


def select(data: str, folder: Path, model: str = "mlp", stop_after: int = 3) -> list[str]:
    t0 = time.time()
    sc = Scorer(data, folder, model)
    kind, fixed = sc.kind, FIXED[data]
    ref = REFERENCE[kind]
    bases = BASES[data] if model == "mlp" else CNN_BASES[data]
    lines = [f"## {section_title(data, model)} ({kind}; selection seeds = split seeds {sc.seeds})", ""]

    # stage 1: the budget
    plain = sc.score("base-none", [dict(fixed, **b) for b in bases])
    regd = sc.score("base-ref", [dict(fixed, **b, **ref) for b in bases])
    lines += ["### Stage 1: the base run (budget and schedule)", "",
              f"Each base plain (`none`) and with the reference recipe `{ref}`; fixed: `{fixed}`.",
              "", "| base | `none` val acc % | `none` val loss | reference val acc % "
              "(per-seed sd) | reference val loss | cost (epochs x MACs/sample, M) "
              "| s/run (ref) |", "|---|---|---|---|---|---|---|"]
    for (ch, (a0, l0), _, _), (_, (a1, l1), s1, accs) in zip(plain, regd):
        shown = {k: v for k, v in ch.items() if fixed.get(k, ...) != v}
        lines.append(f"| `{shown}` | {100 * a0:.2f} | {l0:.4f} | {100 * a1:.2f} "
                     f"({100 * statistics.stdev(accs):.2f}) | {l1:.4f} "
                     f"| {sc.cost(ch) / 1e6:.1f} | {s1:.1f} |")
    top = best(regd)
    pick, se = one_se(regd, sc.cost)
    base = {k: v for k, v in pick[0].items() if k not in ref}
    lines += ["", f"Best reference score {100 * top[1][0]:.2f}%, one standard error "
              f"{100 * se:.2f} points: the cheapest base scoring at least "
              f"{100 * (top[1][0] - se):.2f}% is picked: `{base}` ({100 * pick[1][0]:.2f}%).",
              ""]
    if stop_after == 1:
        lines += ["Stages 2 and 3 not re-run for this base (`--stop-after 1`): its arms keep "
                  "the strengths of the earlier picks.", "",
                  f"({time.time() - t0:.0f} s of wall time for this data set)", ""]
        print("\n".join(lines[-14:]), flush=True)
        return lines

    # stage 2: each arm alone
    picks: dict[str, dict[str, Any]] = {}
    grid_ = grid_for(data, model)
    singles = {"none": [{}], **grid_, "augment": AUG[kind]}
    lines += ["### Stage 2: each arm alone on that base", ""]
    for arm, grid in singles.items():
        # none on the base is stage 1's plain score of that base (trained there already)
        res = ([r for r in plain if key(r[0]) == key(base)] if arm == "none"
               else sc.score(f"arm-{arm}", [dict(base, **g) for g in grid]))
        picks[arm] = {k: v for k, v in best(res)[0].items() if k not in base}
        lines += [f"**{arm}**", ""] + table(res, "setting", base) + [""]

    lines += stage3(sc, base, picks, grid_, fixed)
    lines += ["", f"({time.time() - t0:.0f} s of wall time for this data set)", ""]
    print("\n".join(lines[-14:]), flush=True)
    return lines


STAGE3_TITLE = "### Stage 3: `all` (L2 + dropout + early stopping + augmentation"


def stage3(sc: Scorer, base: dict[str, Any], picks: dict[str, dict[str, Any]],
           grid_: dict[str, list[dict[str, Any]]], fixed: dict[str, Any]) -> list[str]:
    """Stage 3: score the ``all`` candidates, set ``picks["all"]``; the markdown lines from
    its heading through the picks list."""
    merged = {**picks["l2"], **picks["dropout"], **picks["early_stopping"], **picks["augment"]}
    softer = dict(merged, dropout=round(merged.get("dropout", 0) / 2, 3))
    no_stop = {k: v for k, v in merged.items() if k != "patience"}
    long_stop = dict(merged, patience=max(grid_["early_stopping"][-1]["patience"],
                                          merged.get("patience", 0)))
    ls = picks["label_smoothing"]
    with_ls = [dict(merged, **ls), dict(long_stop, **ls)]
    cands = list({key(c): c for c in (merged, softer, long_stop, no_stop, *with_ls)}.values())
    res = sc.score("arm-all", [dict(base, **c) for c in cands])
    picks["all"] = {k: v for k, v in best([r for r in res if "patience" in r[0]])[0].items()
                    if k not in base}
    lines = [STAGE3_TITLE + "; label smoothing where it scores best)", "",
             "Candidates: the stage-2 winners merged (the note's combination); with half the "
             "dropout; with the longest patience; the merged and the longest-patience ones with "
             f"the stage-2 label smoothing `{ls}` (an addition to the note); and, for "
             "information only (not a candidate: `all` includes early stopping by definition), "
             "the merge without early stopping.", ""]
    lines += table(res, "setting", base) + ["", "### Picks", ""]
    lines += [f"- base: `{dict(fixed, **base)}`"]
    lines += [f"- {arm}: `{ch}`" for arm, ch in picks.items()]
    return lines


def stage3_only(data: str, folder: Path, model: str = "mlp") -> None:
    """Re-run stage 3 on the base and stage-2 picks of ``defaults.toml`` and splice its
    table and picks into the data set's section of the markdown file (the rest is kept)."""
    from reglab.lab.arms import arm_changes, base_changes
    t0 = time.time()
    sc = Scorer(data, folder, model)
    fixed = FIXED[data]
    base = {k: v for k, v in base_changes(sc.kind, model).items() if k != "model"}
    base = dict(fixed, **base)
    arms = arm_changes(sc.kind, model)
    picks = {arm: arms[arm] for arm in ("none", "l1", "l2", "dropout", "early_stopping",
                                        "label_smoothing", "augment")}
    new = stage3(sc, base, picks, grid_for(data, model), fixed)
    new += ["", f"Stage 3 re-run on {time.strftime('%Y-%m-%d')} (`--stage3-only`, "
            f"{time.time() - t0:.0f} s) on the base and stage-2 picks above (`defaults.toml`), "
            "with the label-smoothing candidates added.", ""]
    path = Path(__file__).with_suffix(".md")
    section = sections(path.read_text())[section_title(data, model)]
    s0 = section.index(STAGE3_TITLE)
    p0 = section.index("### Picks", s0)
    p1 = section.find("\n\n", section.index("\n- ", p0))  # the end of the picks list
    if section[p1:].lstrip("\n").startswith("Stage 3 re-run on"):  # an earlier re-run's line
        p1 = section.find("\n\n", p1 + 2)
    section = section[:s0] + "\n".join(new).rstrip("\n") + section[p1:]
    write_sections(path, HEAD, section.split("\n"))
    print("\n".join(new), flush=True)


def sections(text: str) -> dict[str, str]:
    """The "## data" sections of the markdown file, keyed by "digits", "digits cnn", ..."""
    parts = text.split("\n## ")
    return {p.split(" (", 1)[0]: "## " + p for p in parts[1:]}


def write_sections(path: Path, head: str, new: list[str]) -> None:
    """Replace the "## data" sections this run measured; keep the other data sets' sections."""
    old = sections(path.read_text()) if path.exists() else {}
    merged = {**old, **sections("\n" + "\n".join(new))}
    path.write_text(head + "\n" + "\n".join(s.rstrip("\n") + "\n" for s in merged.values()))


HEAD = """# Defaults chosen on validation data

Made by `scripts/select_defaults.py DATA...` (its docstring has the protocol). The score is the
mean validation accuracy over the selection seeds (each its own split; ties: validation loss),
on the final (early-stopping-restored) weights. The test split is never read. s/run: mean wall
seconds per run as trained here (stacked engine, one thread per process, a shared machine).
Dropout masks: since 2026-12-03 every CPU draws the same ones (`reglab.kernels.bernoulli_`,
PyTorch's own draw on a non-Intel CPU). The digits, digits cnn and breast_cancer sections were
trained that day on an AMD CPU, so a rerun reproduces them up to float32 rounding; the mnist1d
sections are older, and if they were trained on an Intel CPU their dropout candidates drew
PyTorch's MKL masks there (a rerun draws others).
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="+", choices=DATA)
    ap.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    ap.add_argument("--stop-after", type=int, choices=(1, 3), default=3,
                    help="1: the base run (stage 1) only")
    ap.add_argument("--stage3-only", action="store_true",
                    help="re-run stage 3 on the picks of defaults.toml, splice it in")
    ap.add_argument("--folder", default=tempfile.gettempdir() + "/reglab-select")
    args = ap.parse_args()
    for data in args.data:
        if args.model == "cnn" and data not in CNN_BASES:
            raise SystemExit(f"no CNN bases for {data} (CNN_BASES: {sorted(CNN_BASES)})")
        if args.stage3_only:
            stage3_only(data, Path(args.folder), args.model)
            continue
        lines = select(data, Path(args.folder), args.model, args.stop_after)
        write_sections(Path(__file__).with_suffix(".md"), HEAD, lines)


if __name__ == "__main__":
    main()
