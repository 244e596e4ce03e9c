"""Forwards, futures and FX forwards by cost of carry, vectorised over numpy arrays.

- **Forward / futures price** on an asset with continuous yield ``q`` (dividends, a foreign
  interest rate, or minus a storage cost) (Hull, *Options, Futures and Other Derivatives*,
  10th ed., eq. 5.3 and sec. 5.9):

  .. math:: F_0 = S_0 e^{(r - q) T}

  With non-stochastic interest rates forward and futures prices are equal (Hull sec. 5.8),
  so the same function gives a futures price.
- **Covered interest parity** for an FX rate ``S`` quoted as domestic per unit of foreign:
  :math:`F = S e^{(r_d - r_f) T}` with continuously compounded rates (Hull eq. 5.9), or with
  money-market (simple) rates on their own day-count bases,
  :math:`F = S \\frac{1 + r_d \\, d / B_d}{1 + r_f \\, d / B_f}` for ``d`` days to delivery,
  ``B`` = 360 for USD, EUR, JPY, CHF deposits and 365 for GBP, AUD, CAD ... (ACT/360 and
  ACT/365F money-market conventions).
- **Value of an existing forward** (long, delivery price ``K``; Hull eq. 5.5 with yield):
  :math:`f = S e^{-qT} - K e^{-rT} = (F_0 - K) e^{-rT}`, per unit of the underlying.

Units: ``T`` in years, rates annual decimals continuously compounded unless stated.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike


class ForwardGreeks(NamedTuple):
    """Value of a long forward and its sensitivities (arrays of the broadcast shape).

    ``delta`` = df/dS; ``rho`` = df/dr per 1.00 of the (domestic) rate; ``rho_yield`` = df/dq
    per 1.00 of the yield (the foreign rate for FX); ``theta`` = df/dt per year of calendar
    time passing.
    """

    value: np.ndarray
    delta: np.ndarray
    rho: np.ndarray
    rho_yield: np.ndarray
    theta: np.ndarray


def _f64(*values: ArrayLike) -> list[np.ndarray]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def forward_price(S: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike = 0.0) -> np.ndarray:
    """Cost-of-carry forward (or futures) price :math:`S e^{(r - q) T}`."""
    S, T, r, q = _f64(S, T, r, q)
    return S * np.exp((r - q) * T)


def fx_forward_rate(
    spot: ArrayLike, T: ArrayLike, r_domestic: ArrayLike, r_foreign: ArrayLike
) -> np.ndarray:
    """FX forward by covered interest parity with continuously compounded rates,
    :math:`F = S e^{(r_d - r_f) T}`; ``spot`` in domestic currency per unit of foreign."""
    return forward_price(spot, T, r_domestic, r_foreign)


def fx_forward_rate_simple(
    spot: ArrayLike,
    days: ArrayLike,
    r_domestic: ArrayLike,
    r_foreign: ArrayLike,
    *,
    basis_domestic: ArrayLike = 360.0,
    basis_foreign: ArrayLike = 360.0,
) -> np.ndarray:
    """FX forward by covered interest parity with money-market (simple) deposit rates:

    .. math:: F = S \\frac{1 + r_d \\, d / B_d}{1 + r_f \\, d / B_f}

    Parameters
    ----------
    spot : array_like
        Domestic currency per unit of foreign currency.
    days : array_like
        Actual days from spot date to delivery.
    r_domestic, r_foreign : array_like
        Simple (money-market) deposit rates, annual decimals.
    basis_domestic, basis_foreign : array_like
        Day-count basis of each rate: 360 (ACT/360: USD, EUR, JPY, CHF) or 365 (ACT/365F:
        GBP, AUD, CAD, NZD).
    """
    spot, days, rd, rf, bd, bf = _f64(
        spot, days, r_domestic, r_foreign, basis_domestic, basis_foreign
    )
    return spot * (1.0 + rd * days / bd) / (1.0 + rf * days / bf)


def forward_value(
    S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike = 0.0
) -> np.ndarray:
    """Value today of a long forward with delivery price ``K``:
    :math:`S e^{-qT} - K e^{-rT}` per unit (negate for a short)."""
    S, K, T, r, q = _f64(S, K, T, r, q)
    return S * np.exp(-q * T) - K * np.exp(-r * T)


def forward_greeks(
    S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike = 0.0
) -> ForwardGreeks:
    """Value and sensitivities of a long forward with delivery price ``K``:

    .. math::
        \\Delta = e^{-qT}, \\quad \\rho = K T e^{-rT}, \\quad
        \\rho_q = -S T e^{-qT}, \\quad \\Theta = q S e^{-qT} - r K e^{-rT}.
    """
    S, K, T, r, q = _f64(S, K, T, r, q)
    growth_q = np.exp(-q * T)
    disc_r = np.exp(-r * T)
    value = S * growth_q - K * disc_r
    return ForwardGreeks(
        value=value,
        delta=growth_q * np.ones_like(value),
        rho=K * T * disc_r * np.ones_like(value),
        rho_yield=-S * T * growth_q * np.ones_like(value),
        theta=(q * S * growth_q - r * K * disc_r) * np.ones_like(value),
    )


def futures_delta(T: ArrayLike, r: ArrayLike, q: ArrayLike = 0.0) -> np.ndarray:
    """Sensitivity of a futures price to the spot, :math:`dF/dS = e^{(r - q)T}`: the change
    in a futures position's daily-settled value per unit of underlying (Hull sec. 19.3)."""
    T, r, q = _f64(T, r, q)
    return np.exp((r - q) * T)


def futures_rho(S: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike = 0.0) -> np.ndarray:
    """Sensitivity of a futures price to the rate, :math:`dF/dr = T S e^{(r - q)T}`."""
    S, T, r, q = _f64(S, T, r, q)
    return T * S * np.exp((r - q) * T)
