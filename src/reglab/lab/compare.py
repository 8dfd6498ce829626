"""``reglab compare``: every technique alone and combined, over seeds, with honest statistics.

The plan is one run per (arm, seed): arm ``a`` with seed ``s`` is the base spec with the
arm's changes and ``seed=s`` (same split, same initialization, same batch order as ``none``
with seed ``s``), so arms are compared *paired* over seeds.

Example::

    plan = make_plan(RunSpec(data="digits"), kind="image", arms=["none", "l2"], seeds=3)
    rows = summarize_arms(store.runs())
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reglab._validation import check_int, fail
from reglab.lab.arms import (ARMS, GRID_KEYS, NOTE_SAYS, TECHNIQUES, apply_overrides,
                             apply_tables, arm_changes, check_arm_name, check_arms, grid_arms,
                             settings, technique_of)
from reglab.lab.execute import Job
from reglab.lab.spec import RunSpec
from reglab.lab.stats import (MIN_EFFECT_ACC, MIN_EFFECT_LOSS, MIN_EFFECT_MAE, MIN_EFFECT_RMSE,
                              PairedDifference, Summary, effect, format_num, holm_adjust,
                              paired_difference, summarize, verdict)

__all__ = ["DEFAULT_SEEDS", "make_plan", "ArmRow", "summarize_arms", "run_id",
           "intervals_note", "comparison_document", "experiment_task", "MEASURES"]


# Seeds per arm when none are asked for. Five, not three: a compare's verdicts are Holm-
# adjusted over every arm's two comparisons (14 for the default arms), whose first step is a
# t interval at 1 - 0.05/14; with n = 3 (2 degrees of freedom) its t quantile is 16.7, so an
# effect passes only if the seeds' differences vary by less than a tenth of their mean (on
# digits' 359 test images that is below one image). With n = 5 the quantile is 6.1.
DEFAULT_SEEDS = 5


def run_id(arm: str, seed: int) -> str:
    """The store id of an arm's run with a seed: ``"l2-s1"``."""
    return f"{arm}-s{seed}"


def make_plan(base: RunSpec, kind: str, arms: Sequence[str], seeds: int,
              overrides: Mapping[str, Any] | None = None,
              arm_specs: Mapping[str, Mapping[str, Any]] | None = None,
              grids: Mapping[str, Sequence[tuple[str, Any]]] | None = None) -> list[Job]:
    """One Job per (arm, seed), seeds 0 .. seeds-1, in arm order.

    An arm's spec is the base run with its regularizers off, then, in this order: the arm's
    default changes for the data kind, ``overrides`` (each replaces its technique in every
    arm that uses it, :func:`reglab.lab.arms.apply_overrides`), the arm's ``arm_specs`` table
    (replacing the techniques it names; a new name is a new arm), and for a grid key one arm
    per value in place of the technique's owner arm (``l2-1e-4``, ``l2-1e-3`` instead of
    ``l2``; appended when ``arms`` leaves the owner out).

    Args:
        base: the base run (data, model, optimizer, epochs...); its regularizers are ignored.
        kind: the data kind, which with ``base.model`` picks the default strengths.
        arms: arm names: built-ins (``reglab.lab.arms.ARMS``) and ``arm_specs`` names.
        seeds: number of seeds, >= 1.
        overrides: strengths replacing the defaults in every arm that uses them.
        arm_specs: per-arm tables of spec keys (from TOML ``[arms.NAME]``).
        grids: per strength key, ``(text, value)`` pairs (from ``--l2 1e-4,1e-3``).

    Example::

        make_plan(RunSpec(), "image", ["none", "l2"], 2, grids={"l2": [("1e-4", 1e-4)]})
        # none-s0, none-s1, l2-1e-4-s0, l2-1e-4-s1
    """
    check_int("compare", "seeds", seeds, 1, 1000)
    plain = base.replace(l1=0.0, l2=0.0, weight_decay=0.0, proximal_l1=0.0, dropout=0.0,
                         patience=0, augment=(), mixup=0.0, cutmix=0.0, elastic_net=0.0,
                         group_lasso=0.0, proximal_group_lasso=0.0, stop_criterion="patience")
    tables = dict(arm_specs or {})
    for arm, table in tables.items():
        if arm not in ARMS:
            check_arm_name(arm)
        if not isinstance(table, Mapping):
            raise fail("compare", f"arms.{arm}", "a table of spec keys", table)
        plain.replace(**table)  # a typo in a table is an error even if the arm is not run
    changes = apply_tables(apply_overrides(arm_changes(kind, base.model), overrides or {}), tables)
    arms = check_arms(list(arms), known=list(changes))
    for key, values in (grids or {}).items():
        if key not in GRID_KEYS:
            raise fail("compare", "grids", f"keys of {{{', '.join(GRID_KEYS)}}}", key)
        if len({v for _, v in values}) != len(values):
            raise fail("RunSpec", key, "a list of values without repeats",
                       ",".join(t for t, _ in values))
        grid = grid_arms(changes, key, values)
        owner = TECHNIQUES[technique_of(key)][1]
        at = arms.index(owner) if owner in arms else len(arms)
        arms = arms[:at] + list(grid) + arms[at + 1:]
        changes.update(grid)
    check_arms(arms, known=list(changes))  # a grid arm's name is a listed arm's name
    jobs = []
    for arm in arms:
        spec = plain.replace(**changes[arm])
        jobs += [Job(run_id(arm, s), arm, spec.replace(seed=s)) for s in range(seeds)]
    return jobs


