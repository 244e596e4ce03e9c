"""European options: Black-Scholes-Merton (spot, continuous dividend yield) and Black-76
(futures), prices and Greeks, vectorised over numpy arrays that broadcast together.

Black-Scholes-Merton (Merton 1973; Hull, *Options, Futures and Other Derivatives*, 10th ed.,
ch. 15 and 17):

.. math::
    C = S e^{-qT} N(d_1) - K e^{-rT} N(d_2), \\quad
    P = K e^{-rT} N(-d_2) - S e^{-qT} N(-d_1),

    d_1 = \\frac{\\ln(S/K) + (r - q + \\sigma^2/2) T}{\\sigma \\sqrt{T}}, \\quad
    d_2 = d_1 - \\sigma\\sqrt{T}.

The same formula prices an option on a stock index (``q`` = dividend yield), on a currency
(Garman-Kohlhagen: ``q`` = the foreign risk-free rate) and, with ``S = F`` and ``q = r``, on a
futures price (Black 1976), since a futures position costs nothing to carry.

Conventions (every function of this module)
-------------------------------------------
- ``T`` in years, ``r``, ``q`` and ``sigma`` as annual decimals, continuously compounded.
- ``is_call`` is a boolean array (True for calls, False for puts).
- Prices are per unit of underlying (multiply by the contract multiplier outside).
- **delta** = dV/dS; **gamma** = d²V/dS²; **vega** = dV/dσ per 1.00 of volatility (divide by
  100 for "per vol point"); **theta** = dV/dt per year of calendar time passing (= -dV/dT;
  negative for a long vanilla option, typically; divide by 365 for per day); **rho** = dV/dr
  per 1.00 of rate (divide by 10,000 for per basis point); **vanna** = d²V/dS dσ;
  **volga** (vomma) = d²V/dσ².
- For Black-76 the Greeks are with respect to the futures price ``F`` and **rho is dV/dr with F
  held fixed**, i.e. ``rho = -T V`` (only the discount factor depends on r).
- At expiry (``T <= 0``) the price is the intrinsic value and every Greek but delta is zero;
  with zero volatility (``sigma == 0``, ``T > 0``) the price is the discounted intrinsic value of
  the forward and the Greeks are its (deterministic) derivatives.
- NaN inputs give NaN outputs (the risk engine flags such positions); a negative volatility
  raises :class:`~riskstream.core.errors.InputError`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from riskstream.core.errors import InputError

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


class Greeks(NamedTuple):
    """Price and Greeks of a batch of options; every field is an array of the broadcast shape.

    Units: see the module docstring (vega and volga per 1.00 of volatility, theta per year of
    calendar time, rho per 1.00 of rate).
    """

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray
    vanna: np.ndarray
    volga: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        """The fields as a plain dict (``price``, ``delta``, ... ``volga``)."""
        return self._asdict()


def _as_float_arrays(*values: ArrayLike) -> list[np.ndarray]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _check_sigma(sigma: np.ndarray) -> None:
    # Reject a negative volatility: it is never a market quote, only a bug upstream.
    if np.any(sigma < 0):
        bad = sigma[sigma < 0].flat[0]
        raise InputError("sigma", float(bad), "a volatility >= 0 (annual decimal)")


def _d1_d2(S, K, T, r, q, sigma):
    vol_sqrt_t = sigma * np.sqrt(T)
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

    Parameters
    ----------
    S, K : array_like
        Spot price of the underlying and strike, > 0.
    T : array_like
        Time to expiry in years; ``T <= 0`` gives the intrinsic value.
    r, q : array_like
        Risk-free rate and continuous dividend (or foreign-rate) yield, annual decimals.
    sigma : array_like
        Volatility, annual decimal, >= 0.
    is_call : array_like of bool
        True for a call, False for a put.

    Returns
    -------
    ndarray
        Price per unit of underlying, of the broadcast shape of the inputs. For grids (e.g.
        ``(n_options, 1, 1)`` spots times ``(1, n_spot, 1)`` shocks times ``(1, 1, n_vol)`` vol
        shocks) see also :func:`riskstream.pricing.kernels.bsm_price_grid`, which computes the
        same numbers without the temporaries.
    """
    S, K, T, r, q, sigma = _as_float_arrays(S, K, T, r, q, sigma)
    _check_sigma(sigma)
    is_call = np.asarray(is_call, dtype=bool)
    T_pos = np.maximum(T, 0.0)
    df_q = np.exp(-q * T_pos)
    df_r = np.exp(-r * T_pos)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        d1, d2 = _d1_d2(S, K, np.maximum(T, 1e-300), r, q, np.maximum(sigma, 1e-300))
    call = S * df_q * ndtr(d1) - K * df_r * ndtr(d2)
    put = K * df_r * ndtr(-d2) - S * df_q * ndtr(-d1)
    price = np.where(is_call, call, put)
    # Limits: zero vol -> discounted intrinsic of the forward; expired -> intrinsic.
    forward_intrinsic = np.where(
        is_call, np.maximum(S * df_q - K * df_r, 0.0), np.maximum(K * df_r - S * df_q, 0.0)
    )
    degenerate = (T <= 0) | (sigma <= 0)
    return np.where(degenerate, forward_intrinsic, price)


