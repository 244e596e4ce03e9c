"""Gross exposure of a universe's positions: the AUM measure of the reference portfolio.

Exposure follows the "gross method" of the AIFMD (Commission Delegated Regulation (EU)
No 231/2013, Art. 7 and Annex I): cash instruments (equities, bonds, FX spot) count at market
value, futures and FX forwards at the market value of the underlying they stand for (their
notional), options at their delta-adjusted underlying notional; the absolute values add up.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from riskstream.core.instruments import Universe
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.markets import zero_rate
from riskstream.pricing import bsm_greeks, bsm_implied_vol


def years_between(as_of: dt.date, dates: np.ndarray) -> np.ndarray:
    """ACT/365 year fraction from ``as_of`` to ``dates`` (datetime64 or date array)."""
    return (np.asarray(dates).astype("datetime64[D]") - np.datetime64(as_of, "D")).astype(
        np.float64
    ) / 365.0


def implied_vol_delta(
    price: np.ndarray,
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    is_call: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Implied volatility and delta of European options from their prices.

    The volatility is :func:`riskstream.pricing.bsm_implied_vol`'s; a price at or below the
    zero-volatility value (no volatility reproduces it) gives :math:`\\sigma = 10^{-4}`.
    The delta is then the Black-Scholes-Merton delta (Hull, ch. 19)

    .. math::
        \\Delta_{call} = e^{-qT} N(d_1), \\quad \\Delta_{put} = -e^{-qT} N(-d_1).

    Black-76 options on futures are the case ``q = r``. Arrays broadcast; ``T`` in years,
    rates decimal.

    Returns
    -------
    sigma, delta : ndarray
        Annual implied volatility and the signed delta per unit of underlying.
    """
    sigma = np.fmax(bsm_implied_vol(price, S, K, T, r, q, is_call), 1e-4)
    return sigma, bsm_greeks(S, K, T, r, q, sigma, is_call).delta


def unit_exposure(universe: Universe) -> np.ndarray:
    """Gross exposure of one unit of each instrument, in the base currency.

    Market value ``ref_price * multiplier`` for cash instruments, futures and FX forwards (the
    underlying notional), and ``|Δ| * S * multiplier`` for options, with the delta of the
    Black-Scholes (stock) or Black-76 (index future) model at the volatility implied by
    ``ref_price``, and ``S`` the underlying's reference price.

    Returns
    -------
    ndarray of shape (n_instruments,)
        Base-currency exposure per unit of quantity (non-negative).
    """
    inst = universe.instruments
    fx = np.array([universe.fx_to_base[c] for c in inst["currency"]])
    price = inst["ref_price"].to_numpy()
    mult = inst["multiplier"].to_numpy()
    exposure = price * mult * fx
    opt = np.flatnonzero((inst["asset_class"] == "option").to_numpy())
    if len(opt):
        o = inst[opt]
        und_id = o["underlying_id"].to_numpy()
        S = price[und_id]
        black76 = inst["asset_class"].to_numpy()[und_id] == "future"
        as_of = universe.as_of or UniverseConfig().as_of
        T = np.maximum(years_between(as_of, o["expiry"].to_numpy()), 1.0 / 365.0)
        K = o["strike"].to_numpy()
        r = zero_rate(o["currency"].to_numpy(), T)
        q = np.where(black76, r, 0.0)
        is_call = (o["right"] == "C").to_numpy()
        _, delta = implied_vol_delta(price[opt], S, K, T, r, q, is_call)
        exposure[opt] = np.abs(delta) * S * mult[opt] * fx[opt]
    return exposure


def gross_exposure(universe: Universe) -> float:
    """The portfolio's AUM: gross exposure in the base currency (module docstring), i.e.
    :math:`\\sum_p |q_p| \\, e_{i(p)}` with :math:`e` from :func:`unit_exposure`."""
    e = unit_exposure(universe)
    pos = universe.positions
    return float(np.abs(pos["quantity"].to_numpy()) @ e[pos["instrument_id"].to_numpy()])
