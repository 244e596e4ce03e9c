"""Risk parity against Maillard, Roncalli & Teiletche (2010) and skfolio."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.portfolio.risk_parity import (
    levered_risk_parity,
    risk_budget_weights,
    risk_contributions,
)

VOL = np.array([0.10, 0.20, 0.30, 0.40])


def test_constant_correlation_erc_is_inverse_volatility():
    # Maillard, Roncalli & Teiletche (2010), "The properties of equally weighted risk
    # contribution portfolios", J. Portfolio Management 36(4), §"constant correlation": with
    # one correlation for all pairs the ERC weights are x_i = sigma_i^-1 / sum_j sigma_j^-1;
    # their four-asset illustration (vols 10/20/30/40%, rho = 50%) gives 48%, 24%, 16%, 12%.
    rho = np.full((4, 4), 0.5)
    np.fill_diagonal(rho, 1.0)
    w = risk_budget_weights(rho * np.outer(VOL, VOL))
    np.testing.assert_allclose(w, [0.48, 0.24, 0.16, 0.12], atol=1e-6)


def test_erc_lies_between_minimum_variance_and_equal_weights():
    # MRT (2010), eq. (8): sigma_mv <= sigma_erc <= sigma_1/n
    rho = np.array([[1, 0.8, 0, 0], [0.8, 1, -0.2, 0], [0, -0.2, 1, -0.5], [0, 0, -0.5, 1]])
    cov = rho * np.outer(VOL, VOL)
    w = risk_budget_weights(cov)
    inv = np.linalg.solve(cov, np.ones(4))
    w_mv = inv / inv.sum()  # unconstrained minimum variance (long-only here anyway)
    vol = lambda x: float(np.sqrt(x @ cov @ x))  # noqa: E731
    assert vol(w_mv) <= vol(w) <= vol(np.full(4, 0.25))
    rc = risk_contributions(w, cov)
    np.testing.assert_allclose(rc / rc.sum(), 0.25, atol=1e-6)


def test_erc_matches_skfolio_risk_budgeting(sp500_returns):
    # peer library: skfolio's RiskBudgeting (variance, equal budgets) on the same returns
    from skfolio.optimization import RiskBudgeting

    peer = RiskBudgeting().fit(sp500_returns).weights_
    w = risk_budget_weights(np.cov(sp500_returns, rowvar=False))
    np.testing.assert_allclose(w, peer, atol=2e-4)


def test_budgeted_contributions_follow_the_budgets():
    rho = np.full((4, 4), 0.3)
    np.fill_diagonal(rho, 1.0)
    cov = rho * np.outer(VOL, VOL)
    budgets = np.array([0.4, 0.3, 0.2, 0.1])
    rc = risk_contributions(risk_budget_weights(cov, budgets), cov)
    np.testing.assert_allclose(rc / rc.sum(), budgets, atol=1e-6)


@st.composite
def covariances(draw):
    n = draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n + 5, n))
    vols = rng.uniform(0.05, 0.6, n)
    corr = np.corrcoef(a, rowvar=False)
    return corr * np.outer(vols, vols)


@settings(max_examples=25, deadline=None)
@given(covariances())
def test_property_erc_contributions_are_equal(cov):
    w = risk_budget_weights(cov)
    rc = risk_contributions(w, cov)
    assert np.all(w > 0) and w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(rc / rc.sum(), 1.0 / len(w), atol=1e-5)


def test_leverage_reaches_the_target_and_pays_financing():
    rho = np.array([[1.0, 0.2], [0.2, 1.0]])
    vol = np.array([0.05, 0.15])  # bonds and equities
    cov = rho * np.outer(vol, vol)
    mu = np.array([0.03, 0.07])
    res = levered_risk_parity(cov, mu, 0.10, risk_free_rate=0.02, financing_spread=0.005)
    assert res.volatility == pytest.approx(0.10, rel=1e-9)
    w = res.unlevered_weights
    lev = 0.10 / np.sqrt(w @ cov @ w)
    assert res.leverage == pytest.approx(lev)
    # borrowed L - 1 at rf + spread
    assert res.financing_cost == pytest.approx((lev - 1) * 0.025)
    assert res.net_return == pytest.approx(lev * mu @ w - (lev - 1) * 0.025)
    capped = levered_risk_parity(cov, mu, 0.10, max_leverage=1.5)
    assert capped.leverage == 1.5 and capped.volatility < 0.10


def test_bad_budgets_are_refused():
    with pytest.raises(InputError, match="budgets"):
        risk_budget_weights(np.eye(2), [1.0, -1.0])
