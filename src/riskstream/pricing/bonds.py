"""Fixed-rate bullet bonds priced from a yield, vectorised over numpy arrays.

Price per 100 of face of a bond paying coupon ``c`` (annual rate) ``f`` times a year, with
``n`` coupons left and accrued fraction handled by discounting each cash flow at the
yield ``y`` compounded ``f`` times a year (Fabozzi, *Bond Markets, Analysis and Strategies*,
ch. 2):

.. math::
    P = \\sum_{i=1}^{n} \\frac{100 c / f}{(1 + y/f)^{f t_i}} + \\frac{100}{(1 + y/f)^{f t_n}}

where :math:`t_i` are the cash-flow times in years. This is the dirty price; the time to
each cash flow counts back from maturity in steps of ``1/f`` years.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def bond_price_from_yield(
    yield_: ArrayLike,
    coupon: ArrayLike,
    maturity_years: ArrayLike,
    frequency: ArrayLike,
) -> np.ndarray:
    """Dirty price per 100 face of fixed-rate bonds at yield ``yield_`` (annual decimal,
    compounded ``frequency`` times a year), maturity in years (> 0)."""
    y, c, T, f = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (yield_, coupon, maturity_years, frequency))
    )
    n_max = int(np.ceil(np.max(T * f))) if T.size else 0
    k = np.arange(n_max, dtype=np.float64)  # coupons counted back from maturity
    t = T[..., None] - k / f[..., None]  # time of each cash flow, in years
    alive = t > 1e-12
    discount = np.where(alive, (1.0 + y[..., None] / f[..., None]) ** (-f[..., None] * t), 0.0)
    coupons = 100.0 * c / f
    return coupons * discount.sum(axis=-1) + 100.0 * (1.0 + y / f) ** (-f * T)
