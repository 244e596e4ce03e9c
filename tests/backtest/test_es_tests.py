"""Acerbi-Székely ES backtests on their paper's setup, and FRTB exception counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskstream.backtest.es_tests import (
    acerbi_szekely,
    empirical_tail_quantiles,
    frtb_exception_counts,
    simulate_tail_null,
    tail_levels,
)
from riskstream.core.errors import InputError

T = 250  # Acerbi & Székely (2014) backtest one year of daily data
C = 0.975  # at the FRTB ES level, alpha = 2.5%


def _student_t_forecast(nu: float, n_levels: int = 200):
    dist = stats.t(nu) if np.isfinite(nu) else stats.norm()
    alpha = 1 - C
    var = -dist.ppf(alpha)
    es = -dist.expect(lambda x: x, ub=dist.ppf(alpha)) / alpha
    q = np.tile(dist.ppf(tail_levels(C, n_levels)), (T, 1))
    return dist, np.full(T, var), np.full(T, es), q


@pytest.mark.parametrize("nu", [5.0, 10.0, 100.0, np.inf])
def test_z2_critical_value_matches_paper(nu: float) -> None:
    # Acerbi & Székely (2014), "Backtesting expected shortfall", section on significance:
    # with T = 250 and alpha = 2.5%, the 5% quantile of Z2 under the null is about -0.70,
    # remarkably stable across Student-t tails (they quote -0.70 at 5% and -1.8 at 0.01%).
    # Tolerance 0.06: the paper's figure is rounded, the tail is discretised on 200 atoms
    # and the quantile is simulated from 20,000 samples.
    dist, var, es, q = _student_t_forecast(nu)
    pnl = dist.rvs(size=T, random_state=7)
    result = acerbi_szekely(pnl, var, es, C, q, n_simulations=20_000, seed=1)
    assert result.z2.critical_value_5pct == pytest.approx(-0.70, abs=0.06)


def test_null_mean_is_zero() -> None:
    # Both statistics have expectation 0 under the null (Acerbi & Székely 2014, eqs. 5, 7).
    # Tolerance 0.02: about 4 Monte Carlo standard errors at 20,000 samples.
    _, _, es, q = _student_t_forecast(5.0)
    hits, tail = simulate_tail_null(q, C, 20_000, seed=3)
    z2 = np.sum(tail / es, axis=1) / (T * (1 - C)) + 1
    some = hits.any(axis=1)  # Z1 is defined given at least one exception
    z1 = np.sum(tail[some] / es, axis=1) / hits[some].sum(axis=1) + 1
    assert z2.mean() == pytest.approx(0.0, abs=0.02)
    assert z1.mean() == pytest.approx(0.0, abs=0.02)


@pytest.mark.slow
def test_size_and_power() -> None:
    # Size: samples drawn from the forecast distribution (t5) are rejected at 5% about 5%
    # of the time (tolerance 3 standard errors of the simulated rate over 400 samples).
    dist, var, es, q = _student_t_forecast(5.0)
    rng = np.random.default_rng(2)
    reps = 400
    rejected_z1 = rejected_z2 = 0
    for _ in range(reps):
        pnl = dist.rvs(size=T, random_state=rng)
        r = acerbi_szekely(pnl, var, es, C, q, n_simulations=1000, seed=5)
        rejected_z1 += r.z1.p_value < 0.05
        rejected_z2 += r.z2.p_value < 0.05
    tol = 3 * np.sqrt(0.05 * 0.95 / reps) + 0.01
    assert abs(rejected_z2 / reps - 0.05) < tol
    assert abs(rejected_z1 / reps - 0.05) < tol

    # Power: the same t5 model when the true scale is 1.4 times larger (volatility
    # underestimated by 30%): Z2 rejects most samples.
    power = np.mean(
        [
            acerbi_szekely(
                1.4 * dist.rvs(size=T, random_state=rng), var, es, C, q, 1000, 5
            ).z2.p_value
            < 0.05
            for _ in range(100)
        ]
    )
    assert power > 0.6


def test_empirical_tail_quantiles_shape_and_values() -> None:
    scen = np.random.default_rng(0).standard_normal((3, 100_000))
    q = empirical_tail_quantiles(scen, C, 8)
    assert q.shape == (3, 8)
    np.testing.assert_allclose(q, np.tile(stats.norm.ppf(tail_levels(C, 8)), (3, 1)), atol=0.05)


def test_frtb_exception_counts() -> None:
    pnl = np.zeros(250)
    pnl[:13] = -10.0  # 13 losses beyond a 99% VaR of 5: one more than MAR32.5 allows
    result = frtb_exception_counts(pnl, np.full(250, 5.0), np.full(250, 4.0))
    assert (result.exceptions_99, result.exceptions_975) == (13, 13)
    assert (result.limit_99, result.limit_975) == (12, 30)
    assert not result.eligible
    assert result.traffic_light_99.zone == "red"
    ok = frtb_exception_counts(pnl[1:], np.full(249, 5.0), np.full(249, 4.0))
    assert ok.limit_99 == 11 and not ok.eligible  # limits scale with the sample


def test_bad_input() -> None:
    with pytest.raises(InputError, match="as many observations"):
        frtb_exception_counts(np.zeros(10), np.ones(10), np.ones(9))
    with pytest.raises(InputError) as info:
        acerbi_szekely(np.zeros(3), np.ones(3), np.array([1.0, 0.0, 1.0]), C, np.ones((3, 4)))
    assert info.value.field == "es"
    with pytest.raises(InputError) as info:
        acerbi_szekely(np.zeros(3), np.ones(3), np.ones(3), C, np.ones((2, 4)))
    assert info.value.field == "tail_quantiles"
    with pytest.raises(InputError) as info:
        acerbi_szekely(np.array([0.0, np.nan]), np.ones(2), np.ones(2), C, np.ones((2, 4)))
    assert info.value.field == "pnl"
