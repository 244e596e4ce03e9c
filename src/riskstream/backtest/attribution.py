"""P&L attribution: explain each day's P&L by risk factor, and test the explanation.

A second-order Taylor expansion of a position's value :math:`V(S, \\sigma, y, t)` over one
day splits the P&L into named parts (Hull, *Options, Futures and Other Derivatives*, ch. 19;
the "P&L explain" a desk signs every morning):

.. math::
    \\Delta V \\approx \\underbrace{\\Delta\\,dS}_{\\text{delta}}
    + \\underbrace{\\tfrac12 \\Gamma\\,dS^2}_{\\text{gamma}}
    + \\underbrace{\\mathcal{V}\\,d\\sigma}_{\\text{vega}}
    + \\underbrace{\\Theta\\,dt}_{\\text{theta}}
    + \\underbrace{\\text{income and roll at unchanged market}}_{\\text{carry}}
    + \\text{residual}

with the sensitivities taken at the start of the day. For rates the "delta" and "gamma"
are the first and second yield derivatives (:math:`-\\mathrm{DV01}`, convexity). The
residual is the full-revaluation P&L minus the explained parts: it holds the cross terms
(vanna, volga, ...), higher orders and anything the factors miss. A small, unpatterned
residual is the evidence that the risk model's factors span the book.

The explained sum is the *risk-theoretical P&L* (RTPL) and the full revaluation the
*hypothetical P&L* (HPL) of FRTB; :func:`explain_pnl` also runs their P&L attribution test
(:func:`~riskstream.backtest.pla.pla_test`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from riskstream.backtest.inputs import check_aligned, check_series
from riskstream.backtest.pla import PLATest, pla_test
from riskstream.core.errors import InputError

#: The factors of the Taylor explain, in report order (residual is computed).
FACTORS = ("delta", "gamma", "vega", "theta", "carry")


@dataclass(frozen=True)
class PnLAttribution:
    """Daily P&L explained by risk factor.

    Attributes
    ----------
    dates : ndarray of shape (n_days,)
    hpl : ndarray of shape (n_days,)
        Hypothetical P&L from full revaluation.
    components : dict of str to ndarray of shape (n_days,)
        P&L per factor (``delta``, ``gamma``, ``vega``, ``theta``, ``carry``) and the
        ``residual``; they sum to ``hpl`` exactly.
    pla : PLATest
        FRTB P&L attribution test of RTPL (explained sum) against HPL.
    """

    dates: np.ndarray
    hpl: np.ndarray
    components: dict[str, np.ndarray]
    pla: PLATest

    @property
    def rtpl(self) -> np.ndarray:
        """Risk-theoretical P&L: the sum of the explained (non-residual) components."""
        return self.hpl - self.components["residual"]

    def summary(self) -> dict[str, float]:
        """Total P&L per component over the period, and the residual's share of |HPL|."""
        totals = {name: float(values.sum()) for name, values in self.components.items()}
        totals["total"] = float(self.hpl.sum())
        scale = float(np.abs(self.hpl).sum()) or 1.0
        totals["residual_share"] = float(np.abs(self.components["residual"]).sum() / scale)
        return totals

    def as_dict(self) -> dict[str, object]:
        return {"totals": self.summary(), "pla": self.pla.as_dict()}


def explain_pnl(
    dates: ArrayLike, hpl: ArrayLike, explained: Mapping[str, ArrayLike]
) -> PnLAttribution:
    """Attribute full-revaluation P&L to factor components and test the attribution.

    Parameters
    ----------
    dates : array_like of shape (n_days,)
    hpl : array_like of shape (n_days,)
        Full-revaluation (hypothetical) P&L of the book, in currency.
    explained : mapping of factor name to array_like of shape (n_days,)
        The Taylor components (e.g. from :func:`taylor_components`); names must be among
        :data:`FACTORS`.

    Returns
    -------
    PnLAttribution
        Components including the ``residual = hpl - sum(explained)``.
    """
    total = check_series(hpl, "hpl")
    unknown = set(explained) - set(FACTORS)
    if unknown:
        raise InputError("explained", sorted(unknown), f"factor names among {FACTORS}")
    components = {
        name: check_series(explained[name], name) for name in FACTORS if name in explained
    }
    day = np.asarray(dates)
    check_aligned(dates=day, hpl=total, **components)
    rtpl = np.sum(list(components.values()), axis=0) if components else np.zeros_like(total)
    components["residual"] = total - rtpl
    return PnLAttribution(dates=day, hpl=total, components=components, pla=pla_test(rtpl, total))


def taylor_components(
    quantity: ArrayLike,
    d_underlying: ArrayLike,
    d_vol: ArrayLike,
    dt_years: float | ArrayLike,
    delta: ArrayLike,
    gamma: ArrayLike,
    vega: ArrayLike,
    theta: ArrayLike,
) -> dict[str, np.ndarray]:
    """Delta, gamma, vega and theta P&L of positions over one step, summed per day.

    All arrays broadcast to shape (n_days, n_positions) (or (n_days,) for one position);
    sensitivities are per unit at the
    start of each day, ``vega`` per 1.00 of volatility and ``theta`` per year (as returned
    by :mod:`riskstream.pricing`), ``dt_years`` the step in years.

    Returns
    -------
    dict of str to ndarray of shape (n_days,)
        ``delta``, ``gamma``, ``vega``, ``theta``.
    """
    q = np.asarray(quantity, dtype=np.float64)
    ds = np.asarray(d_underlying, dtype=np.float64)
    dv = np.asarray(d_vol, dtype=np.float64)
    dt = np.asarray(dt_years, dtype=np.float64)
    parts = {
        "delta": q * np.asarray(delta) * ds,
        "gamma": 0.5 * q * np.asarray(gamma) * ds * ds,
        "vega": q * np.asarray(vega) * dv,
        "theta": q * np.asarray(theta) * dt,
    }
    return {name: value.sum(axis=-1) if value.ndim == 2 else value for name, value in parts.items()}
