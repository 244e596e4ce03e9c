"""Estimators against their definitions and peers; Almgren-Chriss costs; risk before/after."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.portfolio.costs import TradingCosts
from riskstream.portfolio.estimation import (
    covariance,
    expected_returns,
    factor_covariance,
    regime_covariance,
    returns_from_prices,
)
from riskstream.portfolio.report import risk_before_after
from riskstream.risk.liquidity import AlmgrenChriss, impact_parameters
from riskstream.risk.measures import var_es_from_pnl


def test_compounded_mean_is_the_documented_formula(sp500_returns):
    # the CLI contract: (prod(1 + r))^(252/n) - 1
    r = sp500_returns
    expected = np.prod(1 + r, axis=0) ** (252 / r.shape[0]) - 1
    np.testing.assert_allclose(expected_returns(r), expected, rtol=1e-10)
    np.testing.assert_allclose(expected_returns(r, "arithmetic"), r.mean(axis=0) * 252)
    np.testing.assert_allclose(covariance(r), np.cov(r, rowvar=False) * 252)


def test_ledoit_wolf_matches_scikit_learn(sp500_returns):
    # peer: scikit-learn's LedoitWolf (Ledoit & Wolf 2004) on the same returns
    from sklearn.covariance import LedoitWolf

    np.testing.assert_allclose(
        covariance(sp500_returns, "ledoit_wolf"),
        LedoitWolf().fit(sp500_returns).covariance_ * 252,
        rtol=1e-8,
    )


def test_ewma_is_the_riskmetrics_recursion(sp500_returns):
    # RiskMetrics Technical Document (J.P. Morgan 1996), eq. 5.3: S_t = lambda S_{t-1} +
    # (1 - lambda) r_t r_t', lambda = 0.94 for daily data
    r = sp500_returns[-400:, :4]
    s = np.outer(r[0], r[0])
    for x in r[1:]:
        s = 0.94 * s + 0.06 * np.outer(x, x)
    np.testing.assert_allclose(covariance(r, "ewma"), s * 252, rtol=1e-6)


def test_capm_and_shrunk_means(sp500_returns):
    r = sp500_returns
    market = r.mean(axis=1)
    mu = expected_returns(r, "capm", risk_free_rate=0.01)
    beta = np.array([np.polyfit(market, r[:, j], 1)[0] for j in range(r.shape[1])])
    mu_m = np.prod(1 + market) ** (252 / len(market)) - 1
    np.testing.assert_allclose(mu, 0.01 + beta * (mu_m - 0.01), rtol=1e-8)
    shrunk = expected_returns(r, "shrunk")
    raw = expected_returns(r, "arithmetic")
    # James-Stein pulls every mean towards the grand mean
    assert np.all(np.abs(shrunk - shrunk.mean()) <= np.abs(raw - raw.mean()) + 1e-12)


def test_factor_model_recovers_loadings():
    rng = np.random.default_rng(7)
    f = rng.normal(0, 0.01, size=(2000, 2))
    b = np.array([[1.0, 0.2], [0.5, -0.3], [1.5, 0.0]])
    r = f @ b.T + rng.normal(0, 0.002, size=(2000, 3))
    fit = factor_covariance(r, f)
    np.testing.assert_allclose(fit.loadings, b, atol=0.03)
    np.testing.assert_allclose(fit.specific_variance, 0.002**2 * 252, rtol=0.1)
    np.testing.assert_allclose(fit.covariance, covariance(r, "factor", factor_returns=f))


def test_regime_covariance_is_the_mixture():
    mu = np.array([[0.1, 0.05], [-0.2, 0.0]])
    cov = np.array([[[0.02, 0.005], [0.005, 0.01]], [[0.09, 0.04], [0.04, 0.03]]])
    m, s = regime_covariance(mu, cov, [1.0, 0.0])
    np.testing.assert_allclose(m, mu[0]) and np.testing.assert_allclose(s, cov[0])
    m, s = regime_covariance(mu, cov, [0.5, 0.5])
    # the mixture's variance adds the spread of the regime means: 0.25 * (0.3)^2 for asset 0
    assert s[0, 0] == pytest.approx(0.5 * 0.02 + 0.5 * 0.09 + 0.25 * 0.3**2)
    with pytest.raises(InputError, match="probabilities"):
        regime_covariance(mu, cov, [0.5, 0.6])


def test_bad_prices_and_returns_name_the_cell():
    with pytest.raises(InputError, match=r"row 2, column 1"):
        returns_from_prices(np.array([[1.0, 1.0], [1.1, 1.0], [1.2, -1.0]]))
    with pytest.raises(InputError, match="returns"):
        expected_returns(np.array([[0.1], [np.nan]]))


def test_trading_cost_is_almgren_chriss_sample_stock():
    # Almgren & Chriss (2000), §4: 1,000,000 shares at $50, spread 1/8, ADV 5 million,
    # sold in a straight line over 5 days (lambda -> 0): E = gamma X^2/2 + eps X +
    # eta~ X^2 / T = 125,000 + 62,500 + 475,000 = 662,500. In weights of a $50 million
    # portfolio the trade is w = 1.
    costs = TradingCosts.from_market([50.0], [0.125 / 50.0], [5e6], 50e6, execution_days=5.0)
    assert costs.cost([1.0]) * 50e6 == pytest.approx(662_500.0, rel=1e-9)
    eps, eta, gamma = impact_parameters(50.0, 0.125 / 50.0, 5e6)
    ac = AlmgrenChriss(1e6, 0.95, eta, gamma, eps, 5.0, 5, 0.0)
    assert costs.cost([1.0]) * 50e6 == pytest.approx(float(ac.cost_mean_variance()[0]))
    # cost is symmetric in buying and selling and convex: twice the trade, more than twice
    assert costs.cost([-1.0]) == costs.cost([1.0])
    assert costs.cost([2.0]) > 2 * costs.cost([1.0])


def test_risk_before_after_uses_the_risk_measures(sp500_returns):
    r = sp500_returns
    before = np.full(r.shape[1], 1e6 / r.shape[1])
    after = before.copy()
    after[0] = 0.0
    out = risk_before_after(r, before, after, 0.99)
    var, es = var_es_from_pnl(r @ before, 0.99)
    assert out["before"].var == pytest.approx(var) and out["before"].es == pytest.approx(es)
    # Euler: contributions add up to ES exactly, and a closed position contributes nothing
    assert out["after"].component_es.sum() == pytest.approx(out["after"].es)
    assert out["after"].component_es[0] == 0.0
