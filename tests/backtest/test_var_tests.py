"""VaR backtests against MathWorks' documented examples, by simulation, and by property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.backtest.var_tests import (
    backtest_hits,
    christoffersen_cc,
    christoffersen_independence,
    duration_test,
    exceptions,
    hit_durations,
    kupiec_pof,
    transition_counts,
)
from riskstream.core.errors import InputError


def _series_with_transitions(n: int, n01: int, n11: int, gap: int) -> np.ndarray:
    """A 0/1 series starting with 0 with ``n01`` runs of hits, ``n11`` of them pairs."""
    hits = np.zeros(n, dtype=np.int8)
    pos = 5
    for run in range(n01):
        hits[pos] = 1
        if run < n11:
            hits[pos + 1] = 1
            pos += 1
        pos += gap
    return hits


# MathWorks Risk Management Toolbox documentation, varbacktest.cc / .pof / .cci examples
# (VaRBacktestData, EquityIndex vs Normal95): 1043 observations, 57 failures at 95%,
# N00 = 932, N10 = 53, N01 = 53, N11 = 4; LRatioPOF 0.46147 (p 0.49694), LRatioCCI 0.25866
# (p 0.61104), LRatioCC 0.72013 (p 0.69763). The statistics depend only on these counts, so
# a series with the same counts reproduces them. Tolerance: the 5 printed digits.
MATHWORKS_95 = _series_with_transitions(1043, n01=53, n11=4, gap=18)


def test_mathworks_example_counts() -> None:
    t = transition_counts(MATHWORKS_95)
    assert (MATHWORKS_95.sum(), t.n00, t.n10, t.n01, t.n11) == (57, 932, 53, 53, 4)


def test_kupiec_matches_mathworks_pof_example() -> None:
    result = kupiec_pof(MATHWORKS_95, 0.95)
    assert result.lr == pytest.approx(0.46147, abs=5e-6)
    assert result.p_value == pytest.approx(0.49694, abs=5e-6)


def test_kupiec_matches_mathworks_normal99_row() -> None:
    # Same documentation page, Normal99 row: 1043 observations, 17 failures at 99% VaR,
    # LRatioPOF 3.5118, PValuePOF 0.060933.
    hits = np.zeros(1043)
    hits[::61][:17] = 1
    result = kupiec_pof(hits, 0.99)
    assert result.lr == pytest.approx(3.5118, abs=5e-5)
    assert result.p_value == pytest.approx(0.060933, abs=5e-7)


def test_christoffersen_matches_mathworks_cci_and_cc_examples() -> None:
    ind = christoffersen_independence(MATHWORKS_95)
    cc = christoffersen_cc(MATHWORKS_95, 0.95)
    assert ind.lr == pytest.approx(0.25866, abs=5e-6)
    assert ind.p_value == pytest.approx(0.61104, abs=5e-6)
    assert cc.lr == pytest.approx(0.72013, abs=5e-6)
    assert cc.p_value == pytest.approx(0.69763, abs=5e-6)


def test_zero_count_transitions() -> None:
    # No hit at all: independence is untestable but the statistic is 0, not NaN.
    none = np.zeros(250)
    assert christoffersen_independence(none).lr == 0.0
    assert christoffersen_independence(none).p_value == pytest.approx(1.0)
    assert kupiec_pof(none, 0.99).lr == pytest.approx(-2 * 250 * np.log(0.99))
    # A single hit on the last day: n10 = n11 = 0 (the "after a hit" row is empty).
    last = np.zeros(250)
    last[-1] = 1
    t = transition_counts(last)
    assert (t.n10, t.n11) == (0, 0)
    assert np.isfinite(christoffersen_independence(last).lr)
    # Every day a hit: n00 = n01 = n10 = 0.
    assert christoffersen_independence(np.ones(20)).lr == pytest.approx(0.0)


def test_clustered_hits_reject_independence_and_duration() -> None:
    hits = np.zeros(1000)
    for start in (100, 400, 800):
        hits[start : start + 4] = 1  # three clusters of four consecutive exceptions
    assert christoffersen_independence(hits).p_value < 0.001
    assert duration_test(hits).p_value < 0.01
    assert duration_test(hits, n_simulations=99, seed=3).p_value <= 0.02


def test_hit_durations_censoring() -> None:
    d, censored = hit_durations([0, 0, 1, 0, 1, 0, 0])
    assert d.tolist() == [3.0, 2.0, 2.0]
    assert censored.tolist() == [True, False, True]
    d, censored = hit_durations([1, 0, 1])
    assert d.tolist() == [1.0, 2.0]
    assert censored.tolist() == [False, False]


def _rejection_rate(test, n_obs: int, p: float, reps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(reps):
        hits = (rng.random(n_obs) < p).astype(np.int8)
        rejected += test(hits).p_value < 0.05
    return rejected / reps


# Size under a correct model: i.i.d. Bernoulli(p) hits. The chi-square approximation of
# each LR statistic should reject about 5% of the time; the tolerance is 3 binomial
# standard errors of the simulated rate (sqrt(.05 * .95 / reps)) plus 0.01 for the
# discreteness of a statistic of a count.
@pytest.mark.parametrize(
    "name",
    ["kupiec", "independence", "cc"],
)
def test_size_close_to_nominal(name: str) -> None:
    tests = {
        "kupiec": lambda h: kupiec_pof(h, 0.95),
        "independence": christoffersen_independence,
        "cc": lambda h: christoffersen_cc(h, 0.95),
    }
    reps = 1500
    rate = _rejection_rate(tests[name], 1000, 0.05, reps, seed=11)
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / reps) + 0.01


def test_duration_test_size_close_to_nominal() -> None:
    # Christoffersen & Pelletier (2004) note the asymptotic chi-square(1) is only a fair
    # approximation in small samples; with ~100 hits it is close (tolerance as above + 0.02).
    reps = 600
    rate = _rejection_rate(duration_test, 2000, 0.05, reps, seed=5)
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / reps) + 0.02


def test_backtest_hits_json_shape() -> None:
    out = backtest_hits(MATHWORKS_95, 0.95).as_dict()
    assert list(out) == [
        "observations",
        "exceptions",
        "kupiec",
        "christoffersen_ind",
        "christoffersen_cc",
        "traffic_light",
    ]
    assert out["kupiec"].keys() == {"lr", "p_value"}
    assert out["traffic_light"].keys() == {"zone", "plus_factor", "cumulative_probability"}


@pytest.mark.parametrize(
    ("hits", "field"),
    [
        ([], "hit"),
        ([0, 1, 2], "hit"),
        ([0, 0.5], "hit"),
        ([0, np.nan], "hit"),
        (["a", "b"], "hit"),
        ([[0, 1]], "hit"),
    ],
)
def test_bad_hits_are_named(hits, field: str) -> None:
    with pytest.raises(InputError) as info:
        kupiec_pof(hits, 0.99)
    assert info.value.field == field


@pytest.mark.parametrize("confidence", [0.0, 1.0, 99.0, -0.5, float("nan"), "high"])
def test_confidence_outside_unit_interval(confidence) -> None:
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        kupiec_pof([0, 1, 0], confidence)


def test_misaligned_pnl_and_var() -> None:
    with pytest.raises(InputError, match="as many observations"):
        exceptions(np.zeros(10), np.ones(9))


@settings(max_examples=60, deadline=None)
@given(
    hits=st.lists(st.integers(0, 1), min_size=2, max_size=300),
    confidence=st.floats(0.5, 0.999),
)
def test_properties(hits: list[int], confidence: float) -> None:
    pof = kupiec_pof(hits, confidence)
    ind = christoffersen_independence(hits)
    cc = christoffersen_cc(hits, confidence)
    for test in (pof, ind, cc):
        assert test.lr >= 0.0
        assert 0.0 <= test.p_value <= 1.0
    assert cc.lr == pytest.approx(pof.lr + ind.lr, rel=1e-9, abs=1e-9)
    t = transition_counts(hits)
    assert t.n00 + t.n01 + t.n10 + t.n11 == len(hits) - 1
    dur = duration_test(hits)
    assert np.isnan(dur.lr) or dur.lr >= 0.0
