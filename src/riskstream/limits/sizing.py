"""Position sizing: fractional Kelly, capped by a VaR budget.

**Kelly.** The growth-optimal fraction of capital on a bet won with probability
:math:`p` at odds :math:`b` to 1 is :math:`f^* = p - (1 - p)/b` (Kelly 1956); for a
continuous asset with expected excess return :math:`\\mu - r` and variance
:math:`\\sigma^2` it is :math:`f^* = (\\mu - r)/\\sigma^2` (Thorp 2006, section 7).
Estimation error in :math:`\\mu` makes full Kelly far too aggressive, so practitioners bet
a *fraction* :math:`\\phi f^*` (half Kelly keeps 3/4 of the growth rate with half the
volatility; MacLean, Thorp & Ziemba 2010).

**VaR cap.** A position of value :math:`V` with daily return volatility :math:`\\sigma_d`
has parametric VaR :math:`z_\\alpha \\sigma_d \\sqrt{h} |V|`; the largest position a VaR
budget :math:`B` allows is :math:`B / (z_\\alpha \\sigma_d \\sqrt{h})`. The size is the
smaller of the Kelly size and the VaR cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from riskstream.core.errors import InputError


def kelly_binary(p: float, odds: float) -> float:
    """Kelly fraction of a binary bet: :math:`p - (1-p)/b` (may be negative: don't bet)."""
    if not 0 <= p <= 1:
        raise InputError("p", p, "a probability in [0, 1]")
    if odds <= 0:
        raise InputError("odds", odds, "positive odds (net win per unit staked)")
    return p - (1 - p) / odds


def kelly_continuous(mu: np.ndarray | float, sigma: np.ndarray | float, rate: float = 0.0):
    """Kelly fraction of a lognormal asset: :math:`(\\mu - r)/\\sigma^2` (annualised inputs)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    if np.any(~np.isfinite(sigma)) or np.any(sigma <= 0):
        raise InputError("sigma", sigma, "positive finite volatilities")
    out = (np.asarray(mu, dtype=np.float64) - rate) / sigma**2
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class SizeDecision:
    """A sized position (currency value) and which constraint bound it."""

    kelly_fraction: float
    kelly_value: float
    var_cap_value: float
    value: float
    bound_by: str  # "kelly" | "var"


def size_position(
    capital: float,
    mu: float,
    sigma: float,
    var_budget: float,
    kelly_multiplier: float = 0.5,
    rate: float = 0.0,
    confidence: float = 0.99,
    horizon_days: float = 1.0,
    trading_days: float = 252.0,
) -> SizeDecision:
    """Fractional-Kelly position value capped by a VaR budget.

    Parameters
    ----------
    capital : float
        Capital the Kelly fraction applies to (currency).
    mu, sigma : float
        Expected annual return and annual volatility of the asset.
    var_budget : float
        VaR the position may use (currency).
    kelly_multiplier : float
        :math:`\\phi` in (0, 1]: 0.5 is half Kelly.
    confidence, horizon_days : float
        Of the VaR cap; ``sigma`` is scaled to the horizon by :math:`\\sqrt{h/252}`.

    Returns
    -------
    SizeDecision
        ``value`` is signed (short when the edge is negative); zero edge gives zero.
    """
    for name, value in (("capital", capital), ("var_budget", var_budget)):
        if not np.isfinite(value) or value < 0:
            raise InputError(name, value, "a non-negative finite amount")
    if not 0 < kelly_multiplier <= 1:
        raise InputError("kelly_multiplier", kelly_multiplier, "a fraction in (0, 1]")
    if not 0.5 < confidence < 1:
        raise InputError("confidence", confidence, "a level in (0.5, 1)")
    f = kelly_continuous(mu, sigma, rate)
    kelly_value = kelly_multiplier * f * capital
    z = float(norm.ppf(confidence))
    cap = var_budget / (z * sigma * np.sqrt(horizon_days / trading_days))
    value = float(np.sign(kelly_value) * min(abs(kelly_value), cap))
    bound = "var" if abs(kelly_value) > cap else "kelly"
    return SizeDecision(float(f), float(kelly_value), float(cap), value, bound)
