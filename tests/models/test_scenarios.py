"""Scenario generators: shapes, determinism, historical VaR on the S&P 500, the FHS
re-scaling property, Monte Carlo marginals and dependence, the factory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError, ModelError
from riskstream.models import (
    FilteredHistoricalSimulation,
    GarchPanel,
    GaussianCopula,
    HistoricalSimulation,
    MonteCarloSimulation,
    ScenarioGenerator,
    scenario_generator,
)


@pytest.fixture(scope="module")
def factors(sp500_log: np.ndarray) -> np.ndarray:
    """Three factors: the S&P 500 and two dependent series built from it (2,000 days)."""
    rng = np.random.default_rng(42)
    spx = sp500_log[-2000:]
    noise = rng.standard_t(5, (2000, 2)) * 0.006
    return np.c_[spx, 0.7 * spx + noise[:, 0], -0.3 * spx + noise[:, 1]]


@pytest.fixture(scope="module")
def fitted(factors: np.ndarray) -> dict[str, ScenarioGenerator]:
    return {
        "hs": HistoricalSimulation().fit(factors),
        "hs_boot": HistoricalSimulation(paths="bootstrap").fit(factors),
        "fhs": FilteredHistoricalSimulation().fit(factors),
        "mc_t": MonteCarloSimulation().fit(factors),
        "mc_gauss": MonteCarloSimulation(
            copula=GaussianCopula(), volatility=GarchPanel(dist="normal")
        ).fit(factors),
    }


@pytest.mark.parametrize("name", ["hs", "hs_boot", "fhs", "mc_t", "mc_gauss"])
@pytest.mark.parametrize("horizon", [1, 10])
def test_shape_and_determinism(fitted: dict, name: str, horizon: int) -> None:
    gen = fitted[name]
    assert isinstance(gen, ScenarioGenerator)
    a = gen.generate(1500, horizon, seed=1)
    assert a.shape == (1500, 3)
    assert a.dtype == np.float64 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, gen.generate(1500, horizon, seed=1))
    if name != "hs":  # overlapping HS is deterministic by construction, seed unused
        assert not np.array_equal(a, gen.generate(1500, horizon, seed=2))


def test_historical_var_equals_empirical_quantile(sp500_log: np.ndarray) -> None:
    """Historical VaR (Jorion, *Value at Risk*, 3rd ed., §10.2): the 99% one-day VaR of a
    long S&P 500 position from HS scenarios is the empirical 1% quantile of the last N
    daily log returns — identical, since the scenarios are those returns (tolerance 0)."""
    window = 1000
    hs = HistoricalSimulation().fit(sp500_log)
    scen = hs.generate(window, 1)[:, 0]
    direct = np.quantile(sp500_log[-window:], 0.01)
    assert np.quantile(scen, 0.01) == direct
    assert -np.quantile(scen, 0.01) > 0.02  # 2015-2018 window: roughly a 2.5% daily VaR
    # the whole history too
    full = hs.generate(hs.n_windows(1), 1)[:, 0]
    assert np.quantile(full, 0.01) == np.quantile(sp500_log, 0.01)


def test_overlapping_windows_equal_rolling_sums(sp500_log: np.ndarray) -> None:
    """10-day overlapping scenarios equal pandas' rolling 10-day sums of log returns."""
    hs = HistoricalSimulation().fit(sp500_log)
    scen = hs.generate(750, 10)[:, 0]
    rolling = pd.Series(sp500_log).rolling(10).sum().to_numpy()[-750:]
    np.testing.assert_allclose(scen, rolling, rtol=1e-12, atol=1e-15)
    with pytest.raises(InputError, match="n_scenarios"):
        hs.generate(hs.n_windows(10) + 1, 10)


def test_bootstrap_rows_are_historical_dates(factors: np.ndarray) -> None:
    """h = 1 bootstrap scenarios are whole historical rows (cross-sectional dependence)."""
    scen = HistoricalSimulation(paths="bootstrap").fit(factors).generate(500, 1, seed=3)
    rows = {tuple(r) for r in factors}
    assert all(tuple(s) in rows for s in scen)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 10.0), st.integers(1, 5), st.integers(0, 1000))
def test_hs_scales_linearly(c: float, horizon: int, seed: int) -> None:
    r = np.random.default_rng(seed).normal(0, 0.01, (60, 2))
    base = HistoricalSimulation().fit(r).generate(40, horizon)
    scaled = HistoricalSimulation().fit(c * r).generate(40, horizon)
    np.testing.assert_allclose(scaled, c * base, rtol=1e-12, atol=1e-17)


