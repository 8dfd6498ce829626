"""Honest summaries over seeds: mean +- std with n, paired differences with a t interval.

An arm is compared with ``none`` on the *same* seeds (same split, same initialization),
so the paired difference ``d_s = arm_s - none_s`` removes the seed-to-seed variation they
share. Its 95% interval is ``mean(d) +- t_{0.975, n-1} * sd(d) / sqrt(n)``; the verdict says
"helps" or "hurts" only when that interval excludes zero.

Example::

    >>> d = paired_difference([0.95, 0.96, 0.97], [0.93, 0.94, 0.95])
    >>> round(d.mean, 3), verdict(d)
    (0.02, 'helps')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from scipy import stats as _st

__all__ = ["Summary", "PairedDifference", "summarize", "paired_difference", "verdict"]


class Summary(NamedTuple):
    """Mean, sample standard deviation (ddof=1; 0 for n=1) and n of finite values."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return format_pm(self.mean, self.std)


class PairedDifference(NamedTuple):
    """Mean paired difference with its confidence interval [low, high] and n pairs."""

    mean: float
    low: float
    high: float
    n: int


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
    """Mean of ``a_i - b_i`` with a two-sided Student-t interval.

    ``low, high = mean +- t_{(1+c)/2, n-1} * sd / sqrt(n)``; pairs with a missing or
    non-finite side are dropped. With n < 2 the interval is (-inf, inf).

    Args:
        a, b: paired values (same seeds, same order).
        confidence: coverage of the interval, default 0.95.
    """
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    d = summarize([x - y for x, y in pairs])
    if d.n < 2:
        return PairedDifference(d.mean, -math.inf, math.inf, d.n)
    half = _st.t.ppf((1 + confidence) / 2, d.n - 1) * d.std / math.sqrt(d.n)
    return PairedDifference(d.mean, d.mean - half, d.mean + half, d.n)


def verdict(diff: PairedDifference, higher_is_better: bool = True) -> str:
    """"helps" / "hurts" when the interval excludes 0, else "no measurable effect at n=N"."""
    if diff.n < 2:
        return f"not enough paired seeds (n={diff.n})"
    if diff.low > 0 or diff.high < 0:
        better = (diff.low > 0) == higher_is_better
        return "helps" if better else "hurts"
    return f"no measurable effect at n={diff.n}"


def format_pm(mean: float, std: float, scale: float = 1.0, digits: int = 2) -> str:
    """``"97.41 +- 0.52"`` (values multiplied by ``scale``); "-" for NaN."""
    if not math.isfinite(mean):
        return "-"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
