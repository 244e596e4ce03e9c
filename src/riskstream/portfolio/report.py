"""Risk before and after a rebalance or hedge: VaR, ES and their Euler contributions.

The positions' scenario P&L — one row per scenario (e.g. the stored history's daily moves
applied to today's holdings: historical simulation), one column per instrument, per unit
held — is weighted by the quantities before and after the trades. VaR and ES follow
:mod:`riskstream.risk.measures` (positive losses, the ``ceil(n c)``-th loss and the mean
beyond it) and the contributions :func:`riskstream.risk.euler.euler_allocation` (Tasche
1999: component ES is the instrument's mean loss over the ES tail, summing to ES exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.risk.euler import euler_allocation
from riskstream.risk.measures import check_confidence


@dataclass(frozen=True)
class RiskFigures:
    """VaR, ES and per-instrument Euler contributions of one set of holdings."""

    var: float
    es: float
    component_var: np.ndarray
    component_es: np.ndarray

    def as_dict(self, names: list[str] | None = None) -> dict[str, Any]:
        labels = names or [str(i) for i in range(len(self.component_es))]
        return {
            "var": self.var,
            "es": self.es,
            "component_var": dict(zip(labels, self.component_var.tolist(), strict=True)),
            "component_es": dict(zip(labels, self.component_es.tolist(), strict=True)),
        }


def risk_figures(unit_pnl: ArrayLike, quantity: ArrayLike, confidence: float) -> RiskFigures:
    """VaR/ES and Euler contributions of ``quantity`` held.

    Parameters
    ----------
    unit_pnl : ndarray of shape (n_scenarios, n_instruments)
        Scenario P&L per unit held (base currency; for weights: the scenario returns).
    quantity : ndarray of shape (n_instruments,)
    confidence : float
    """
    pnl = np.asarray(unit_pnl, dtype=np.float64)
    q = np.asarray(quantity, dtype=np.float64)
    check_confidence(confidence)
    if pnl.ndim != 2 or pnl.shape[1] != q.shape[0]:
        raise InputError("unit_pnl", f"shape {pnl.shape}", f"(n_scenarios, {q.shape[0]})")
    if not np.isfinite(pnl).all():
        raise InputError("unit_pnl", "a non-finite scenario P&L", "finite numbers")
    tail, cvar, ces = euler_allocation(pnl * q, confidence)
    return RiskFigures(tail.var, tail.es, cvar, ces)


def risk_before_after(
    unit_pnl: ArrayLike, before: ArrayLike, after: ArrayLike, confidence: float
) -> dict[str, RiskFigures]:
    """:func:`risk_figures` of the holdings ``before`` and ``after`` the trades."""
    return {
        "before": risk_figures(unit_pnl, before, confidence),
        "after": risk_figures(unit_pnl, after, confidence),
    }