def test_fhs_rescales_residuals_to_todays_volatility(fitted: dict) -> None:
    """Barone-Adesi et al. (1999): a one-day FHS scenario is μ + σ_{T+1} z_s for a
    historical date s — re-derived here from the same seed, to machine precision — so the
    scenarios' volatility is today's forecast times the residuals' dispersion."""
    fhs: FilteredHistoricalSimulation = fitted["fhs"]
    n, seed = 40_000, 5
    scen = fhs.generate(n, 1, seed=seed)
    dates = np.random.default_rng(seed).integers(0, fhs.standardized_residuals_.shape[0], (n, 1))
    mu = fhs.garch_.mu_ / fhs.garch_.scale_
    expected = mu + fhs.volatility_ * fhs.standardized_residuals_[dates[:, 0]]
    np.testing.assert_allclose(scen, expected, rtol=1e-12)
    z_std = fhs.standardized_residuals_.std(axis=0)
    # bootstrap error of a standard deviation from 40k draws of heavy-tailed z: ≈ 0.6%
    np.testing.assert_allclose(scen.std(axis=0), fhs.volatility_ * z_std, rtol=0.02)


def test_fhs_multi_day_variance_follows_garch_forecast(fitted: dict) -> None:
    """h-day FHS paths: Var(Σ r) ≈ Σ_h E[σ²_{T+h}] (innovations ~unit variance)."""
    fhs: FilteredHistoricalSimulation = fitted["fhs"]
    scen = fhs.generate(40_000, 10, seed=8)
    z_var = fhs.standardized_residuals_.var(axis=0)
    expected = fhs.garch_.forecast_variance(10).sum(axis=0) * z_var
    np.testing.assert_allclose(scen.var(axis=0), expected, rtol=0.06)


def test_mc_marginals_and_dependence(fitted: dict) -> None:
    mc: MonteCarloSimulation = fitted["mc_t"]
    scen = mc.generate(40_000, 1, seed=9)
    # one-day marginal: μ + σ_{T+1} z with unit-variance z
    np.testing.assert_allclose(scen.std(axis=0), mc.volatility_, rtol=0.03)
    # dependence: rank correlation of scenarios ≈ that of the copula (ρ_S = 6/π asin(ρ/2))
    from scipy import stats

    rho = mc.copula_.correlation_
    rho_s = stats.spearmanr(scen).statistic
    np.testing.assert_allclose(rho_s, 6 / np.pi * np.arcsin(rho / 2), atol=0.03)
    assert rho[0, 1] > 0.5 and rho[0, 2] < -0.2


def test_factory_names_and_errors(factors: np.ndarray) -> None:
    assert isinstance(scenario_generator("historical"), HistoricalSimulation)
    assert isinstance(scenario_generator("HS", paths="bootstrap"), HistoricalSimulation)
    assert isinstance(scenario_generator("fhs", o=1), FilteredHistoricalSimulation)
    mc = scenario_generator("mc", copula="gaussian")
    assert isinstance(mc, MonteCarloSimulation) and isinstance(mc.copula, GaussianCopula)
    assert scenario_generator("fhs", o=1).volatility.get_params()["o"] == 1
    with pytest.raises(InputError, match="'name'"):
        scenario_generator("garch")
    with pytest.raises(InputError, match="params"):
        scenario_generator("hs", copula="t")
    with pytest.raises(ModelError):
        HistoricalSimulation().generate(10)
    hs = HistoricalSimulation().fit(factors)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InputError):
            hs.generate(bad)
    with pytest.raises(InputError, match="'seed'"):
        hs.generate(10, 1, seed=-1)
    with pytest.raises(InputError, match="paths"):
        HistoricalSimulation(paths="block").fit(factors)
    nan = factors.copy()
    nan[7, 2] = np.nan
    with pytest.raises(InputError, match=r"returns\[7, 2\]"):
        FilteredHistoricalSimulation().fit(nan)


def test_update_absorbs_a_new_day(factors: np.ndarray) -> None:
    fhs = FilteredHistoricalSimulation().fit(factors[:-1])
    before = fhs.volatility_.copy()
    fhs.update(factors[-1])
    assert fhs.standardized_residuals_.shape == factors.shape
    assert not np.allclose(fhs.volatility_, before)
    assert fhs.generate(100, 2, seed=1).shape == (100, 3)
    hs = HistoricalSimulation().fit(factors[:-1]).update(factors[-1])
    np.testing.assert_array_equal(hs.generate(5, 1), factors[-5:])
    mc = MonteCarloSimulation(copula=GaussianCopula()).fit(factors[:-1]).update(factors[-1])
    np.testing.assert_allclose(mc.volatility_, fhs.volatility_, rtol=1e-6)
    with pytest.raises(InputError, match="r_t"):
        hs.update(factors[-1, :2])
