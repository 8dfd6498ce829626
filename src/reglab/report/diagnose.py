"""Diagnosis: the note's pitfalls (section 6), detected from measurements instead of asserted.

Pure functions over per-epoch histories (``Store.epochs``: dicts with ``data_loss``,
``val_loss``, ``train_acc``...) and final metrics (``Store.runs()[i]["final"]``). Each rule
returns its numbers, or None when it does not fire; :func:`diagnose` turns them into
:class:`Finding` s, one list per arm, each with the numbers behind it and a recommendation.

Rules (defaults in parentheses):

- overfitting: on a seed's curves, the final validation loss is above its minimum by more
  than ``rise`` (10%) while the training loss kept falling after that minimum (by > 2%);
  the arm is flagged when at least half its seeds show it.
- underfitting: the arm's training accuracy is below ``none``'s on the same seeds by more
  than ``margin`` (3 points; with n >= 2 the 95% interval must lie below 0) and its test
  accuracy is not higher: the regularizer removed capacity the data needed.
- no measurable effect: neither test accuracy nor test loss differs from ``none``'s by more
  than the minimum effect (``stats.MIN_EFFECT_ACC`` = 0.5 points, ``stats.MIN_EFFECT_LOSS``
  = 1% of ``none``'s test loss) in mean, and neither verdict is "helps"/"hurts" (the
  table's Holm-adjusted intervals, ``compare.summarize_arms``). The same rule for every arm
  with a strength (l1, l2, weight decay, proximal L1, dropout, augmentation, mixup, cutmix;
  not patience), and not for an arm that underfits (an effect, the other way). The text
  says whether both intervals lie inside the minimum effect (measured: too small to
  matter) or are too wide to exclude a larger effect (more seeds), and how far the weight
  norm moved.
- cannot fire: an arm with early stopping (patience > 0) whose patience is >= its epochs:
  no run can go that many epochs without improvement before it ends.
- diverged: a run whose loss became non-finite, with the reason the lab stored.
- label safety: the augmentation check the store holds (``meta["label_check"]``), if any.

A regression experiment (``compare.experiment_task``) reads the same rules with its own
measures: underfitting compares training R^2 (the margin 0.03 in R^2), no measurable effect
reads test RMSE and test MAE against 1% of none's (``stats.MIN_EFFECT_RMSE`` / ``_MAE``), the
gap is test RMSE minus train RMSE; label safety does not apply (no class labels).

Example::

    >>> h = [{"data_loss": 1 / (e + 1), "val_loss": abs(e - 5) / 5 + 0.5} for e in range(15)]
    >>> overfitting(h)["best_epoch"]
    5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reglab._epochs import shown_epoch
from reglab.lab.compare import experiment_task, summarize_arms
from reglab.lab.stats import (MIN_EFFECT_ACC, PairedDifference, effect, format_num,
                              paired_difference, summarize)
from reglab.report.i18n import check_lang, prefixed, reason, t

__all__ = ["Finding", "overfitting", "underfitting", "no_effect", "cannot_fire", "diverged",
           "label_safety", "diagnose"]

History = Sequence[Mapping[str, Any]]
# Spec keys whose value is a strength that can be "too small to matter" (not patience).
_STRENGTHS = ("l1", "l2", "weight_decay", "proximal_l1", "dropout", "augment", "mixup", "cutmix")


@dataclass(frozen=True)
class Finding:
    """One diagnosis for one arm.

    Attributes:
        arm: the arm it is about.
        rule: "overfitting", "underfitting", "no-effect", "cannot-fire", "diverged",
            "label-safety" or "ok".
        level: "warning" (a pitfall measured), "info" (measured, handled or not measured), "ok".
        text: what was measured, with the numbers.
        advice: what to do about it (the note's section 6, measured).
        numbers: the values the text quotes.
    """

    arm: str
    rule: str
    level: str
    text: str
    advice: str
    numbers: dict[str, float] = field(default_factory=dict)


def overfitting(history: History, rise: float = 0.10, train_drop: float = 0.02,
                min_epochs: int = 3) -> dict[str, float] | None:
    """Validation loss rising while training loss falls, on one run's curves.

    Fires when ``val[-1] > (1 + rise) * min(val)`` and ``train[-1] < (1 - train_drop) *
    train[argmin val]``.

    Args:
        history: per-epoch dicts with ``data_loss`` and ``val_loss``.
        rise: relative rise of the final validation loss over its minimum (default 0.10).
        train_drop: relative fall of the training loss after that minimum (default 0.02).
        min_epochs: fewer finite epochs than this never fire.

    Returns:
        ``best_epoch, min_val_loss, end_val_loss, val_rise, train_loss_at_best,
        end_train_loss, epochs`` (and ``val_acc_at_best, end_val_acc`` when the history has
        ``val_acc``) or None.
    """
    rows = [(float(e["data_loss"]), float(e["val_loss"])) for e in history
            if e.get("data_loss") is not None and e.get("val_loss") is not None
            and math.isfinite(float(e["data_loss"])) and math.isfinite(float(e["val_loss"]))]
    if len(rows) < min_epochs:
        return None
    train, val = zip(*rows)
    best = min(range(len(val)), key=val.__getitem__)
    if not (val[-1] > (1 + rise) * val[best] and train[-1] < (1 - train_drop) * train[best]):
        return None
    out = {"best_epoch": best, "min_val_loss": val[best], "end_val_loss": val[-1],
           "val_rise": val[-1] / val[best] - 1, "train_loss_at_best": train[best],
           "end_train_loss": train[-1], "epochs": len(val)}
    accs = [e.get("val_acc") for e in history if e.get("data_loss") is not None
            and e.get("val_loss") is not None and math.isfinite(float(e["data_loss"]))
            and math.isfinite(float(e["val_loss"]))]
    if all(a is not None and math.isfinite(a) for a in accs):  # same rows as train/val
        out.update(val_acc_at_best=float(accs[best]), end_val_acc=float(accs[-1]))
    return out


def underfitting(arm_train_acc: Sequence[float], base_train_acc: Sequence[float],
                 arm_test_acc: Sequence[float], base_test_acc: Sequence[float],
                 margin: float = 0.03) -> dict[str, float] | None:
    """Training accuracy clearly below ``none``'s on the same seeds, test accuracy not higher.

    Fires when ``mean(d_train) < -margin`` (and, with n >= 2, the 95% interval of
    ``d_train`` lies below 0) and ``mean(d_test) <= 0``, where ``d = arm - none`` per seed.

    Args:
        arm_train_acc, base_train_acc: final training accuracies, paired by seed.
        arm_test_acc, base_test_acc: final test accuracies, paired by seed.
        margin: how far below, as a fraction (default 0.03 = 3 points).

    Returns:
        ``d_train, d_train_low, d_train_high, d_test, train_acc, base_train_acc, n`` or None.
    """
    d_tr = paired_difference(arm_train_acc, base_train_acc)
    d_te = paired_difference(arm_test_acc, base_test_acc)
    if d_tr.n == 0 or not d_tr.mean < -margin or (d_tr.n >= 2 and not d_tr.high < 0):
        return None
    if not (d_te.n and d_te.mean <= 0):
        return None
    return {"d_train": d_tr.mean, "d_train_low": d_tr.low, "d_train_high": d_tr.high,
            "d_test": d_te.mean, "train_acc": _mean(arm_train_acc),
            "base_train_acc": _mean(base_train_acc), "n": d_tr.n}


def no_effect(d_acc: PairedDifference, d_loss: PairedDifference, min_loss: float,
              arm_norm: Sequence[float], base_norm: Sequence[float],
              min_acc: float = MIN_EFFECT_ACC) -> dict[str, float] | None:
    """Neither test accuracy nor test loss moved by the minimum effect against ``none``.

    Fires when ``|mean d_acc| <= min_acc`` and ``effect(d_acc)`` is not "helps"/"hurts", and
    the same for the loss with ``min_loss`` (skipped when no loss was measured, n = 0).
    ``d_acc``/``d_loss`` are the table's (Holm-adjusted) paired differences.

    Returns:
        ``d_acc, d_acc_low, d_acc_high, d_loss, d_loss_low, d_loss_high, min_acc, min_loss,
        negligible`` (1 when both intervals lie inside the minimum effect, else 0),
        ``d_norm_rel, norm, base_norm, n`` or None.
    """
    pairs = [(d_acc, True, min_acc)] + ([(d_loss, False, min_loss)] if d_loss.n else [])
    if d_acc.n == 0:
        return None
    kinds = [effect(d, better, lim) for d, better, lim in pairs]
    if any(k in ("helps", "hurts") for k in kinds) or not all(
            abs(d.mean) <= lim for d, _, lim in pairs):
        return None
    base = _mean(base_norm)
    rel = (_mean(arm_norm) - base) / base if base else math.nan
    return {"d_acc": d_acc.mean, "d_acc_low": d_acc.low, "d_acc_high": d_acc.high,
            "d_loss": d_loss.mean, "d_loss_low": d_loss.low, "d_loss_high": d_loss.high,
            "min_acc": min_acc, "min_loss": min_loss,
            "negligible": float(all(k == "negligible" for k in kinds)),
            "d_norm_rel": rel, "norm": _mean(arm_norm), "base_norm": base, "n": d_acc.n}


def cannot_fire(spec: Mapping[str, Any]) -> dict[str, float] | None:
    """Early stopping whose patience is >= the epochs: it can never stop a run.

    Returns ``patience, epochs`` or None (no early stopping, or it can fire).
    """
    patience, epochs = int(spec.get("patience") or 0), spec.get("epochs")
    if patience <= 0 or epochs is None or patience < int(epochs):
        return None
    return {"patience": patience, "epochs": int(epochs)}


def diverged(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The runs stored as ``diverged``, each ``{"id", "seed", "reason"}``."""
    return [{"id": r["id"], "seed": r["seed"], "reason": r.get("reason") or "no reason stored"}
            for r in runs if r.get("status") == "diverged"]


def label_safety(check: Mapping[str, Any] | None, transforms: Sequence[str]
                 ) -> dict[str, Any] | None:
    """The stored label-safety check restricted to ``transforms`` (None when none is stored).

    Args:
        check: ``reglab.lab.label_check.check_labels(...).to_dict()`` as the store holds it.
        transforms: the arm's augmentation names (rows with other names are left out when
            at least one row matches).

    Returns:
        ``{"flagged": [(name, drop, limit)], "ok": [(name, drop, limit)], "clean": acc}``.
    """
    if not check or not check.get("rows"):
        return None
    # Rows may be named by short name ("flip") or by the transform's repr
    # ("HorizontalFlip(p=0.5)"); when none matches the arm's names, the check is taken as
    # the one made for this experiment's augmentation and every row is kept.
    rows = [r for r in check["rows"] if r["name"] in transforms] or list(check["rows"])
    triple = lambda r: (r["name"], float(r["drop"]), float(r["limit"]))  # noqa: E731
    return {"flagged": [triple(r) for r in rows if r.get("flagged")],
            "ok": [triple(r) for r in rows if not r.get("flagged")],
            "clean": float(check.get("clean_accuracy", math.nan))}


# -- from rules to findings ------------------------------------------------------------------
def diagnose(runs: Sequence[Mapping[str, Any]], histories: Mapping[str, History],
             label_check: Mapping[str, Any] | None = None, baseline: str = "none",
             lang: str = "en") -> dict[str, list[Finding]]:
    """Every rule for every arm: ``{arm: [Finding, ...]}`` in plan order.

    Args:
        runs: ``Store.runs()`` (id, arm, seed, spec, status, reason, final).
        histories: run id -> per-epoch dicts (``Store.epochs``).
        label_check: the stored ``check_labels(...).to_dict()``, or None.
        baseline: the arm the others are compared with.
        lang: the language of each finding's text and advice ("en" or "vi",
            ``reglab.report.i18n``); rules, levels and numbers do not depend on it.
    """
    check_lang(lang, "diagnose")
    by_arm: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        by_arm.setdefault(r["arm"], []).append(r)
    base = {r["seed"]: r["final"] for r in by_arm.get(baseline, []) if r["status"] == "done"}
    table = {row.arm: row for row in summarize_arms(runs, baseline)}
    regression = experiment_task(runs) == "regression"
    out = {}
    for arm, rs in by_arm.items():
        spec = rs[0].get("spec") or {}
        done = [r for r in rs if r["status"] == "done"]
        found = _diverged_findings(arm, rs, spec, lang)
        found += _cannot_fire_finding(arm, spec, lang)
        found += _overfit_finding(arm, done, histories, spec, lang)
        if arm != baseline and base and table[arm].compared:
            paired = _paired_regression_findings if regression else _paired_findings
            found += paired(arm, done, base, spec, table[arm], lang)
        if not regression and (spec.get("augment") or spec.get("mixup") or spec.get("cutmix")):
            found.append(_label_finding(arm, spec, label_check, lang))
        if not any(f.level == "warning" for f in found):
            found.append(_ok_finding(arm, done, lang, regression))
        out[arm] = found
    return out


def _diverged_findings(arm, rs, spec, lang="en") -> list[Finding]:
    return [Finding(arm, "diverged", "warning",
                    t("diag.diverged.text", lang, id=d["id"], seed=d["seed"],
                      reason=reason(d["reason"], lang)),
                    t("diag.diverged.advice", lang, lr=spec.get("lr", "?")), {"seed": d["seed"]})
            for d in diverged(rs)]


def _cannot_fire_finding(arm, spec, lang="en") -> list[Finding]:
    hit = cannot_fire(spec)
    if not hit:
        return []
    p, e = hit["patience"], hit["epochs"]
    return [Finding(arm, "cannot-fire", "warning", t("diag.cannot_fire.text", lang, p=p, e=e),
                    t("diag.cannot_fire.advice", lang, p=p, suggest=max(1, e // 4)), dict(hit))]


def _overfit_finding(arm, done, histories, spec, lang="en") -> list[Finding]:
    hits = [h for h in (overfitting(histories.get(r["id"], [])) for r in done) if h]
    if not done or len(hits) * 2 < len(done):
        return []
    nums = {k: _mean([h.get(k) for h in hits]) for k in hits[0]}
    nums["val_rise"] = nums["end_val_loss"] / nums["min_val_loss"] - 1  # of the quoted means
    nums.update(seeds_fired=len(hits), seeds=len(done))
    text = t("diag.overfit.body", lang, rise=100 * nums["val_rise"], min_val=nums["min_val_loss"],
             best=shown_epoch(nums["best_epoch"]), fired=len(hits), seeds=len(done),
             end_val=nums["end_val_loss"], train_best=nums["train_loss_at_best"],
             train_end=nums["end_train_loss"])
    if spec.get("patience"):
        return [Finding(arm, "overfitting", "info", t("diag.overfit.caught", lang, body=text),
                        t("diag.overfit.caught_advice", lang), nums)]
    advice = t("diag.overfit.advice", lang, best=shown_epoch(nums["best_epoch"]))
    if nums.get("end_val_acc", -1) > nums.get("val_acc_at_best", math.inf):
        text += t("diag.overfit.acc_rose", lang, acc_best=100 * nums["val_acc_at_best"],
                  acc_end=100 * nums["end_val_acc"])
        advice = t("diag.overfit.acc_advice", lang)
    return [Finding(arm, "overfitting", "warning", t("diag.overfit.warning", lang, body=text),
                    advice, nums)]


def _paired_findings(arm, done, base, spec, row, lang="en") -> list[Finding]:
    """Underfitting on training accuracy, no measurable effect on test accuracy and loss."""
    under_text = lambda under: t(  # noqa: E731
        "diag.underfit.text", lang, train=100 * under["train_acc"],
        base=100 * under["base_train_acc"],
        d_train=format_num(100 * under["d_train"], 1, sign=True),
        interval=_interval(under, "d_train", 100, label=t("diag.interval.ci", lang)),
        n=under["n"], d_test=format_num(100 * under["d_test"], 2, sign=True))
    effect = lambda norm, base_norm: no_effect(  # noqa: E731
        row.d_acc, row.d_loss, row.min_effect_loss, norm, base_norm)
    return _paired(arm, done, base, spec, "acc", under_text, effect, lang)


def _paired_regression_findings(arm, done, base, spec, row, lang="en") -> list[Finding]:
    """Underfitting on training R^2, no measurable effect on test RMSE and MAE."""
    under_text = lambda under: t(  # noqa: E731
        "diag.underfit.text_regression", lang, train=under["train_acc"],
        base=under["base_train_acc"], d_train=format_num(under["d_train"], 3, sign=True),
        interval=_interval(under, "d_train", 1, 3, label=t("diag.interval.ci", lang)),
        n=under["n"], d_test=format_num(under["d_test"], 3, sign=True))
    effect = lambda norm, base_norm: no_effect(  # noqa: E731
        row.d_rmse, row.d_mae, row.min_effect_mae, norm, base_norm, min_acc=row.min_effect_rmse)
    return _paired(arm, done, base, spec, "r2", under_text, effect, lang, regression=True)


def _paired(arm, done, base, spec, metric, under_text, effect, lang="en",
            regression: bool = False) -> list[Finding]:
    """The findings against none on the same seeds, for either task: underfitting on
    ``train_<metric>`` (worded by ``under_text(under)``), else, for an arm with a strength,
    no measurable effect (``effect(weight_norms, base_weight_norms)``, None when there is one).
    """
    seeds = [r["seed"] for r in done if r["seed"] in base]
    mine = {r["seed"]: r["final"] for r in done}
    col = lambda src, k: [src[s].get(k, math.nan) for s in seeds]  # noqa: E731
    found = []
    under = underfitting(col(mine, f"train_{metric}"), col(base, f"train_{metric}"),
                         col(mine, f"test_{metric}"), col(base, f"test_{metric}"))
    if under:
        found.append(Finding(arm, "underfitting", "warning", under_text(under),
                             t("diag.underfit.advice", lang, parts=_weaker(spec, lang)), under))
    has_strength = any(spec.get(k) for k in _STRENGTHS)
    flat = None if under or not has_strength else effect(col(mine, "weight_norm"),
                                                         col(base, "weight_norm"))
    if flat:
        found.append(_no_effect_finding(arm, flat, spec, lang, regression=regression))
    return found


def _no_effect_finding(arm, flat, spec, lang="en", regression: bool = False) -> Finding:
    k = prefixed("diag.no_effect", lang)
    n = f"n={flat['n']:.0f}"
    loss = ("" if not math.isfinite(flat["d_loss"]) else
            k("loss", d_loss=format_num(flat["d_loss"], 4, sign=True),
              interval=_interval(flat, "d_loss", 1, 4, "")))
    minimum = k("minimum", acc=format_num(100 * flat["min_acc"], 1),
                loss=format_num(flat["min_loss"], 4))
    norm = k("norm", norm=format_num(flat["norm"], 1), base=format_num(flat["base_norm"], 1),
             rel=format_num(100 * flat["d_norm_rel"], 1, sign=True))
    text = (k("measured", d_acc=format_num(100 * flat["d_acc"], 2, sign=True),
              interval=_interval(flat, "d_acc", 100, 2, ""), loss=loss) +
            k("as_table" if flat["n"] >= 2 else "one_seed"))
    if regression:  # no_effect's d_acc / d_loss hold test RMSE / test MAE (target units)
        minimum = k("minimum_regression", rmse=format_num(flat["min_acc"], 4),
                    mae=format_num(flat["min_loss"], 4))
        text = (k("measured_regression", d_rmse=format_num(flat["d_acc"], 4, sign=True),
                  interval=_interval(flat, "d_acc", 1, 4, ""),
                  d_mae=format_num(flat["d_loss"], 4, sign=True),
                  interval_mae=_interval(flat, "d_loss", 1, 4, "")) +
                k("as_table" if flat["n"] >= 2 else "one_seed"))
    advice = k("stronger", parts=_stronger(spec, lang))
    case = ("one_seed" if flat["n"] < 2 else "negligible" if flat["negligible"] else "wide")
    text = k(f"{case}_text", n=n, text=text, minimum=minimum, norm=norm)
    advice += k(f"{case}_advice")
    return Finding(arm, "no-effect", "warning", text, advice, flat)


def _label_finding(arm, spec, check, lang="en") -> Finding:
    k = prefixed("diag.label", lang)
    names = list(spec.get("augment") or [])
    res = label_safety(check, names)
    if res is None:
        return Finding(arm, "label-safety", "info", k("not_measured"),
                       k("not_measured_advice", data=spec.get("data", "DATA"),
                         names=",".join(names) or "NAMES"))
    if res["flagged"]:
        worst = ", ".join(k("drop", name=n, drop=100 * d, limit=100 * lim)
                          for n, d, lim in res["flagged"])
        return Finding(arm, "label-safety", "warning",
                       k("flagged", worst=worst, clean=100 * res["clean"]),
                       k("flagged_advice"), {"flagged": len(res["flagged"])})
    drops = ", ".join(f"{n} {format_num(100 * d, 1, sign=True)}" for n, d, _ in res["ok"])
    return Finding(arm, "label-safety", "ok", k("safe", drops=drops), "", {"flagged": 0})


def _ok_finding(arm, done, lang="en", regression: bool = False) -> Finding:
    gap = _mean([r["final"].get("gap", math.nan) for r in done])
    text = (t("diag.ok.gap", lang, gap=format_num(100 * gap, 1)) if math.isfinite(gap)
            else t("diag.ok", lang))
    if regression and math.isfinite(gap):
        text = t("diag.ok.gap_regression", lang, gap=format_num(gap, 3, sign=True))
    return Finding(arm, "ok", "ok", text, "", {"gap": gap})


def _weaker(spec: Mapping[str, Any], lang: str = "en") -> str:
    k = prefixed("diag.weaker", lang)
    parts = []
    if spec.get("dropout"):
        parts.append(k("dropout", now=spec["dropout"], try_=spec["dropout"] / 2))
    for key in ("l1", "l2", "proximal_l1", "weight_decay"):
        if spec.get(key):
            parts.append(k("strength", key=key, now=spec[key], try_=spec[key] / 10))
    if spec.get("patience"):
        parts.append(k("patience", now=spec["patience"]))
    if spec.get("augment") or spec.get("mixup") or spec.get("cutmix"):
        parts.append(k("augment"))
    return "; ".join(parts) or k("default")


def _stronger(spec: Mapping[str, Any], lang: str = "en") -> str:
    k = prefixed("diag.stronger", lang)
    parts = []
    for key in ("l1", "l2", "proximal_l1", "weight_decay"):
        if spec.get(key):
            parts.append(k("strength", key=key, now=spec[key], try_=10 * spec[key]))
    if spec.get("dropout"):
        parts.append(k("dropout", now=spec["dropout"]))
    if spec.get("augment"):
        parts.append(k("augment"))
    return "; ".join(parts) or k("default")


def _interval(nums: Mapping[str, float], key: str, scale: float, digits: int = 2,
              label: str = ", 95% CI") -> str:
    """``", 95% CI [-0.20, +0.40]"`` from ``key_low``/``key_high``; "" when it is infinite."""
    lo, hi = nums[f"{key}_low"], nums[f"{key}_high"]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    f = lambda x: format_num(scale * x, digits, sign=True)  # noqa: E731
    return f"{label} [{f(lo)}, {f(hi)}]"


def _mean(xs: Sequence[Any]) -> float:
    return summarize(list(xs)).mean  # finite values only; NaN when there are none
