"""Automatic position reduction: the cheapest trades that bring a limit back under target.

**The problem.** A risk measure :math:`R(q)` that is positively homogeneous of degree one
in the positions (VaR, ES, L-VaR's market part; notional trivially) splits into Euler
contributions :math:`c_i = q_i\\,\\partial R/\\partial q_i` with :math:`\\sum_i c_i = R`
(Tasche 2000). Selling a fraction :math:`x_i \\in [0, 1]` of position *i* lowers
:math:`R` by :math:`c_i x_i` to first order, at a liquidation cost :math:`k_i |q_i| x_i`
(:math:`k_i` the cost per unit: half the spread plus the expected impact). Bringing
:math:`R` down to :math:`R^* = u^* \\cdot limit` at least cost is the linear programme

.. math::
    \\min_x \\sum_i k_i |q_i| x_i \\quad \\text{s.t.} \\quad \\sum_i c_i x_i \\ge R - R^*,
    \\; 0 \\le x_i \\le 1,

a fractional knapsack, solved exactly by taking positions in decreasing order of
*marginal contribution per unit of liquidation cost* :math:`c_i / (k_i |q_i|)` — whole
positions, then a part of the last one (Dantzig 1957). At most one position is cut only
in part, so the plan is also the smallest set of trades among the cheapest. Positions
that hedge (:math:`c_i \\le 0`) are never sold: selling them adds risk.

Euler is exact only at the margin, so :func:`reduce_to_target` re-prices the portfolio
after each plan and plans again (a few rounds) until :math:`R \\le R^*`.

**Execution.** Each position's cut is split into child orders along the Almgren-Chriss
optimal trajectory (Almgren & Chriss 2000, reused from :mod:`riskstream.risk.liquidity`)
and sent to an execution venue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from riskstream.core.errors import InputError


@dataclass(frozen=True)
class ReductionPlan:
    """Which positions to cut, and by how much (arrays of shape (n_positions,)).

    Attributes
    ----------
    fraction : ndarray
        Share of each position to sell (0..1).
    trade : ndarray
        Signed quantity to trade (opposite sign to the position).
    order : ndarray of int
        Positions cut, in priority order (largest contribution per unit cost first).
    risk_before, risk_target : float
        :math:`R` and :math:`R^*`.
    risk_after_estimate : float
        :math:`R - \\sum_i c_i x_i` (first order).
    cost_estimate : float
        :math:`\\sum_i k_i |q_i| x_i`.
    feasible : bool
        False when selling every risk-adding position would still not reach the target.
    """

    fraction: np.ndarray
    trade: np.ndarray
    order: np.ndarray
    risk_before: float
    risk_target: float
    risk_after_estimate: float
    cost_estimate: float
    feasible: bool

    @property
    def n_trades(self) -> int:
        return int(np.count_nonzero(self.trade))


def plan_reduction(
    quantity: np.ndarray,
    contribution: np.ndarray,
    unit_cost: np.ndarray,
    risk: float,
    target: float,
    lot_size: np.ndarray | None = None,
) -> ReductionPlan:
    """Solve the fractional knapsack of the module docstring.

    Parameters
    ----------
    quantity : ndarray of shape (n,)
        Signed positions.
    contribution : ndarray of shape (n,)
        Euler contributions :math:`c_i` to the measure (currency).
    unit_cost : ndarray of shape (n,)
        Liquidation cost per unit sold, :math:`k_i > 0` (currency per unit).
    risk, target : float
        Current :math:`R` and target :math:`R^*`.
    lot_size : ndarray of shape (n,), optional
        Trades are rounded *up* to whole lots (never past the position).

    Returns
    -------
    ReductionPlan
    """
    q = np.asarray(quantity, dtype=np.float64)
    c = np.asarray(contribution, dtype=np.float64)
    k = np.asarray(unit_cost, dtype=np.float64)
    if q.shape != c.shape or q.shape != k.shape:
        raise InputError("contribution", c.shape, f"arrays of the positions' shape {q.shape}")
    if np.any(~np.isfinite(k)) or np.any(k <= 0):
        raise InputError("unit_cost", float(np.min(k)), "positive finite costs per unit")
    if not np.isfinite(target) or target < 0:
        raise InputError("target", target, "a non-negative finite risk target")
    need = float(risk) - float(target)
    fraction = np.zeros_like(q)
    if need <= 0:
        return ReductionPlan(
            fraction, fraction.copy(), np.array([], np.int64), risk, target, risk, 0.0, True
        )
    cost_all = k * np.abs(q)
    candidates = np.flatnonzero((c > 0) & (q != 0))
    with np.errstate(over="ignore", divide="ignore"):  # a dust position: ratio inf, first
        ratio = c[candidates] / cost_all[candidates]
    # decreasing ratio; ties by larger contribution, then by index (deterministic)
    order = candidates[np.lexsort((candidates, -c[candidates], -ratio))]
    cumulative = np.cumsum(c[order])
    last = int(np.searchsorted(cumulative, need))  # first index where the need is met
    feasible = last < len(order)
    chosen = order[: last + 1] if feasible else order
    fraction[chosen] = 1.0
    if feasible:
        before_last = cumulative[last - 1] if last > 0 else 0.0
        fraction[order[last]] = (need - before_last) / c[order[last]]
    trade = -q * fraction
    if lot_size is not None:
        lots = np.asarray(lot_size, dtype=np.float64)
        rounded = np.ceil(np.abs(trade) / lots - 1e-9) * lots
        trade = -np.sign(q) * np.minimum(rounded, np.abs(q))
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.where(q != 0, np.abs(trade) / np.abs(q), 0.0)
    reduced = float((c * fraction).sum())
    return ReductionPlan(
        fraction=fraction,
        trade=trade,
        order=chosen,
        risk_before=float(risk),
        risk_target=float(target),
        risk_after_estimate=float(risk) - reduced,
        cost_estimate=float((cost_all * fraction).sum()),
        feasible=bool(feasible),
    )


def reduce_to_target(
    quantity: np.ndarray,
    risk_fn: Callable[[np.ndarray], tuple[float, np.ndarray]],
    unit_cost: np.ndarray,
    target: float,
    max_rounds: int = 4,
    lot_size: np.ndarray | None = None,
) -> tuple[np.ndarray, list[ReductionPlan]]:
    """Plan, re-price, plan again until the measure is at or under ``target``.

    Parameters
    ----------
    quantity : ndarray of shape (n,)
    risk_fn : callable
        ``risk_fn(q) -> (R, contributions)`` re-prices the measure and its Euler parts.
    unit_cost : ndarray of shape (n,)
    target : float
    max_rounds : int

    Returns
    -------
    trade : ndarray of shape (n,)
        Total signed trade.
    plans : list of ReductionPlan
        One per round (the audit trail of the decision).
    """
    q0 = np.asarray(quantity, dtype=np.float64)
    q = q0.copy()
    plans: list[ReductionPlan] = []
    for _ in range(max_rounds):
        risk, contrib = risk_fn(q)
        if risk <= target * (1 + 1e-9):
            break
        plan = plan_reduction(q, contrib, unit_cost, risk, target, lot_size)
        plans.append(plan)
        if plan.n_trades == 0:
            break
        q = q + plan.trade
    return q - q0, plans


def almgren_chriss_slices(
    shares: np.ndarray,
    sigma: np.ndarray,
    price: np.ndarray,
    spread_rel: np.ndarray,
    adv: np.ndarray,
    horizon_days: float,
    n_periods: int,
    risk_aversion: float,
) -> np.ndarray:
    """Child-order sizes of each position's cut along the Almgren-Chriss trajectory.

    Parameters
    ----------
    shares : ndarray of shape (n,)
        Units to sell (positive).
    sigma : ndarray of shape (n,)
        Price volatility, currency per unit per :math:`\\sqrt{day}`.
    price, spread_rel, adv : ndarray of shape (n,)
        For the impact calibration of :func:`riskstream.risk.liquidity.impact_parameters`.
    horizon_days : float
        Time to complete the reduction (trading days; 60 s is about 0.0026).
    n_periods : int
    risk_aversion : float
        :math:`\\lambda` per unit of currency; higher front-loads the trades.

    Returns
    -------
    ndarray of shape (n, n_periods)
        Units to sell in each period; rows sum to ``shares``.
    """
    from riskstream.risk.liquidity import AlmgrenChriss, impact_parameters

    shares = np.abs(np.asarray(shares, dtype=np.float64))
    epsilon, eta, gamma = impact_parameters(price, spread_rel, adv)
    tau = horizon_days / n_periods
    eta = np.maximum(eta, 0.5 * gamma * tau * (1 + 1e-9) + 1e-300)
    ac = AlmgrenChriss(
        shares=shares,
        sigma=np.asarray(sigma, dtype=np.float64),
        eta=eta,
        gamma=gamma,
        epsilon=epsilon,
        horizon_days=np.full_like(shares, horizon_days),
        n_periods=np.full_like(shares, n_periods),
        risk_aversion=risk_aversion,
    )
    return -np.diff(ac.holdings(), axis=-1)