def black76_price(
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-76 price of European options on a futures (or forward) price ``F``.

    .. math:: C = e^{-rT}[F N(d_1) - K N(d_2)], \\quad P = e^{-rT}[K N(-d_2) - F N(-d_1)]

    with :math:`d_{1,2} = [\\ln(F/K) \\pm \\sigma^2 T/2] / (\\sigma\\sqrt{T})` (Black 1976;
    Hull ch. 18). Arguments as :func:`bsm_price` with ``F`` in place of ``S`` and no ``q``.
    """
    r = np.asarray(r, dtype=np.float64)
    return bsm_price(F, K, T, r, r, sigma, is_call)


def bsm_greeks(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Price and analytic Greeks of European options under Black-Scholes-Merton.

    With :math:`n` the standard normal density and :math:`\\omega = +1` for a call, -1 for a
    put (Hull ch. 19; Haug, *The Complete Guide to Option Pricing Formulas*, 2nd ed., ch. 2):

    .. math::
        \\Delta = \\omega e^{-qT} N(\\omega d_1), \\quad
        \\Gamma = \\frac{e^{-qT} n(d_1)}{S \\sigma \\sqrt{T}}, \\quad
        \\mathcal{V} = S e^{-qT} n(d_1) \\sqrt{T},

        \\Theta = -\\frac{S e^{-qT} n(d_1) \\sigma}{2\\sqrt{T}}
                  - \\omega r K e^{-rT} N(\\omega d_2) + \\omega q S e^{-qT} N(\\omega d_1),

        \\rho = \\omega K T e^{-rT} N(\\omega d_2), \\quad
        \\text{vanna} = -e^{-qT} n(d_1) \\frac{d_2}{\\sigma}, \\quad
        \\text{volga} = \\mathcal{V} \\frac{d_1 d_2}{\\sigma}.

    Arguments as :func:`bsm_price`; units in the module docstring (vega per 1.00 of vol,
    theta per year, rho per 1.00 of rate).
    """
    S, K, T, r, q, sigma = _as_float_arrays(S, K, T, r, q, sigma)
    _check_sigma(sigma)
    is_call = np.asarray(is_call, dtype=bool)
    S, K, T, r, q, sigma, is_call = np.broadcast_arrays(S, K, T, r, q, sigma, is_call)
    omega = np.where(is_call, 1.0, -1.0)

    T_pos = np.maximum(T, 0.0)
    df_q = np.exp(-q * T_pos)
    df_r = np.exp(-r * T_pos)
    # Degenerate elements (T <= 0 or σ = 0) are computed with tiny stand-ins, overwritten below.
    T_safe = np.maximum(T, 1e-300)
    sig_safe = np.maximum(sigma, 1e-300)
    sqrt_t = np.sqrt(T_safe)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        d1, d2 = _d1_d2(S, K, T_safe, r, q, sig_safe)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    Nd1 = ndtr(omega * d1)
    Nd2 = ndtr(omega * d2)

    price = omega * (S * df_q * Nd1 - K * df_r * Nd2)
    delta = omega * df_q * Nd1
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        gamma = df_q * pdf / (S * sig_safe * sqrt_t)
        vega = S * df_q * pdf * sqrt_t
        theta = (
            -S * df_q * pdf * sig_safe / (2.0 * sqrt_t)
            - omega * r * K * df_r * Nd2
            + omega * q * S * df_q * Nd1
        )
        rho = omega * K * T_safe * df_r * Nd2
        vanna = -df_q * pdf * d2 / sig_safe
        volga = vega * d1 * d2 / sig_safe

    # Degenerate cases: the option is worth the discounted intrinsic value of the forward,
    # a deterministic function of S, t and r; its derivatives follow directly.
    degenerate = (T <= 0) | (sigma <= 0)
    if np.any(degenerate):
        fwd_diff = S * df_q - K * df_r  # discounted forward moneyness
        itm = (omega * fwd_diff) > 0
        live = T > 0
        zero = np.zeros_like(price)
        price = np.where(degenerate, np.where(itm, omega * fwd_diff, 0.0), price)
        delta = np.where(degenerate, np.where(itm, omega * df_q, 0.0), delta)
        theta_det = np.where(itm & live, omega * (q * S * df_q - r * K * df_r), 0.0)
        rho_det = np.where(itm & live, omega * K * T_pos * df_r, 0.0)
        theta = np.where(degenerate, theta_det, theta)
        rho = np.where(degenerate, rho_det, rho)
        gamma = np.where(degenerate, zero, gamma)
        vega = np.where(degenerate, zero, vega)
        vanna = np.where(degenerate, zero, vanna)
        volga = np.where(degenerate, zero, volga)
    return Greeks(price, delta, gamma, vega, theta, rho, vanna, volga)


def black76_greeks(
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Price and Greeks of European options on futures (Black 1976).

    Delta, gamma, vanna are with respect to the futures price ``F``. Theta is
    :math:`-e^{-rT} F n(d_1) \\sigma / (2\\sqrt{T}) + r V`, and rho is dV/dr **with F held
    fixed**, :math:`\\rho = -T V` (Haug 2007, sec. 2.1.3). The other Greeks are those of
    :func:`bsm_greeks` with ``S = F`` and ``q = r``.
    """
    F, T, r = _as_float_arrays(F, T, r)
    g = bsm_greeks(F, K, T, r, r, sigma, is_call)
    # bsm_greeks with q = r already has theta = -F e^{-rT} n σ/(2√T) + r V; only rho differs,
    # because there the r-dependence of the forward cancels the yield's, here F is an input.
    rho = -np.maximum(np.broadcast_to(T, g.price.shape), 0.0) * g.price
    return g._replace(rho=rho)
