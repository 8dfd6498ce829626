"""Paired differences, Holm and verdicts: against scipy's paired t test, a hand-computed Holm
example, and never overclaiming (minimum effect sizes, no "-0.00")."""

import math

import numpy as np
import pytest
from scipy import stats

from reglab.lab.stats import (PairedDifference, at_confidence, effect, format_ci, format_num,
                              format_pm, holm, holm_adjust, paired_difference, summarize,
                              verdict)


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


@pytest.mark.parametrize("seed", range(5))
def test_paired_p_value_matches_scipy_ttest_rel(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.9, 0.02, 4 + seed), rng.normal(0.89, 0.02, 4 + seed)
    ref = stats.ttest_rel(a, b)
    d = paired_difference(a, b)
    assert d.p == pytest.approx(ref.pvalue, rel=1e-9)
    assert d.se == pytest.approx(np.std(a - b, ddof=1) / math.sqrt(len(a)), rel=1e-12)
    wide = at_confidence(d, 0.99)  # the interval at another level, from the same se
    ref99 = ref.confidence_interval(0.99)
    assert (wide.low, wide.high, wide.p) == pytest.approx((ref99.low, ref99.high, d.p), rel=1e-9)


def test_identical_differences_give_a_point_interval():
    d = paired_difference([0.5, 0.6, 0.7], [0.4, 0.5, 0.6])  # +0.1 on every seed
    assert (d.low, d.high) == pytest.approx((0.1, 0.1)) and d.p == 0.0
    z = paired_difference([0.5, 0.6], [0.5, 0.6])
    assert (z.mean, z.low, z.high, z.p) == (0.0, 0.0, 0.0, 1.0)


def test_holm_against_a_hand_computed_example():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, max(0.06, 0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, math.nan, 0.9]) == pytest.approx([0.4, math.nan, 0.9], nan_ok=True)  # m = 2
    assert holm([]) == []


def test_holm_intervals_exclude_zero_exactly_when_holm_rejects():
    # n=3 pairs; p-values 0.005 / 0.01 / 0.03 / 0.04 by construction (t from the p-value)
    tq = lambda p: stats.t.isf(p / 2, 2)  # noqa: E731
    raw = [PairedDifference(0.02, 0, 0, 3, p, 0.02 / tq(p)) for p in (0.01, 0.04, 0.03, 0.005)]
    raw = [at_confidence(d, 0.95) for d in raw]
    adj = holm_adjust(raw)
    assert [d.p for d in adj] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # levels: step 1 at 0.05/4, step 2 at 0.05/3, step 3 stops at 0.05/2 and step 4 stays there
    assert [d.confidence for d in adj] == pytest.approx([1 - 0.05 / 3, 1 - 0.05 / 2,
                                                        1 - 0.05 / 2, 1 - 0.05 / 4])
    assert [d.low > 0 for d in adj] == [True, False, False, True]
    assert all(d.low > 0 for d in raw)  # unadjusted, all four would have said "helps"
    rng = np.random.default_rng(0)
    for _ in range(50):  # the same equivalence on random families
        family = [paired_difference(rng.normal(0.01, 0.01, 4), np.zeros(4)) for _ in range(12)]
        for d in holm_adjust(family):
            assert (d.low > 0 or d.high < 0) == (d.p < 0.05)
    few = PairedDifference(0.1, -math.inf, math.inf, 1)
    assert holm_adjust([few]) == [few]


def test_minimum_effect_turns_a_deterministic_tiny_difference_into_no_effect():
    """--l2 1e-9: the loss moves by 1e-6 on every seed, an interval +0.000 [+0.000, +0.000]."""
    tiny = paired_difference([0.300001, 0.310001, 0.320001], [0.3, 0.31, 0.32])
    assert tiny.low > 0 and verdict(tiny, higher_is_better=False) == "hurts"  # without a minimum
    assert effect(tiny, False, 0.003) == "negligible"
    assert verdict(tiny, False, 0.003, "0.003 (1% of none's test loss)") == (
        "no measurable effect (below the minimum effect of 0.003 (1% of none's test loss))")
    # excludes 0 but the mean (0.3 points) does not reach the minimum of 0.5 points
    small = PairedDifference(0.003, 0.001, 0.0055, 3)
    assert verdict(small, min_effect=0.005, min_effect_text="0.5 points") == (
        "no measurable effect (below the minimum effect of 0.5 points)")
    assert verdict(PairedDifference(0.006, 0.001, 0.011, 3), min_effect=0.005) == "helps"
    assert verdict(PairedDifference(-0.006, -0.011, -0.001, 3), min_effect=0.005) == "hurts"
    wide = PairedDifference(0.001, -0.02, 0.022, 3)
    assert verdict(wide, min_effect=0.005) == "no measurable effect at n=3"


def test_numbers_never_print_minus_zero():
    assert format_num(-0.0004, 2) == "0.00" and format_num(-0.0004, 2, sign=True) == "+0.00"
    assert format_num(-0.006, 2, sign=True) == "-0.01" and format_num(0.0, 3) == "0.000"
    assert format_num(-math.inf, 2, sign=True) == "-inf"
    assert format_pm(-0.00001, 0.00002, scale=100) == "0.00 ± 0.00"
    d = PairedDifference(-0.00002, -0.00004, -0.00001, 3)
    assert format_ci(d, scale=100) == "+0.00 [+0.00, +0.00]"
    assert format_ci(PairedDifference(0.5, -math.inf, math.inf, 1)) == "+0.50 [-inf, inf]"
    assert format_ci(None) == "-"
