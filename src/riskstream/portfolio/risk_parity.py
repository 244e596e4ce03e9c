"""Risk parity: equal and budgeted risk contributions, and leverage to a volatility target.

The risk contribution of asset :math:`i` to portfolio volatility
:math:`\\sigma(w) = \\sqrt{w^\\top\\Sigma w}` is its Euler part
:math:`RC_i = w_i(\\Sigma w)_i/\\sigma(w)`, and :math:`\\sum_i RC_i = \\sigma(w)`. A
**risk-budgeting** portfolio has :math:`RC_i = b_i\\,\\sigma(w)` for budgets
:math:`b_i > 0` summing to 1; **equal risk contribution** (ERC) is :math:`b_i = 1/n`
(Maillard, Roncalli & Teiletche 2010, "The properties of equally weighted risk contribution
portfolios", *J. Portfolio Management* 36(4)). For long-only weights the solution is unique
and is found by the convex problem of Spinu (2013, "An algorithm for computing risk parity
weights") / Roncalli (2013, *Introduction to Risk Parity and Budgeting*, §2.3):

.. math:: y^* = \\arg\\min_{y > 0} \\tfrac12 y^\\top\\Sigma y - \\sum_i b_i \\ln y_i,
    \\qquad w = y^*/\\textstyle\\sum_j y^*_j ,

whose first-order condition :math:`y_i(\\Sigma y)_i = b_i` is the budget condition. cvxpy
solves it (exponential cone).

**Leverage** (:func:`levered_risk_parity`): a risk-parity portfolio of low-volatility assets
(bonds) has a low return; scaling it by :math:`L = \\sigma^*/\\sigma(w)` reaches a target
volatility :math:`\\sigma^*` (Asness, Frazzini & Pedersen 2012, "Leverage aversion and risk
parity", *FAJ* 68(1)). The borrowed :math:`L - 1` is financed at the risk-free rate plus a
spread; cash left over (:math:`L < 1`) earns the risk-free rate:

.. math:: \\mu_{net} = L\\,\\mu^\\top w + (1 - L)\\,r_f - \\max(L - 1, 0)\\,s_{fin}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError, ModelError
from riskstream.portfolio.estimation import check_covariance


def risk_contributions(weights: ArrayLike, cov: ArrayLike) -> np.ndarray:
    """Euler contributions :math:`w_i(\\Sigma w)_i/\\sigma(w)` to volatility (sum to it)."""
    w = np.asarray(weights, dtype=np.float64)
    sigma = np.asarray(cov, dtype=np.float64)
    marginal = sigma @ w
    vol = float(np.sqrt(w @ marginal))
    return w * marginal / vol if vol > 0 else np.zeros_like(w)


def risk_budget_weights(cov: ArrayLike, budgets: ArrayLike | None = None) -> np.ndarray:
    """Long-only, fully invested weights whose risk contributions match ``budgets``.

    Parameters
    ----------
    cov : ndarray of shape (n_assets, n_assets)
    budgets : ndarray of shape (n_assets,), optional
        Positive risk budgets (normalised to sum 1); default equal (ERC).

    Raises
    ------
    InputError
        A non-positive budget, an asset with zero variance.
    """
    sigma = check_covariance(cov)
    n = sigma.shape[0]
    b = np.full(n, 1.0 / n) if budgets is None else np.asarray(budgets, dtype=np.float64)
    if b.shape != (n,) or not (np.isfinite(b).all() and (b > 0).all()):
        raise InputError("budgets", b.tolist()[:5], f"{n} positive risk budgets")
    b = b / b.sum()
    var = np.diag(sigma)
    if not (var > 0).all():
        raise InputError("cov", f"zero variance of asset {int(np.argmin(var))}", "variances > 0")
    # scale to unit variances: the problem is then well conditioned whatever the units
    scale = 1.0 / np.sqrt(var)
    corr = sigma * np.outer(scale, scale)
    vals, vecs = np.linalg.eigh(corr)
    factor = (vecs * np.sqrt(np.clip(vals, 0.0, None))).T
    y = cp.Variable(n, pos=True)
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(factor @ y) - b @ cp.log(y)))
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.SolverError as exc:
        raise ModelError(f"risk budgeting: the solver failed ({exc})") from None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise ModelError(f"risk budgeting: no solution ({problem.status})")
    x = _polish(corr, b, np.asarray(y.value)) * scale
    return x / x.sum()


def _polish(corr: np.ndarray, budgets: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Newton steps on the first-order condition :math:`\\Sigma y - b/y = 0` from the
    interior-point solution: the solver's default accuracy (~1e-6 on the contributions)
    becomes machine precision in two or three steps (the Jacobian
    :math:`\\Sigma + \\operatorname{diag}(b/y^2)` is positive definite, so each step is a
    solve, damped to keep :math:`y > 0`)."""
    for _ in range(20):
        grad = corr @ y - budgets / y
        if np.max(np.abs(grad)) < 1e-14:
            break
        step = np.linalg.solve(corr + np.diag(budgets / y**2), grad)
        t = 1.0
        while np.any(y - t * step <= 0):
            t *= 0.5
        y = y - t * step
    return y


