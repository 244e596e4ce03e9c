"""Trading-desk eligibility for the internal models approach and the capital multiplier
(Basel MAR32.4-32.45, MAR33.41-33.45, MAR99).

**Backtesting (MAR32.5-32.19).** Each desk compares, over the last 250 days, its daily
hypothetical P&L with the 1-day VaR at 99% and at 97.5% forecast the day before. A desk
with more than 12 exceptions at 99% or more than 30 at 97.5% leaves the internal models
approach (MAR32.19 / MAR32.5).

**P&L attribution (MAR32.30-32.45).** Spearman correlation and Kolmogorov-Smirnov distance
between the desk's risk-theoretical and hypothetical P&L
(:func:`riskstream.backtest.pla.pla_test`): a red desk leaves the approach; an amber desk
stays but the bank pays the PLA add-on (MAR33.43).

**The multiplier (MAR33.45, MAR99 Table 2).** ``m_c = 1.5 + plus factor`` from the number
of exceptions of the bank-wide 99% VaR over the last 250 days: green (0-4) 1.50; amber
5: 1.70, 6: 1.76, 7: 1.83, 8: 1.88, 9: 1.92; red (10 or more) 2.00. The zone comes from
the Basel traffic light (:func:`riskstream.backtest.traffic_light.traffic_light`, the same
binomial boundaries); for a sample other than 250 days the amber plus factor is
interpolated on that module's probability scale through the MAR99 nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike
from scipy import stats

from riskstream.backtest.pla import pla_test
from riskstream.backtest.traffic_light import traffic_light
from riskstream.backtest.var_tests import exceptions
from riskstream.core.errors import InputError
from riskstream.risk.measures import var_rank

BASE_MULTIPLIER = 1.5  # MAR33.41
AMBER_PLUS_FACTORS = (0.20, 0.26, 0.33, 0.38, 0.42)  # MAR99 Table 2: 5..9 exceptions
RED_PLUS_FACTOR = 0.50  # MAR99 Table 2: 10 or more
MAX_EXCEPTIONS_99 = 12  # MAR32.19: more than 12 at 99% in 250 days: out
MAX_EXCEPTIONS_975 = 30  # MAR32.19: more than 30 at 97.5%: out
BACKTEST_DAYS = 250


@dataclass(frozen=True)
class Multiplier:
    """The capital multiplier ``m_c`` and the backtest it comes from."""

    value: float
    zone: str
    exceptions: int
    observations: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "m_c": self.value,
            "zone": self.zone,
            "exceptions": self.exceptions,
            "observations": self.observations,
        }


def capital_multiplier(n_exceptions: int, observations: int = BACKTEST_DAYS) -> Multiplier:
    """``m_c`` of MAR33.45 from the bank-wide 99% VaR exceptions (MAR99 Table 2)."""
    light = traffic_light(n_exceptions, observations, 0.99)
    if light.zone == "green":
        plus = 0.0
    elif light.zone == "red":
        plus = RED_PLUS_FACTOR
    else:
        f = stats.binom.cdf(np.arange(5, 10), BACKTEST_DAYS, 0.01)
        nodes = -np.log10(1.0 - f)
        position = -np.log10(max(1.0 - light.cumulative_probability, 1e-300))
        plus = round(float(np.interp(position, nodes, AMBER_PLUS_FACTORS)), 4)
    zone = "amber" if light.zone == "yellow" else light.zone  # MAR99 calls yellow amber
    return Multiplier(BASE_MULTIPLIER + plus, zone, int(n_exceptions), int(observations))


def rolling_var(pnl: ArrayLike, window: int, confidence: float) -> np.ndarray:
    """Historical-simulation VaR forecast for each day after the first ``window``: day
    ``t``'s VaR (a positive loss) is that of the ``window`` P&Ls before it, the quantile
    convention of :func:`riskstream.risk.measures.var_es_from_pnl`.

    Parameters
    ----------
    pnl : array_like of shape (n_days,) or (n_days, n_series)
    window : int

    Returns
    -------
    ndarray of shape (n_days - window,) or (n_days - window, n_series)
    """
    p = np.asarray(pnl, dtype=np.float64)
    if p.shape[0] <= window:
        raise InputError("pnl", f"{p.shape[0]} days", f"more than the window of {window} days")
    k = var_rank(window, confidence)
    losses = -sliding_window_view(p[:-1], window, axis=0)  # (..., window) last axis
    return np.partition(losses, k, axis=-1)[..., k]


@dataclass(frozen=True)
class DeskEligibility:
    """One desk's backtest and PLA test, and whether it may use the internal models."""

    desk: str
    exceptions_99: int
    exceptions_975: int
    observations: int
    pla: dict[str, Any]
    eligible: bool
    pla_add_on: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "desk": self.desk,
            "exceptions_99": self.exceptions_99,
            "exceptions_975": self.exceptions_975,
            "observations": self.observations,
            "pla": self.pla,
            "eligible": self.eligible,
            "pla_add_on": self.pla_add_on,
            "reasons": list(self.reasons),
        }


def desk_eligibility(
    desk: str,
    hpl: ArrayLike,
    rtpl: ArrayLike,
    var_99: ArrayLike,
    var_975: ArrayLike,
) -> DeskEligibility:
    """Backtesting and PLA of one desk over aligned daily series (250 days in MAR32).

    Parameters
    ----------
    hpl, rtpl : array_like of shape (n_days,)
        Hypothetical and risk-theoretical P&L (gains positive).
    var_99, var_975 : array_like of shape (n_days,)
        The 1-day VaR (positive) forecast the day before each P&L.
    """
    h = np.asarray(hpl, dtype=np.float64)
    n = h.size
    for name, a in (("rtpl", rtpl), ("var_99", var_99), ("var_975", var_975)):
        if np.shape(a) != (n,):
            raise InputError(name, f"shape {np.shape(a)}", f"({n},), aligned with hpl")
    x99 = int(exceptions(h, var_99).sum())
    x975 = int(exceptions(h, var_975).sum())
    pla = pla_test(rtpl, h)
    reasons = []
    if x99 > MAX_EXCEPTIONS_99:
        reasons.append(f"{x99} exceptions at 99% (> {MAX_EXCEPTIONS_99})")
    if x975 > MAX_EXCEPTIONS_975:
        reasons.append(f"{x975} exceptions at 97.5% (> {MAX_EXCEPTIONS_975})")
    if pla.zone == "red":
        reasons.append("PLA red zone")
    return DeskEligibility(
        desk, x99, x975, n, pla.as_dict(), not reasons, pla.zone == "amber", tuple(reasons)
    )
