"""Paired differences and verdicts: against scipy's t distribution, and never overclaiming."""

import math

import numpy as np
import pytest
from scipy import stats

from reglab.lab.stats import PairedDifference, paired_difference, summarize, verdict


def test_summary_is_mean_and_sample_std_of_finite_values():
    s = summarize([1.0, 2.0, 4.0, math.nan])
    assert s.n == 3 and s.mean == pytest.approx(7 / 3)
    assert s.std == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert summarize([5.0]) == (5.0, 0.0, 1)
    assert summarize([]).n == 0


@pytest.mark.parametrize("seed", range(5))
def test_paired_interval_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.9, 0.02, 5), rng.normal(0.89, 0.02, 5)
    d = paired_difference(a, b)
    ref = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert d.n == 5 and d.mean == pytest.approx(np.mean(a - b))
    assert (d.low, d.high) == pytest.approx((ref.low, ref.high), rel=1e-9)


def test_pairs_with_a_missing_side_are_dropped():
    d = paired_difference([1.0, math.nan, 3.0, 4.0], [0.0, 1.0, 2.0, 3.5])
    assert d.n == 3 and d.mean == pytest.approx((1 + 1 + 0.5) / 3)


def test_verdict_only_claims_what_the_interval_supports():
    assert verdict(PairedDifference(0.02, 0.01, 0.03, 3)) == "helps"
    assert verdict(PairedDifference(-0.02, -0.03, -0.01, 3)) == "hurts"
    assert verdict(PairedDifference(0.02, -0.01, 0.05, 3)) == "no measurable effect at n=3"
    # lower is better (a loss): an interval below zero helps
    assert verdict(PairedDifference(-0.02, -0.03, -0.01, 5), higher_is_better=False) == "helps"
    assert verdict(paired_difference([1.0], [0.0])) == "not enough paired seeds (n=1)"


def test_n3_interval_uses_t_with_2_degrees_of_freedom():
    # differences 1, 2, 3: mean 2, sd 1, half width t(0.975, 2) / sqrt(3) = 2.4841 > 2
    d = paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert d.high - d.mean == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert verdict(d) == "no measurable effect at n=3"  # a z interval (1.96) would say helps
    assert verdict(paired_difference([3.0, 4.0, 5.0], [0.0, 0.0, 0.0])) == "helps"
