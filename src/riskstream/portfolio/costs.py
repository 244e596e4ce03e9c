"""Trading costs of a rebalance: a proportional spread cost plus Almgren-Chriss impact.

A trade of :math:`X` units worked in a straight line over :math:`T` days costs, in
expectation (Almgren & Chriss 2000, "Optimal execution of portfolio transactions", eq. 20
with :math:`n_k = X/N`; :class:`riskstream.risk.liquidity.AlmgrenChriss` at
:math:`\\lambda = 0`),

.. math:: E = \\epsilon|X| + \\tfrac12\\gamma X^2 + \\frac{\\tilde\\eta}{T} X^2 ,

with :math:`\\epsilon` half the quoted spread (the proportional cost), :math:`\\gamma` the
**permanent** and :math:`\\eta` (:math:`\\tilde\\eta = \\eta - \\tfrac12\\gamma\\tau`) the
**temporary** impact, calibrated from the instrument's price, spread and ADV
(:func:`riskstream.risk.liquidity.impact_parameters`: 1% of ADV in a day moves the execution
price one spread, 10% of ADV moves it for good). The impact is **linear** in the trading
rate, so its cost is **quadratic** in the trade — convex, which lets the optimiser solve the
rebalance and its costs together (a square-root law, Almgren et al. 2005, would make the cost
grow as :math:`|X|^{3/2}`; we keep the paper's linear model, whose coefficients the risk
engine's liquidity measure already uses).

In weights of a portfolio worth :math:`V` (trade :math:`\\Delta w_i = X_i P_i / V`), the
cost as a fraction of :math:`V` is

.. math:: c(\\Delta w) = \\sum_i s_i |\\Delta w_i| + k_i \\Delta w_i^2, \\qquad
    s_i = \\epsilon_i / P_i,\\quad k_i = (\\tfrac12\\gamma_i + \\tilde\\eta_i/T)\\,V/P_i^2 .
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.risk.liquidity import AlmgrenChriss, impact_parameters


@dataclass(frozen=True)
class TradingCosts:
    """Cost of trading weights: ``proportional`` per unit of |Δw|, ``impact`` per Δw².

    Attributes
    ----------
    proportional : ndarray of shape (n_assets,)
        :math:`s_i`, fraction of the traded value (half the relative spread plus fees).
    impact : ndarray of shape (n_assets,)
        :math:`k_i`, fraction of portfolio value per squared weight traded.
    """

    proportional: np.ndarray
    impact: np.ndarray

    def __post_init__(self) -> None:
        for name in ("proportional", "impact"):
            value = np.atleast_1d(np.asarray(getattr(self, name), dtype=np.float64))
            if not (np.isfinite(value).all() and (value >= 0).all()):
                raise InputError(name, value.tolist()[:5], "finite non-negative cost rates")
            object.__setattr__(self, name, value)

    @classmethod
    def zero(cls, n_assets: int) -> TradingCosts:
        return cls(np.zeros(n_assets), np.zeros(n_assets))

    @classmethod
    def from_market(
        cls,
        price: ArrayLike,
        spread_rel: ArrayLike,
        adv: ArrayLike,
        portfolio_value: float,
        execution_days: float = 1.0,
        eta_adv_fraction: float = 0.01,
        gamma_adv_fraction: float = 0.10,
    ) -> TradingCosts:
        """Calibrate from each asset's price, relative spread and ADV (units a day).

        The quadratic coefficient is the Almgren-Chriss expected impact cost of one unit
        traded in a straight line over ``execution_days`` (one period a day), so this
        module and the risk engine's liquidity measure share one formula.
        """
        p = np.asarray(price, dtype=np.float64)
        adv = np.asarray(adv, dtype=np.float64)
        if not (np.isfinite(p).all() and (p > 0).all()):
            raise InputError("price", p.tolist()[:5], "positive prices")
        if not (np.isfinite(adv).all() and (adv > 0).all()):
            raise InputError("adv", adv.tolist()[:5], "positive average daily volumes")
        if not portfolio_value > 0:
            raise InputError("portfolio_value", portfolio_value, "a positive value")
        eps, eta, gamma = impact_parameters(
            p, spread_rel, adv, eta_adv_fraction, gamma_adv_fraction
        )
        periods = max(round(execution_days), 1)
        unit = AlmgrenChriss(
            np.ones_like(p), np.zeros_like(p), eta, gamma, eps,
            np.full_like(p, execution_days), np.full_like(p, periods), 0.0,
        )  # fmt: skip
        per_unit_sq = unit.impact_cost()  # (gamma/2 + eta~/T) for one unit
        return cls(eps / p, per_unit_sq * portfolio_value / p**2)

    def cost(self, trade: ArrayLike) -> float:
        """Expected cost of the weight changes ``trade`` as a fraction of portfolio value."""
        dw = np.asarray(trade, dtype=np.float64)
        return float(self.proportional @ np.abs(dw) + self.impact @ (dw * dw))

    def per_asset(self, trade: ArrayLike) -> np.ndarray:
        dw = np.asarray(trade, dtype=np.float64)
        return self.proportional * np.abs(dw) + self.impact * dw * dw

    @property
    def any(self) -> bool:
        return bool(self.proportional.any() or self.impact.any())
