"""European option prices: Black-Scholes-Merton (spot, continuous dividend yield) and Black-76
(futures), vectorised over numpy arrays.

Black-Scholes-Merton (Merton 1973; Hull, *Options, Futures and Other Derivatives*, ch. 17):

.. math::
    C = S e^{-qT} N(d_1) - K e^{-rT} N(d_2), \\quad
    P = K e^{-rT} N(-d_2) - S e^{-qT} N(-d_1),

    d_1 = \\frac{\\ln(S/K) + (r - q + \\sigma^2/2) T}{\\sigma \\sqrt{T}}, \\quad
    d_2 = d_1 - \\sigma\\sqrt{T}.

Black-76 prices an option on a futures price :math:`F` by setting :math:`S = F` and
:math:`q = r` (a futures position costs nothing to carry).

Units: ``T`` in years (ACT/365), ``r``, ``q`` and ``sigma`` as annual decimals
(continuous compounding). ``is_call`` is a boolean array (True for calls).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr


def _d1_d2(S, K, T, r, q, sigma):
    sqrt_t = np.sqrt(T)
    vol_sqrt_t = sigma * sqrt_t
    d1 = (np.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / vol_sqrt_t
    return d1, d1 - vol_sqrt_t


def bsm_price(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-Scholes-Merton price of European options (arrays broadcast together).

    At expiry (``T <= 0``) or zero volatility the price is the discounted intrinsic value of
    the forward, the limit of the formula.
    """
    S, K, T, r, q, sigma = (np.asarray(x, dtype=np.float64) for x in (S, K, T, r, q, sigma))
    is_call = np.asarray(is_call, dtype=bool)
    T_safe = np.maximum(T, 1e-12)
    sigma_safe = np.maximum(sigma, 1e-12)
    d1, d2 = _d1_d2(S, K, T_safe, r, q, sigma_safe)
    df_q = np.exp(-q * T_safe)
    df_r = np.exp(-r * T_safe)
    call = S * df_q * ndtr(d1) - K * df_r * ndtr(d2)
    put = K * df_r * ndtr(-d2) - S * df_q * ndtr(-d1)
    price = np.where(is_call, call, put)
    intrinsic = np.where(
        is_call,
        np.maximum(S * df_q - K * df_r, 0.0),
        np.maximum(K * df_r - S * df_q, 0.0),
    )
    degenerate = (T <= 0) | (sigma <= 0)
    return np.where(degenerate, intrinsic, price)


def black76_price(
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-76 price of European options on a futures price ``F`` (Black 1976)."""
    r = np.asarray(r, dtype=np.float64)
    return bsm_price(F, K, T, r, r, sigma, is_call)