# The two measures each arm is compared on, per task, as (final key, higher is better):
# classification's test accuracy and test loss; regression's test RMSE (the headline) and
# test MAE, both in the target's units, both lower-is-better.
MEASURES = {"classification": (("test_acc", True), ("test_loss", False)),
            "regression": (("test_rmse", False), ("test_mae", False))}


def experiment_task(runs: Sequence[Mapping[str, Any]]) -> str:
    """"regression" when a stored run has regression's final metrics, else "classification"."""
    return "regression" if any("test_rmse" in r.get("final", {}) for r in runs) else (
        "classification")


@dataclass
class ArmRow:
    """One arm's line of the comparison table (means over its finished runs).

    Classification rows compare test accuracy and test loss (``d_acc``, ``d_loss``);
    regression rows (``task == "regression"``) compare test RMSE and test MAE (``d_rmse``,
    ``d_mae``; ``d_acc`` and ``d_loss`` are None), and carry ``test_rmse``, ``test_mae``,
    ``test_r2``; their ``gap`` is test RMSE minus train RMSE.
    """

    arm: str
    n_done: int
    n_diverged: int
    test_acc: Summary
    test_loss: Summary
    gap: Summary
    sparsity: Summary
    weight_norm: Summary
    epochs: Summary
    seconds: Summary
    d_acc: PairedDifference | None    # Holm-adjusted over the compare (what the verdict uses)
    d_loss: PairedDifference | None
    verdict: str
    d_acc_raw: PairedDifference | None = None   # the unadjusted 95% paired t interval
    d_loss_raw: PairedDifference | None = None
    effects: tuple[str, str] | None = None      # stats.effect of (accuracy, loss) / (rmse, mae)
    comparisons: int = 0                        # m of the Holm family the row was adjusted in
    min_effect_loss: float = math.nan           # MIN_EFFECT_LOSS times none's mean test loss
    settings: str = "-"  # the arm's strengths, e.g. "l2=1e-4, dropout=0.3"
    verdicts: tuple[str, str] = ("", "")  # (accuracy, loss) / (rmse, mae): the verdict's halves
    task: str = "classification"
    test_rmse: Summary = Summary(math.nan, math.nan, 0)
    test_mae: Summary = Summary(math.nan, math.nan, 0)
    test_r2: Summary = Summary(math.nan, math.nan, 0)
    d_rmse: PairedDifference | None = None      # Holm-adjusted, as d_acc
    d_mae: PairedDifference | None = None
    d_rmse_raw: PairedDifference | None = None
    d_mae_raw: PairedDifference | None = None
    min_effect_rmse: float = math.nan           # MIN_EFFECT_RMSE times none's mean test RMSE
    min_effect_mae: float = math.nan            # MIN_EFFECT_MAE times none's mean test MAE

    @property
    def compared(self) -> bool:
        """Whether the row has paired differences with the baseline."""
        return self.d_acc is not None or self.d_rmse is not None

    @property
    def note_says(self) -> tuple[str, str, str]:
        """The note's section-7 row for this technique (a grid arm ``l2-1e-4``: its owner's)."""
        key = self.arm.split("-")[0]
        grid = "-" in self.arm and key in GRID_KEYS
        owner = TECHNIQUES[technique_of(key)][1] if grid else self.arm
        return NOTE_SAYS.get(owner, ("", "", ""))


