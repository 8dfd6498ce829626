"""Honest summaries over seeds: mean +- std with n, paired differences, Holm, verdicts.

An arm is compared with ``none`` on the *same* seeds (same split, same initialization),
so the paired difference ``d_s = arm_s - none_s`` removes the seed-to-seed variation they
share. Its 95% interval is ``mean(d) +- t_{0.975, n-1} * sd(d) / sqrt(n)`` and its p-value
the two-sided paired t test's (``scipy.stats.ttest_rel``).

A compare makes many such comparisons (test accuracy and test loss for every arm), so the
verdicts are adjusted with **Holm's step-down method** (Holm 1979) over all of them:
:func:`holm_adjust` gives each comparison its Holm-adjusted p-value and its t interval at
the level Holm's step used for it (``1 - alpha / (m - k + 1)`` for the k-th smallest
p-value, the step where the procedure stopped for all later ones), so an adjusted interval
excludes 0 exactly when Holm rejects. These are not simultaneous intervals (Bonferroni's,
at ``1 - alpha / m``, would be; Holm's first step uses that level). The unadjusted 95%
interval stays available next to it.

A verdict needs more than an interval that excludes 0: the mean must exceed a **minimum
effect** (:data:`MIN_EFFECT_ACC`: 0.5 accuracy points; :data:`MIN_EFFECT_LOSS`: 1% of the
baseline's test loss; for regression :data:`MIN_EFFECT_RMSE` and :data:`MIN_EFFECT_MAE`,
1% of the baseline's test RMSE / MAE, where lower is better), and an interval inside
``(-min_effect, +min_effect)`` is "no measurable effect (below the minimum effect ...)",
however narrow it is.

Example::

    >>> d = paired_difference([0.95, 0.96, 0.97], [0.93, 0.94, 0.95])
    >>> round(d.mean, 3), verdict(d, min_effect=0.005)
    (0.02, 'helps')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["Summary", "PairedDifference", "summarize", "paired_difference", "at_confidence",
           "holm", "holm_adjust", "effect", "verdict", "format_num", "format_pm",
           "format_ci", "ALPHA", "MIN_EFFECT_ACC", "MIN_EFFECT_LOSS", "MIN_EFFECT_RMSE",
           "MIN_EFFECT_MAE"]

ALPHA = 0.05            # family-wise error rate of a compare's verdicts (Holm)
MIN_EFFECT_ACC = 0.005  # 0.5 accuracy points: a smaller change in test accuracy is not an effect
MIN_EFFECT_LOSS = 0.01  # 1% of the baseline's mean test loss, the same for the loss
# Regression (lower is better for both): 1% of the baseline's mean test RMSE / test MAE.
MIN_EFFECT_RMSE = 0.01
MIN_EFFECT_MAE = 0.01


class Summary(NamedTuple):
    """Mean, sample standard deviation (ddof=1; 0 for n=1) and n of finite values."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return format_pm(self.mean, self.std)


class PairedDifference(NamedTuple):
    """Mean paired difference, its interval [low, high] at ``confidence``, n pairs.

    ``p`` is the paired t test's two-sided p-value (Holm-adjusted after
    :func:`holm_adjust`), ``se = sd / sqrt(n)``.
    """

    mean: float
    low: float
    high: float
    n: int
    p: float = math.nan
    se: float = math.nan
    confidence: float = 0.95


def summarize(values: Sequence[float]) -> Summary:
    """Mean +- sample std over the finite values (NaN when there are none)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return Summary(math.nan, math.nan, 0)
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return Summary(mean, std, n)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
                      ) -> PairedDifference:
    """Mean of ``a_i - b_i`` with a two-sided Student-t interval and p-value.

    ``low, high = mean +- t_{(1+c)/2, n-1} * se``, ``p = 2 * P(T_{n-1} > |mean / se|)``;
    pairs with a missing or non-finite side are dropped. With n < 2 the interval is
    (-inf, inf) and p is NaN. Identical differences (se = 0) give the point interval
    [mean, mean] and p = 0 (p = 1 when they are all 0).

    Args:
        a, b: paired values (same seeds, same order).
        confidence: coverage of the interval, default 0.95.
    """
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    d = summarize([x - y for x, y in pairs])
    if d.n < 2:
        return PairedDifference(d.mean, -math.inf, math.inf, d.n, confidence=confidence)
    se = d.std / math.sqrt(d.n)
    if se > 0:
        from scipy import stats as _st  # ~1 s to import: not in every training worker
        p = float(2 * _st.t.sf(abs(d.mean) / se, d.n - 1))
    else:
        p = 1.0 if d.mean == 0 else 0.0
    return at_confidence(PairedDifference(d.mean, d.mean, d.mean, d.n, p, se), confidence)


def at_confidence(d: PairedDifference, confidence: float) -> PairedDifference:
    """The same difference with its t interval at another ``confidence`` (p unchanged)."""
    if d.n < 2:
        return d._replace(confidence=confidence)
    from scipy import stats as _st
    half = float(_st.t.ppf((1 + confidence) / 2, d.n - 1)) * d.se
    return d._replace(low=d.mean - half, high=d.mean + half, confidence=confidence)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (NaN stays NaN).

    With the m finite p-values sorted, ``p_(1) <= ... <= p_(m)``, the k-th adjusted value
    is ``max_{j <= k} min(1, (m - j + 1) * p_(j))``; rejecting where it is below alpha
    controls the family-wise error rate at alpha (Holm 1979).
    """
    order = sorted((i for i, p in enumerate(pvalues) if math.isfinite(p)),
                   key=lambda i: pvalues[i])
    m, out, running = len(order), [math.nan] * len(pvalues), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * pvalues[i]))
        out[i] = running
    return out


