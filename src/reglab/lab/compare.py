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
from reglab.lab.arms import SEED_SAYS, apply_overrides, arm_changes, check_arms
from reglab.lab.execute import Job
from reglab.lab.spec import RunSpec
from reglab.lab.stats import (MIN_EFFECT_ACC, MIN_EFFECT_LOSS, PairedDifference, Summary,
                              effect, format_num, holm_adjust, paired_difference, summarize,
                              verdict)

__all__ = ["make_plan", "ArmRow", "summarize_arms", "run_id", "intervals_note"]


def run_id(arm: str, seed: int) -> str:
    """The store id of an arm's run with a seed: ``"l2-s1"``."""
    return f"{arm}-s{seed}"


def make_plan(base: RunSpec, kind: str, arms: Sequence[str], seeds: int,
              overrides: Mapping[str, Any] | None = None,
              arm_specs: Mapping[str, Mapping[str, Any]] | None = None) -> list[Job]:
    """One Job per (arm, seed), seeds 0 .. seeds-1, in arm order.

    Args:
        base: the base run (data, model, optimizer, epochs...); its regularizers are ignored.
        kind: the data kind, which picks the default strengths.
        arms: arm names (``reglab.lab.arms.ARMS``).
        seeds: number of seeds, >= 1.
        overrides: strengths replacing the defaults in every arm that uses them.
        arm_specs: per-arm tables of spec keys (from TOML ``[arms.NAME]``), applied last.
    """
    check_arms(list(arms))
    check_int("compare", "seeds", seeds, 1, 1000)
    changes = apply_overrides(arm_changes(kind), overrides or {})
    plain = base.replace(l1=0.0, l2=0.0, weight_decay=0.0, proximal_l1=0.0, dropout=0.0,
                         patience=0, augment=(), mixup=0.0, cutmix=0.0)
    for arm, table in (arm_specs or {}).items():
        check_arms([arm])
        if not isinstance(table, Mapping):
            raise fail("compare", f"arms.{arm}", "a table of spec keys", table)
        changes[arm] = {**changes.get(arm, {}), **dict(table)}
        plain.replace(**changes[arm])  # a typo in a table is an error even if the arm is not run
    jobs = []
    for arm in arms:
        spec = plain.replace(**changes[arm])
        jobs += [Job(run_id(arm, s), arm, spec.replace(seed=s)) for s in range(seeds)]
    return jobs


@dataclass
class ArmRow:
    """One arm's line of the comparison table (means over its finished runs)."""

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
    effects: tuple[str, str] | None = None      # stats.effect of (accuracy, loss)
    comparisons: int = 0                        # m of the Holm family the row was adjusted in
    min_effect_loss: float = math.nan           # MIN_EFFECT_LOSS times none's mean test loss

    @property
    def seed_says(self) -> tuple[str, str, str]:
        """The seed's section-7 row for this technique: output, strength, weakness."""
        return SEED_SAYS.get(self.arm, ("", "", ""))


def summarize_arms(runs: Sequence[Mapping[str, Any]], baseline: str = "none") -> list[ArmRow]:
    """The comparison table from stored runs (``Store.runs()``), arms in plan order.

    Every arm's test accuracy and test loss minus ``baseline``'s, paired by seed, form one
    Holm family (``stats.holm_adjust``: m = the comparisons with n >= 2); the verdict reads
    the adjusted intervals with the minimum effects ``stats.MIN_EFFECT_ACC`` (0.5 points)
    and ``stats.MIN_EFFECT_LOSS`` (1% of the baseline's mean test loss).
    """
    by_arm: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        by_arm.setdefault(r["arm"], []).append(r)
    base = {r["seed"]: r["final"] for r in by_arm.get(baseline, []) if r["status"] == "done"}
    min_loss = MIN_EFFECT_LOSS * abs(summarize([f.get("test_loss") for f in base.values()]).mean)
    raw: dict[str, tuple[PairedDifference, PairedDifference]] = {}
    for arm, rs in by_arm.items():
        done = {r["seed"]: r["final"] for r in rs if r["status"] == "done"}
        seeds = [s for s in done if s in base]
        if arm != baseline and base:
            raw[arm] = tuple(paired_difference([done[s].get(k, math.nan) for s in seeds],
                                               [base[s].get(k, math.nan) for s in seeds])
                             for k in ("test_acc", "test_loss"))
    family = holm_adjust([d for pair in raw.values() for d in pair])
    m = sum(math.isfinite(d.p) for pair in raw.values() for d in pair)
    adjusted = {arm: (family[2 * i], family[2 * i + 1]) for i, arm in enumerate(raw)}
    rows = []
    for arm, rs in by_arm.items():
        done = [r for r in rs if r["status"] == "done"]
        col = lambda k: [r["final"].get(k, math.nan) for r in done]  # noqa: E731
        d_acc = d_loss = effects = None
        text = "baseline" if arm == baseline else f"no {baseline} runs to compare with"
        if arm in adjusted:
            d_acc, d_loss = adjusted[arm]
            effects = (effect(d_acc, True, MIN_EFFECT_ACC),
                       effect(d_loss, False, min_loss))
            loss_text = f"{format_num(min_loss, 4)} = 1% of {baseline}'s test loss"
            text = (f"accuracy: {verdict(d_acc, True, MIN_EFFECT_ACC, '0.5 points')}; "
                    f"loss: {verdict(d_loss, False, min_loss, loss_text)}")
        rows.append(ArmRow(
            arm, len(done), sum(r["status"] == "diverged" for r in rs),
            summarize(col("test_acc")), summarize(col("test_loss")), summarize(col("gap")),
            summarize(col("sparsity")), summarize(col("weight_norm")),
            summarize(col("epochs_trained")), summarize(col("seconds")), d_acc, d_loss, text,
            *(raw.get(arm) or (None, None)), effects, m, min_loss))
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
    return (f"{adj}; a verdict needs the interval to exclude 0 and the mean to exceed the "
            f"minimum effect: 0.5 accuracy points, 1% of {baseline}'s test loss "
            f"({format_num(loss, 4)})")