def _min_effects(task: str, base: Mapping[int, Mapping[str, Any]]) -> tuple[float, float]:
    """Each measure's minimum effect: 0.5 accuracy points and 1% of the baseline's mean test
    loss; for regression 1% of the baseline's mean test RMSE and MAE."""
    mean = lambda k: abs(summarize([f.get(k) for f in base.values()]).mean)  # noqa: E731
    if task == "regression":
        return MIN_EFFECT_RMSE * mean("test_rmse"), MIN_EFFECT_MAE * mean("test_mae")
    return MIN_EFFECT_ACC, MIN_EFFECT_LOSS * mean("test_loss")


def _verdict_texts(task: str, mins: tuple[float, float], baseline: str) -> tuple[str, str]:
    if task == "regression":
        return (f"{format_num(mins[0], 4)} = 1% of {baseline}'s test RMSE",
                f"{format_num(mins[1], 4)} = 1% of {baseline}'s test MAE")
    return "0.5 points", f"{format_num(mins[1], 4)} = 1% of {baseline}'s test loss"


def summarize_arms(runs: Sequence[Mapping[str, Any]], baseline: str = "none") -> list[ArmRow]:
    """The comparison table from stored runs (``Store.runs()``), arms in plan order.

    Every arm's two measures (:data:`MEASURES`: test accuracy and test loss; for regression
    test RMSE and test MAE) minus ``baseline``'s, paired by seed, form one Holm family
    (``stats.holm_adjust``: m = the comparisons with n >= 2); the verdict reads the adjusted
    intervals with the minimum effects ``stats.MIN_EFFECT_ACC`` (0.5 points) and
    ``stats.MIN_EFFECT_LOSS`` (1% of the baseline's mean test loss), or for regression
    ``stats.MIN_EFFECT_RMSE`` / ``MIN_EFFECT_MAE`` (1% of the baseline's mean test RMSE /
    MAE; lower is better, so a lower RMSE "helps").
    """
    task = experiment_task(runs)
    (key0, up0), (key1, up1) = MEASURES[task]
    by_arm: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        by_arm.setdefault(r["arm"], []).append(r)
    base = {r["seed"]: r["final"] for r in by_arm.get(baseline, []) if r["status"] == "done"}
    mins = _min_effects(task, base)
    raw: dict[str, tuple[PairedDifference, PairedDifference]] = {}
    for arm, rs in by_arm.items():
        done = {r["seed"]: r["final"] for r in rs if r["status"] == "done"}
        seeds = [s for s in done if s in base]
        if arm != baseline and base:
            raw[arm] = tuple(paired_difference([done[s].get(k, math.nan) for s in seeds],
                                               [base[s].get(k, math.nan) for s in seeds])
                             for k in (key0, key1))
    family = holm_adjust([d for pair in raw.values() for d in pair])
    m = sum(math.isfinite(d.p) for pair in raw.values() for d in pair)
    adjusted = {arm: (family[2 * i], family[2 * i + 1]) for i, arm in enumerate(raw)}
    base_spec = by_arm[baseline][0].get("spec") if baseline in by_arm else None
    texts = _verdict_texts(task, mins, baseline)
    names = ("RMSE", "MAE") if task == "regression" else ("accuracy", "loss")
    rows = []
    for arm, rs in by_arm.items():
        done = [r for r in rs if r["status"] == "done"]
        col = lambda k: [r["final"].get(k, math.nan) for r in done]  # noqa: E731
        d0 = d1 = effects = None
        verdicts = ("", "")
        text = "baseline" if arm == baseline else f"no {baseline} runs to compare with"
        if arm in adjusted:
            d0, d1 = adjusted[arm]
            effects = (effect(d0, up0, mins[0]), effect(d1, up1, mins[1]))
            verdicts = (verdict(d0, up0, mins[0], texts[0]), verdict(d1, up1, mins[1], texts[1]))
            text = f"{names[0]}: {verdicts[0]}; {names[1]}: {verdicts[1]}"
        r0, r1 = raw.get(arm) or (None, None)
        row = ArmRow(
            arm, len(done), sum(r["status"] == "diverged" for r in rs),
            summarize(col("test_acc")), summarize(col("test_loss")), summarize(col("gap")),
            summarize(col("sparsity")), summarize(col("weight_norm")),
            summarize(col("epochs_trained")), summarize(col("seconds")), None, None, text,
            effects=effects, comparisons=m, settings=settings(rs[0].get("spec", {}), base_spec),
            verdicts=verdicts, task=task)
        if task == "regression":
            row.test_rmse, row.test_mae, row.test_r2 = (summarize(col(k)) for k in
                                                        ("test_rmse", "test_mae", "test_r2"))
            row.d_rmse, row.d_mae, row.d_rmse_raw, row.d_mae_raw = d0, d1, r0, r1
            row.min_effect_rmse, row.min_effect_mae = mins
        else:
            row.d_acc, row.d_loss, row.d_acc_raw, row.d_loss_raw = d0, d1, r0, r1
            row.min_effect_loss = mins[1]
        rows.append(row)
    return rows


