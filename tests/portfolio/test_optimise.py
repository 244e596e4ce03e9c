"""Mean-variance optimisation against skfolio (peer), closed forms, and cost properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError, ModelError
from riskstream.portfolio.costs import TradingCosts
from riskstream.portfolio.estimation import covariance, expected_returns
from riskstream.portfolio.optimise import Constraints, GroupBound, efficient_frontier, optimise


@pytest.fixture(scope="module")
def moments(sp500_returns):
    return expected_returns(sp500_returns, "arithmetic"), covariance(sp500_returns)


def test_max_sharpe_matches_skfolio(sp500_returns, moments):
    # peer library: skfolio MeanRisk(MAXIMIZE_RATIO) on the same daily returns (its
    # empirical mean and covariance; annualising both by 252 leaves the weights unchanged)
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    peer = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
        risk_measure=RiskMeasure.STANDARD_DEVIATION,
    ).fit(sp500_returns)
    ours = optimise(*moments, "max_sharpe")
    np.testing.assert_allclose(ours.weights, peer.weights_, atol=2e-4)


def test_min_volatility_matches_skfolio(sp500_returns, moments):
    from skfolio.optimization import MeanRisk

    peer = MeanRisk().fit(sp500_returns)
    ours = optimise(None, moments[1], "min_volatility")
    np.testing.assert_allclose(ours.weights, peer.weights_, atol=2e-4)


def test_max_utility_unconstrained_is_the_closed_form(moments):
    # Markowitz: max mu'w - delta/2 w'Sigma w with no constraints has w = Sigma^-1 mu / delta
    mu, cov = moments
    free = Constraints(long_only=False, min_weight=-np.inf, max_weight=np.inf, budget=None)
    ours = optimise(mu, cov, "max_utility", free, risk_aversion=3.0)
    np.testing.assert_allclose(ours.weights, np.linalg.solve(cov, mu) / 3.0, rtol=1e-5, atol=1e-6)


def test_efficient_risk_and_return_are_the_same_frontier(moments):
    mu, cov = moments
    by_risk = optimise(mu, cov, "efficient_risk", target_volatility=0.20)
    assert by_risk.volatility == pytest.approx(0.20, rel=1e-5)
    by_return = optimise(mu, cov, "efficient_return", target_return=by_risk.expected_return)
    assert by_return.volatility == pytest.approx(0.20, rel=1e-4)


def test_constraints_hold(moments):
    mu, cov = moments
    n = len(mu)
    group = GroupBound("first five", np.arange(5), upper=0.2)
    w0 = np.full(n, 1.0 / n)
    spec = Constraints(max_weight=0.15, groups=(group,), max_turnover=0.5)
    w = optimise(mu, cov, "max_sharpe", spec, previous_weights=w0).weights
    assert w.max() <= 0.15 + 1e-7 and w.min() >= -1e-8
    assert w[:5].sum() <= 0.2 + 1e-7
    assert np.abs(w - w0).sum() <= 0.5 + 1e-6
    assert w.sum() == pytest.approx(1.0)
    ls = Constraints(long_only=False, min_weight=-0.3, max_leverage=1.6)
    w = optimise(mu, cov, "max_sharpe", ls).weights
    assert np.abs(w).sum() <= 1.6 + 1e-6 and w.min() < 0


def test_infeasible_problem_is_a_model_error(moments):
    mu, cov = moments
    with pytest.raises(ModelError):
        optimise(mu, cov, "efficient_return", target_return=10.0)
    with pytest.raises(InputError, match="objective"):
        optimise(mu, cov, "max_alpha")  # type: ignore[arg-type]


def test_costs_are_solved_jointly_and_reported(moments):
    mu, cov = moments
    n = len(mu)
    w0 = np.full(n, 1.0 / n)
    costs = TradingCosts(np.full(n, 0.002), np.full(n, 0.05))
    free = optimise(mu, cov, "max_utility", previous_weights=w0)
    costly = optimise(mu, cov, "max_utility", previous_weights=w0, costs=costs)
    # costs make the solver trade less expensively, and its net utility is the best
    assert costly.cost < costs.cost(free.trades)

    def net_utility(w):
        return mu @ w - costs.cost(w - w0) - 0.5 * w @ cov @ w

    assert net_utility(costly.weights) >= net_utility(free.weights) - 1e-9
    assert costly.cost == pytest.approx(costs.cost(costly.weights - w0))


def test_frontier_matches_skfolio_efficient_frontier(sp500_returns, moments):
    from skfolio.optimization import MeanRisk

    mu, cov = moments
    frontier = efficient_frontier(mu, cov, n_points=6)
    peer = MeanRisk(efficient_frontier_size=6).fit(sp500_returns)
    peer_vol = np.sqrt(np.einsum("ki,ij,kj->k", peer.weights_, cov, peer.weights_))
    # the same curve: the minimum-volatility end agrees, and each of our points lies on
    # skfolio's frontier (interpolated at our return)
    assert frontier.volatilities[0] == pytest.approx(peer_vol.min(), rel=5e-4)
    peer_ret = peer.weights_ @ mu
    order = np.argsort(peer_ret)
    inner = frontier.returns <= peer_ret.max()
    interp = np.interp(frontier.returns[inner], peer_ret[order], peer_vol[order])
    assert np.all(frontier.volatilities[inner] <= interp + 1e-4)


@st.composite
def problems(draw):
    n = draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.normal(size=(n + 4, n))
    vols = rng.uniform(0.05, 0.5, n)
    cov = np.corrcoef(a, rowvar=False) * np.outer(vols, vols)
    mu = rng.uniform(-0.02, 0.15, n)
    return mu, cov, rng


@settings(max_examples=15, deadline=None)
@given(problems())
def test_property_frontier_is_monotone(problem):
    mu, cov, _ = problem
    f = efficient_frontier(mu, cov, n_points=8)
    assert np.all(np.diff(f.returns) >= -1e-7)
    assert np.all(np.diff(f.volatilities) >= -1e-6)


@settings(max_examples=15, deadline=None)
@given(problems(), st.floats(0.0, 0.01), st.floats(0.0, 0.5))
def test_property_costs_never_make_a_trade_look_better(problem, spread, impact):
    # The net objective with costs is never above the one without (costs are >= 0), and
    # the cost-aware optimum's net utility is never beaten by the cost-blind one's.
    mu, cov, rng = problem
    n = len(mu)
    w0 = rng.dirichlet(np.ones(n))
    costs = TradingCosts(np.full(n, spread), np.full(n, impact))
    blind = optimise(mu, cov, "max_utility", previous_weights=w0, risk_aversion=2.0)
    aware = optimise(mu, cov, "max_utility", previous_weights=w0, risk_aversion=2.0, costs=costs)

    def utility(w, c):
        return mu @ w - c - w @ cov @ w

    assert utility(aware.weights, aware.cost) <= utility(blind.weights, 0.0) + 1e-7
    blind_cost = costs.cost(blind.weights - w0)
    assert utility(aware.weights, aware.cost) >= utility(blind.weights, blind_cost) - 1e-7
    assert costs.cost(blind.weights - w0) >= 0.0
