"""Implied volatility: the σ at which Black-Scholes-Merton (or Black-76) reproduces a price.

Vectorised over arrays that broadcast together; each element is solved by a safeguarded
Newton-Raphson iteration with a bisection fallback inside a bracket that always contains the
root (see :func:`riskstream.pricing.kernels._implied_vol_one`), on the out-of-the-money side of
put-call parity. Jäckel's "Let's be rational" (2015) reaches machine accuracy in two steps; this
solver needs a few more but converges for every arbitrage-free price and is accurate to a
relative price error of ``tol``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from riskstream.pricing.kernels import implied_vol_flat


def bsm_implied_vol(
    price: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> np.ndarray:
    """Black-Scholes-Merton implied volatility of European option prices.

    Parameters
    ----------
    price : array_like
        Option prices per unit of underlying.
    S, K, T, r, q, is_call : array_like
        As :func:`riskstream.pricing.bsm_price` (years; annual continuously compounded
        decimals).
    tol : float
        Relative tolerance on the (undiscounted, out-of-the-money) price.
    max_iter : int
        Iteration cap per element (bisection alone needs about 60 for double accuracy).

    Returns
    -------
    ndarray
        Annual volatility of the broadcast shape; ``NaN`` where no volatility reproduces the
        price (below intrinsic value or above the no-arbitrage upper bound, ``T <= 0``, or a
        NaN input) and 0.0 where the price equals the intrinsic value of the forward.
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (price, S, K, T, r, q)),
        np.asarray(is_call, dtype=bool),
    )
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    return implied_vol_flat(*flat, float(tol), int(max_iter)).reshape(shape)


def black76_implied_vol(
    price: ArrayLike,
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> np.ndarray:
    """Black-76 implied volatility of options on a futures price ``F`` (``q = r``)."""
    r = np.asarray(r, dtype=np.float64)
    return bsm_implied_vol(price, F, K, T, r, r, is_call, tol=tol, max_iter=max_iter)