def intervals_note(rows: Sequence[ArmRow], baseline: str = "none") -> str:
    """What the difference tables' intervals are, in one sentence (for every table)."""
    m = max((r.comparisons for r in rows), default=0)
    loss = next((r.min_effect_loss for r in rows if math.isfinite(r.min_effect_loss)), math.nan)
    if m > 1:
        adj = (f"95% t intervals, Holm-adjusted over {m} comparisons (each at the level of "
               "its Holm step)")
    else:
        adj = ("95% t intervals (a single comparison: no adjustment)" if m == 1 else
               "no intervals (fewer than 2 paired seeds per arm)")
    if any(r.task == "regression" for r in rows):
        rmse = next((r.min_effect_rmse for r in rows if math.isfinite(r.min_effect_rmse)),
                    math.nan)
        mae = next((r.min_effect_mae for r in rows if math.isfinite(r.min_effect_mae)), math.nan)
        return (f"{adj}; a verdict needs the interval to exclude 0 and the mean to exceed the "
                f"minimum effect: 1% of {baseline}'s test RMSE ({format_num(rmse, 4)}) and "
                f"test MAE ({format_num(mae, 4)}); lower is better")
    return (f"{adj}; a verdict needs the interval to exclude 0 and the mean to exceed the "
            f"minimum effect: 0.5 accuracy points, 1% of {baseline}'s test loss "
            f"({format_num(loss, 4)})")


def comparison_document(runs: Sequence[Mapping[str, Any]], baseline: str = "none"
                        ) -> dict[str, Any]:
    """The comparison as plain JSON-ready data (``compare --json``); NaN and inf become None.

    ``{"baseline", "arms": [...], "summaries": {arm: {"n_done", "n_diverged", metric:
    {"mean", "std", "n"}}}, "differences": {arm: {"test_acc" | "test_loss": {"mean", "low",
    "high", "n"}, "verdict"}}, "runs": [{"id", "arm", "seed", "status", "reason", "final"}]}``
    (regression: summaries of test_rmse, test_mae, test_r2 instead of test_acc, differences
    of test_rmse and test_mae);
    differences are the arm minus the baseline on the same seeds: the Holm-adjusted t
    interval the verdict uses (its ``confidence`` says at which level) and the unadjusted 95%
    one (``*_unadjusted``), each with its paired t test's ``p`` (Holm-adjusted or raw).
    """
    rows = summarize_arms(runs, baseline)
    metrics = ("test_acc", "test_loss", "gap", "sparsity", "weight_norm", "epochs", "seconds")
    regression = experiment_task(runs) == "regression"
    if regression:
        metrics = ("test_rmse", "test_mae", "test_r2", "test_loss", *metrics[2:])
    summaries, differences = {}, {}
    for r in rows:
        summaries[r.arm] = {"n_done": r.n_done, "n_diverged": r.n_diverged,
                            **{m: _plain(getattr(r, m)._asdict()) for m in metrics}}
        if regression and r.d_rmse is not None:
            differences[r.arm] = {
                "test_rmse": _plain(r.d_rmse._asdict()), "test_mae": _plain(r.d_mae._asdict()),
                "test_rmse_unadjusted": _plain(r.d_rmse_raw._asdict()),
                "test_mae_unadjusted": _plain(r.d_mae_raw._asdict()), "verdict": r.verdict}
        elif r.d_acc is not None:
            differences[r.arm] = {
                "test_acc": _plain(r.d_acc._asdict()), "test_loss": _plain(r.d_loss._asdict()),
                "test_acc_unadjusted": _plain(r.d_acc_raw._asdict()),
                "test_loss_unadjusted": _plain(r.d_loss_raw._asdict()), "verdict": r.verdict}
    return {"baseline": baseline, "arms": [r.arm for r in rows], "summaries": summaries,
            "differences": differences,
            "runs": [{"id": r["id"], "arm": r["arm"], "seed": r["seed"], "status": r["status"],
                      "reason": r["reason"], "final": _plain(dict(r["final"]))} for r in runs]}


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in d.items()}
