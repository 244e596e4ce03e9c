"""Walk-forward validation: out-of-sample by construction, exact where it can be."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskstream.backtest.rolling import walk_forward, walk_forward_models
from riskstream.backtest.var_tests import kupiec_pof
from riskstream.core.errors import InputError


def _garch_t_returns(n: int, seed: int) -> np.ndarray:
    """GARCH(1,1) with standardised t(6) innovations, daily decimal returns."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta, nu = 2e-6, 0.08, 0.90, 6.0
    z = rng.standard_t(nu, n) * np.sqrt((nu - 2) / nu)
    r = np.empty(n)
    s2 = omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = np.sqrt(s2) * z[t]
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    return r


DATES = np.arange(np.datetime64("2010-01-01"), np.datetime64("2010-01-01") + 3000)


def test_historical_simulation_is_the_window_quantile() -> None:
    x = _garch_t_returns(400, 1)
    run = walk_forward(x, DATES[:400], "hs", confidence=0.99, window=250)
    for i, t in enumerate((250, 300, 399)):
        window = x[t - 250 : t]
        j = t - 250
        # inverted-CDF empirical quantile: the ceil(250 * 0.99) = 248th smallest loss
        assert run.var[j] == pytest.approx(np.sort(-window)[247], rel=1e-12), i
        assert run.es[j] == pytest.approx(np.sort(-window)[247:].mean(), rel=1e-12)


def test_ewma_matches_riskmetrics_recursion() -> None:
    x = _garch_t_returns(300, 2)
    run = walk_forward(x, DATES[:300], "ewma", confidence=0.99, window=200)
    # sigma^2_t = 0.94 sigma^2_{t-1} + 0.06 r^2_{t-1} (J.P. Morgan RiskMetrics 1996), checked
    # through the ratio of consecutive forecasts, which does not depend on the start value.
    s = run.var / stats.norm.ppf(0.99)
    for t in range(201, 300):
        expected = 0.94 * s[t - 201] ** 2 + 0.06 * x[t - 1] ** 2
        assert s[t - 200] ** 2 == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("model", ["hs", "ewma", "garch-t", "fhs"])
def test_no_look_ahead(model: str) -> None:
    # A forecast for day t may use returns before t only: changing every return from day
    # t on leaves the forecasts for days up to t unchanged.
    x = _garch_t_returns(360, 3)
    t_cut = 330
    y = x.copy()
    y[t_cut:] *= 5.0
    kwargs = {"confidence": 0.99, "window": 300, "refit_every_days": 20, "n_scenarios": 500}
    a = walk_forward(x, DATES[:360], model, **kwargs)
    b = walk_forward(y, DATES[:360], model, **kwargs)
    k = t_cut - 300 + 1  # forecasts for days 300..t_cut
    np.testing.assert_array_equal(a.var[:k], b.var[:k])
    np.testing.assert_array_equal(a.es[:k], b.es[:k])
    assert not np.array_equal(a.var[k:], b.var[k:])


def test_correct_model_has_nominal_exception_rate() -> None:
    # GARCH-t data, GARCH-t model: 2000 out-of-sample days at 99% should give about 20
    # exceptions; Kupiec must not reject at 1%.
    x = _garch_t_returns(2500, 4)
    run = walk_forward(x, DATES[:2500], "garch-t", confidence=0.99, window=500, refit_every_days=50)
    assert run.pnl.size == 2000
    assert kupiec_pof(run.hits, 0.99).p_value > 0.01
    assert np.all(run.es >= run.var)
    assert np.all(run.var_99 == run.var)  # the FRTB 99% VaR is the run's own
    assert np.all(run.var_975 < run.var)


def test_deterministic_by_seed() -> None:
    x = _garch_t_returns(340, 5)
    a = walk_forward(x, DATES[:340], "fhs", window=300, n_scenarios=300, seed=9)
    b = walk_forward(x, DATES[:340], "fhs", window=300, n_scenarios=300, seed=9)
    np.testing.assert_array_equal(a.var, b.var)


def test_bad_input() -> None:
    x = _garch_t_returns(200, 6)
    with pytest.raises(InputError) as info:
        walk_forward(x, DATES[:200], "hs", window=50)
    assert info.value.field == "window"
    with pytest.raises(InputError) as info:
        walk_forward(x, DATES[:200], "hs", window=200)
    assert info.value.field == "window"
    with pytest.raises(InputError) as info:
        walk_forward(x, DATES[:199], "hs", window=100)
    assert info.value.field == "dates"
    with pytest.raises(InputError) as info:
        walk_forward_models(x, DATES[:200], ["hs", "var-cov"], window=100)
    assert info.value.field == "models"
    y = x.copy()
    y[10] = np.nan
    with pytest.raises(InputError) as info:
        walk_forward(y, DATES[:200], "hs", window=100)
    assert info.value.field == "returns"
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        walk_forward(x, DATES[:200], "hs", window=100, confidence=1.2)


@pytest.mark.parametrize("nu", [3.5, 6.0, 30.0])
def test_garch_t_standardised_var_es_closed_form(nu: float) -> None:
    # McNeil, Frey & Embrechts, Quantitative Risk Management (2nd ed.), example 2.15: the ES
    # of a t(nu) is f(t_a)/a * (nu + t_a^2)/(nu - 1); scaled to unit variance. Checked
    # against numerical integration of the tail (tolerance 1e-8 relative).
    from riskstream.backtest.rolling import _GarchTForecaster

    forecaster = _GarchTForecaster(np.zeros(10), 5, 0.99, 20)
    forecaster._standardised_quantiles(nu)
    s = np.sqrt((nu - 2) / nu)
    dist = stats.t(nu, scale=s)  # unit variance
    q = dist.ppf(0.01)
    es = -dist.expect(lambda x: x, ub=q) / 0.01
    assert forecaster.q_var[0] == pytest.approx(q, rel=1e-10)
    assert forecaster.es_std == pytest.approx(es, rel=1e-8)