def holm_adjust(diffs: Sequence[PairedDifference], alpha: float = ALPHA
                ) -> list[PairedDifference]:
    """Every difference with its Holm-adjusted p-value and its interval at Holm's level.

    The k-th smallest p-value is tested at ``alpha / (m - k + 1)``; once one is not rejected,
    the rest are tested at that same step's level. Each interval is the t interval at
    ``1 - `` that level, so it excludes 0 exactly when Holm rejects the comparison
    (``p_adjusted < alpha``). Differences without a p-value (n < 2) are left out of m and
    come back unchanged.
    """
    adjusted = holm([d.p for d in diffs])
    order = sorted((i for i, d in enumerate(diffs) if math.isfinite(d.p)),
                   key=lambda i: diffs[i].p)
    m, out, stopped = len(order), list(diffs), None
    for k, i in enumerate(order):
        if stopped is None and not diffs[i].p < alpha / (m - k):
            stopped = k  # Holm stops here: this and every later one is tested at this level
        level = alpha / (m - (k if stopped is None else stopped))
        out[i] = at_confidence(diffs[i], 1 - level)._replace(p=adjusted[i])
    return out


def effect(diff: PairedDifference, higher_is_better: bool = True, min_effect: float = 0.0
           ) -> str:
    """What an interval supports: "helps", "hurts", "negligible", "unclear" or "too-few".

    - "too-few": fewer than 2 pairs.
    - "negligible": the interval lies inside ``(-min_effect, +min_effect)``, or it excludes 0
      but the mean does not exceed ``min_effect``: measured, and too small to matter.
    - "unclear": the interval contains 0 (and reaches beyond the minimum effect).
    - "helps" / "hurts": the interval excludes 0 and ``|mean| > min_effect``.
    """
    if diff.n < 2:
        return "too-few"
    if min_effect > 0 and -min_effect < diff.low and diff.high < min_effect:
        return "negligible"
    if diff.low <= 0 <= diff.high:
        return "unclear"
    if not abs(diff.mean) > min_effect:
        return "negligible"
    return "helps" if (diff.mean > 0) == higher_is_better else "hurts"


def verdict(diff: PairedDifference, higher_is_better: bool = True, min_effect: float = 0.0,
            min_effect_text: str | None = None) -> str:
    """The sentence for :func:`effect`; ``min_effect_text`` names the minimum effect.

    Example: ``"no measurable effect (below the minimum effect of 0.5 points)"``.
    """
    kind = effect(diff, higher_is_better, min_effect)
    if kind == "too-few":
        return f"not enough paired seeds (n={diff.n})"
    if kind == "unclear":
        return f"no measurable effect at n={diff.n}"
    if kind == "negligible":
        text = min_effect_text or f"{min_effect:g}"
        return f"no measurable effect (below the minimum effect of {text})"
    return kind


def format_num(x: float, digits: int = 2, sign: bool = False) -> str:
    """``x`` with ``digits`` decimals, never "-0.00" (a value that rounds to 0 prints 0).

    Example: ``format_num(-0.0004, 2, sign=True) == "+0.00"``; "-inf"/"inf"/"nan" as such.
    """
    spec = f"{'+' if sign else ''}.{digits}f"
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("-inf" if x < 0 else ("+inf" if sign else "inf"))
    text = f"{x:{spec}}"
    return f"{0.0:{spec}}" if float(text) == 0 else text


def format_pm(mean: float, std: float, scale: float = 1.0, digits: int = 2) -> str:
    """``"97.41 ± 0.52"`` (values multiplied by ``scale``); "-" for NaN."""
    if not math.isfinite(mean):
        return "-"
    return f"{format_num(mean * scale, digits)} ± {format_num(std * scale, digits)}"


def format_ci(d: PairedDifference | None, scale: float = 1.0, digits: int = 2) -> str:
    """``"+1.20 [+0.40, +2.00]"``: a paired difference and its interval; "-" for none."""
    if d is None or not math.isfinite(d.mean):
        return "-"
    f = lambda x: format_num(x * scale, digits, sign=True)  # noqa: E731
    hi = "inf" if d.high == math.inf else f(d.high)
    return f"{f(d.mean)} [{f(d.low)}, {hi}]"