@dataclass(frozen=True)
class LeveredRiskParity:
    """A risk-parity portfolio scaled to a volatility target, with its financing.

    Attributes
    ----------
    weights : ndarray of shape (n_assets,)
        Levered weights (sum to ``leverage``).
    unlevered_weights : ndarray of shape (n_assets,)
    leverage : float
        :math:`L = \\sigma^*/\\sigma(w)`.
    gross_return : float
        :math:`L\\mu^\\top w` (annual).
    financing_cost : float
        :math:`\\max(L-1, 0)(r_f + s_{fin})`, or minus the interest on cash when
        :math:`L < 1`.
    net_return, volatility, sharpe : float
    """

    weights: np.ndarray
    unlevered_weights: np.ndarray
    leverage: float
    gross_return: float
    financing_cost: float
    net_return: float
    volatility: float
    sharpe: float

    def as_dict(self, names: list[str]) -> dict[str, Any]:
        return {
            "weights": dict(zip(names, self.weights.tolist(), strict=True)),
            "unlevered_weights": dict(zip(names, self.unlevered_weights.tolist(), strict=True)),
            "leverage": self.leverage,
            "gross_return": self.gross_return,
            "financing_cost": self.financing_cost,
            "net_return": self.net_return,
            "volatility": self.volatility,
            "sharpe": self.sharpe,
        }


def levered_risk_parity(
    cov: ArrayLike,
    expected_returns: ArrayLike,
    target_volatility: float,
    risk_free_rate: float = 0.0,
    financing_spread: float = 0.0,
    budgets: ArrayLike | None = None,
    max_leverage: float | None = None,
) -> LeveredRiskParity:
    """Risk budgeting scaled to ``target_volatility`` (annual), net of financing.

    ``max_leverage`` caps :math:`L` (a prime broker's limit); the volatility then falls
    short of the target, which the result shows.
    """
    if not (np.isfinite(target_volatility) and target_volatility > 0):
        raise InputError("target_volatility", target_volatility, "a positive annual volatility")
    if financing_spread < 0:
        raise InputError("financing_spread", financing_spread, "a non-negative spread")
    sigma = check_covariance(cov)
    mu = np.asarray(expected_returns, dtype=np.float64)
    if mu.shape != (sigma.shape[0],) or not np.isfinite(mu).all():
        raise InputError("expected_returns", mu.tolist()[:5], f"{sigma.shape[0]} returns")
    w = risk_budget_weights(sigma, budgets)
    vol = float(np.sqrt(w @ sigma @ w))
    lev = target_volatility / vol
    if max_leverage is not None:
        lev = min(lev, float(max_leverage))
    gross = lev * float(mu @ w)
    borrowed = max(lev - 1.0, 0.0)
    financing = (
        borrowed * (risk_free_rate + financing_spread) - max(1.0 - lev, 0.0) * risk_free_rate
    )
    net = gross - financing
    return LeveredRiskParity(
        w * lev, w, lev, gross, financing, net, lev * vol, (net - risk_free_rate) / (lev * vol)
    )
