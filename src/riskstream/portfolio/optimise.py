"""Mean-variance optimisation with constraints and trading costs, solved by cvxpy.

Markowitz (1952) portfolios of annualised expected returns :math:`\\mu` and covariance
:math:`\\Sigma`, with weights :math:`w` (fractions of portfolio value, shorts negative):

* ``max_sharpe`` — :math:`\\max (\\mu^\\top w - r_f - c(w - w_0)) / \\sqrt{w^\\top\\Sigma w}`,
  solved as a convex problem by the Charnes-Cooper / Cornuejols-Tütüncü homogenisation
  (*Optimization Methods in Finance*, 2007, §8.2): with :math:`y = \\kappa w`,
  :math:`\\kappa > 0`, minimise :math:`y^\\top\\Sigma y` subject to
  :math:`(\\mu - r_f)^\\top y - \\kappa\\,c(y/\\kappa - w_0) \\ge 1` and every constraint
  multiplied by :math:`\\kappa`; the perspective :math:`\\kappa c(y/\\kappa - w_0)` of the
  convex cost is convex (``quad_over_lin`` for the impact part), so costs stay inside;
* ``min_volatility`` — :math:`\\min w^\\top\\Sigma w`;
* ``efficient_risk`` — :math:`\\max \\mu^\\top w - c` subject to
  :math:`\\sqrt{w^\\top\\Sigma w} \\le \\sigma^*`;
* ``efficient_return`` — :math:`\\min w^\\top\\Sigma w` subject to
  :math:`\\mu^\\top w - c \\ge \\mu^*`;
* ``max_utility`` — :math:`\\max \\mu^\\top w - c - \\tfrac{\\delta}{2} w^\\top\\Sigma w`.

:math:`c(\\Delta w)` is the expected trading cost of moving from the current weights
:math:`w_0` (:class:`~riskstream.portfolio.costs.TradingCosts`: proportional spread plus
Almgren-Chriss impact), charged once against one year's expected return; the rebalance and
its cost are solved **jointly**. Constraints (:class:`Constraints`): a budget
(:math:`\\sum w = 1` by default), per-asset bounds, long-only, group bounds (asset class,
sector, currency), a turnover limit :math:`\\|w - w_0\\|_1 \\le T`, a gross-leverage limit
:math:`\\|w\\|_1 \\le L`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cvxpy as cp
import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError, ModelError
from riskstream.portfolio.costs import TradingCosts
from riskstream.portfolio.estimation import check_covariance

OBJECTIVES: tuple[str, ...] = (
    "max_sharpe",
    "min_volatility",
    "efficient_risk",
    "efficient_return",
    "max_utility",
)
Objective = Literal[
    "max_sharpe", "min_volatility", "efficient_risk", "efficient_return", "max_utility"
]


@dataclass(frozen=True)
class GroupBound:
    """Bounds on the total weight of one group (an asset class, sector or currency).

    ``members``: bool mask or indices of the group's assets, shape (n_assets,) or (m,).
    """

    name: str
    members: np.ndarray
    lower: float = -np.inf
    upper: float = np.inf


@dataclass(frozen=True)
class Constraints:
    """What the weights may be (all optional but the budget).

    Parameters
    ----------
    long_only : bool
        Weights >= 0 (default). Off: bounded by ``min_weight`` (default -1).
    min_weight, max_weight : float or ndarray of shape (n_assets,)
    budget : float or None
        :math:`\\sum w` (1: fully invested); None leaves it free (a hedge overlay).
    groups : sequence of GroupBound
    max_turnover : float, optional
        :math:`\\|w - w_0\\|_1` at most this (one-way turnover is half of it).
    max_leverage : float, optional
        Gross exposure :math:`\\|w\\|_1` at most this.
    """

    long_only: bool = True
    min_weight: float | np.ndarray | None = None
    max_weight: float | np.ndarray = 1.0
    budget: float | None = 1.0
    groups: Sequence[GroupBound] = field(default_factory=tuple)
    max_turnover: float | None = None
    max_leverage: float | None = None

    def lower(self) -> float | np.ndarray:
        if self.min_weight is not None:
            return self.min_weight
        return 0.0 if self.long_only else -1.0

    def apply(self, y: cp.Variable, kappa: Any, w0: np.ndarray) -> list[Any]:
        """The constraints on ``y = kappa w`` (``kappa`` = 1 for the plain problems)."""
        lo, hi = self.lower(), self.max_weight
        cons = [y >= kappa * np.asarray(lo), y <= kappa * np.asarray(hi)]
        if self.long_only:
            cons.append(y >= 0)
        if self.budget is not None:
            cons.append(cp.sum(y) == kappa * self.budget)
        for g in self.groups:
            total = cp.sum(y[np.asarray(g.members)])
            if np.isfinite(g.lower):
                cons.append(total >= kappa * g.lower)
            if np.isfinite(g.upper):
                cons.append(total <= kappa * g.upper)
        if self.max_turnover is not None:
            cons.append(cp.norm1(y - kappa * w0) <= kappa * self.max_turnover)
        if self.max_leverage is not None:
            cons.append(cp.norm1(y) <= kappa * self.max_leverage)
        return cons


@dataclass(frozen=True)
class Allocation:
    """An optimised portfolio.

    Attributes
    ----------
    weights : ndarray of shape (n_assets,)
    expected_return, volatility : float
        Annualised, before costs.
    sharpe : float
        :math:`(\\mu^\\top w - r_f)/\\sigma`, before costs.
    cost : float
        Expected trading cost from ``previous_weights`` (fraction of portfolio value).
    previous_weights : ndarray of shape (n_assets,)
    objective : str
    """

    weights: np.ndarray
    expected_return: float
    volatility: float
    sharpe: float
    cost: float
    previous_weights: np.ndarray
    objective: str
    risk_free_rate: float = 0.0

    @property
    def trades(self) -> np.ndarray:
        return self.weights - self.previous_weights

    def as_dict(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        labels = list(names) if names is not None else [str(i) for i in range(len(self.weights))]
        return {
            "objective": self.objective,
            "weights": dict(zip(labels, self.weights.tolist(), strict=True)),
            "expected_return": self.expected_return,
            "volatility": self.volatility,
            "sharpe": self.sharpe,
            "cost": self.cost,
        }


def _check_inputs(
    mu: ArrayLike | None, cov: ArrayLike, previous: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sigma = check_covariance(cov)
    n = sigma.shape[0]
    m = np.zeros(n) if mu is None else np.asarray(mu, dtype=np.float64).reshape(-1)
    if m.shape != (n,) or not np.isfinite(m).all():
        raise InputError("expected_returns", m.tolist()[:5], f"{n} finite numbers")
    w0 = np.zeros(n) if previous is None else np.asarray(previous, dtype=np.float64).reshape(-1)
    if w0.shape != (n,) or not np.isfinite(w0).all():
        raise InputError("previous_weights", w0.tolist()[:5], f"{n} finite weights")
    return m, sigma, w0


def _variance(w: Any, sigma: np.ndarray) -> Any:
    """:math:`w^\\top\\Sigma w` as a quadratic form: Clarabel takes it as the QP's own
    :math:`P` matrix, about twice as fast at 500 assets as a second-order cone on a factor
    of :math:`\\Sigma` (``psd_wrap``: positive semi-definiteness was checked on input)."""
    return cp.quad_form(w, cp.psd_wrap(sigma))


def _solve(problem: cp.Problem, what: str) -> None:
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.SolverError as exc:
        raise ModelError(f"{what}: the solver failed ({exc})") from None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise ModelError(
            f"{what}: no solution ({problem.status}); the constraints may be infeasible "
            "(budget vs bounds, a target return above the attainable)"
        )


def optimise(
    expected_returns: ArrayLike | None,
    cov: ArrayLike,
    objective: Objective = "max_sharpe",
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    previous_weights: ArrayLike | None = None,
    costs: TradingCosts | None = None,
    target_volatility: float | None = None,
    target_return: float | None = None,
    risk_aversion: float = 1.0,
) -> Allocation:
    """Solve one mean-variance problem (see the module docstring).

    Parameters
    ----------
    expected_returns : ndarray of shape (n_assets,), or None for ``min_volatility``
        Annualised, decimal.
    cov : ndarray of shape (n_assets, n_assets)
        Annualised covariance.
    objective : str
        One of :data:`OBJECTIVES`.
    constraints : Constraints, optional
        Default: long-only, fully invested.
    risk_free_rate : float
        Annual, for ``max_sharpe`` and the reported Sharpe ratio.
    previous_weights : ndarray of shape (n_assets,), optional
        Current holdings (default all cash): costs and turnover are measured from them.
    costs : TradingCosts, optional
        Default none.
    target_volatility, target_return : float
        For ``efficient_risk`` and ``efficient_return``.
    risk_aversion : float
        :math:`\\delta` of ``max_utility``.

    Raises
    ------
    InputError
        Bad shapes, a missing target, an unknown objective.
    ModelError
        The problem is infeasible (e.g. no asset with return above the risk-free rate for
        ``max_sharpe``).
    """
    if objective not in OBJECTIVES:
        raise InputError("objective", objective, f"one of {', '.join(OBJECTIVES)}")
    mu, sigma, w0 = _check_inputs(expected_returns, cov, previous_weights)
    n = mu.shape[0]
    cons_spec = constraints or Constraints()
    tc = costs or TradingCosts.zero(n)
    if tc.proportional.shape != (n,) or tc.impact.shape != (n,):
        raise InputError("costs", tc.proportional.shape, f"cost rates for {n} assets")
    root_k = np.sqrt(tc.impact)

    def cost_expr(dw: Any) -> Any:
        return tc.proportional @ cp.abs(dw) + cp.sum_squares(cp.multiply(root_k, dw))

    w = cp.Variable(n)
    if objective == "max_sharpe":
        kappa = cp.Variable(nonneg=True)
        excess = mu - risk_free_rate
        dy = w - kappa * w0
        # perspective of the cost: kappa * c(y / kappa - w0)
        persp = tc.proportional @ cp.abs(dy) + cp.quad_over_lin(cp.multiply(root_k, dy), kappa)
        cons = [*cons_spec.apply(w, kappa, w0), excess @ w - persp >= 1.0]
        _solve(cp.Problem(cp.Minimize(_variance(w, sigma)), cons), "max_sharpe")
        k = float(kappa.value)
        if not k > 0:
            raise ModelError("max_sharpe: degenerate solution (kappa = 0)")
        weights = np.asarray(w.value) / k
    else:
        cons = cons_spec.apply(w, 1.0, w0)
        variance = _variance(w, sigma)
        net = mu @ w - cost_expr(w - w0)
        if objective == "min_volatility":
            problem = cp.Problem(cp.Minimize(variance + cost_expr(w - w0)), cons)
        elif objective == "efficient_risk":
            if target_volatility is None or not target_volatility > 0:
                raise InputError("target_volatility", target_volatility, "a positive volatility")
            cons.append(variance <= target_volatility**2)
            problem = cp.Problem(cp.Maximize(net), cons)
        elif objective == "efficient_return":
            if target_return is None or not np.isfinite(target_return):
                raise InputError("target_return", target_return, "an annual return")
            cons.append(net >= target_return)
            problem = cp.Problem(cp.Minimize(variance), cons)
        else:
            if not risk_aversion > 0:
                raise InputError("risk_aversion", risk_aversion, "a positive number")
            problem = cp.Problem(cp.Maximize(net - 0.5 * risk_aversion * variance), cons)
        _solve(problem, objective)
        weights = np.asarray(w.value)
    return allocation(weights, mu, sigma, objective, risk_free_rate, w0, tc)


def allocation(
    weights: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    objective: str,
    risk_free_rate: float = 0.0,
    previous_weights: np.ndarray | None = None,
    costs: TradingCosts | None = None,
) -> Allocation:
    """The :class:`Allocation` of given weights (their return, volatility, Sharpe, cost)."""
    w = np.asarray(weights, dtype=np.float64).copy()
    w[np.abs(w) < 1e-9] = 0.0  # the interior-point solver's residue on inactive assets
    w0 = np.zeros_like(w) if previous_weights is None else previous_weights
    ret = float(mu @ w)
    vol = float(np.sqrt(max(w @ sigma @ w, 0.0)))
    cost = 0.0 if costs is None else costs.cost(w - w0)
    sharpe = (ret - risk_free_rate) / vol if vol > 0 else float("nan")
    return Allocation(w, ret, vol, sharpe, cost, w0, objective, risk_free_rate)


@dataclass(frozen=True)
class Frontier:
    """Points of the efficient frontier, lowest risk first (arrays of shape (n_points,))."""

    returns: np.ndarray
    volatilities: np.ndarray
    weights: np.ndarray  # (n_points, n_assets)

    def as_dict(self) -> dict[str, Any]:
        return {"returns": self.returns.tolist(), "volatilities": self.volatilities.tolist()}


def efficient_frontier(
    expected_returns: ArrayLike,
    cov: ArrayLike,
    constraints: Constraints | None = None,
    n_points: int = 20,
) -> Frontier:
    """The efficient frontier between the minimum-volatility portfolio and the highest
    attainable return: ``n_points`` efficient-return portfolios at evenly spaced targets.

    One cvxpy problem with the target as a parameter is compiled once and re-solved, so a
    frontier costs little more than its points' solver time.
    """
    if n_points < 2:
        raise InputError("n_points", n_points, "at least 2 points")
    mu, sigma, w0 = _check_inputs(expected_returns, cov, None)
    spec = constraints or Constraints()
    low = optimise(mu, sigma, "min_volatility", spec).expected_return
    w = cp.Variable(mu.shape[0])
    top = cp.Problem(cp.Maximize(mu @ w), spec.apply(w, 1.0, w0))
    _solve(top, "frontier (highest return)")
    high = float(top.value)
    target = cp.Parameter()
    problem = cp.Problem(
        cp.Minimize(_variance(w, sigma)), [*spec.apply(w, 1.0, w0), mu @ w >= target]
    )
    rets, vols, ws = [], [], []
    for t in np.linspace(low, high, n_points):
        target.value = float(t)
        _solve(problem, "frontier")
        x = np.asarray(w.value)
        rets.append(float(mu @ x))
        vols.append(float(np.sqrt(max(x @ sigma @ x, 0.0))))
        ws.append(x)
    return Frontier(np.array(rets), np.array(vols), np.array(ws))
