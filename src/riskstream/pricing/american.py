"""American options: a binomial tree for prices, and a finite-difference (PDE) solver for
prices and smooth Greeks.

- **Leisen-Reimer tree** (default for prices; Leisen and Reimer 1996, "Binomial models for
  option valuation – examining and improving convergence", *Applied Mathematical Finance* 3):
  up/down probabilities from the Peizer-Pratt inversion of the Black-Scholes ``d1``, ``d2``,
  so the price converges smoothly rather than oscillating like Cox-Ross-Rubinstein (1979,
  ``method="crr"``, also available). At every node the holder keeps the larger of the
  continuation value and the exercise value (Hull, *Options, Futures and Other Derivatives*,
  10th ed., ch. 13 and 21). With 201 steps the price is within ~1e-4 relative of the limit.
- **Crank-Nicolson PDE** (``method="pde"``, default for Greeks): the Black-Scholes PDE in
  log-spot on a grid fixed by the spot, expiry and volatility, with the exercise value imposed
  after each step (see :func:`riskstream.pricing.kernels.pde_one`). Its prices move smoothly
  when σ or r are bumped (a tree's nodes move with them, and its price wobbles as nodes cross
  the early-exercise boundary), so bump-and-reprice Greeks are clean.

Options on futures (Black-76 with early exercise) are priced with ``S = F`` and ``q = r``.
Units and conventions are those of :mod:`riskstream.pricing.black_scholes`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.pricing.black_scholes import Greeks, _check_sigma
from riskstream.pricing.kernels import (
    CRR,
    LEISEN_REIMER,
    baw_implied_vol_flat,
    baw_price_flat,
    pde_flat,
    tree_flat,
)

AmericanMethod = Literal["leisen-reimer", "crr", "pde"]
_TREES = {"leisen-reimer": LEISEN_REIMER, "crr": CRR}
DEFAULT_STEPS = {"leisen-reimer": 201, "crr": 201, "pde": 400}  # PDE: time steps (x2 in spot)


def _solve(S, K, T, r, q, sigma, is_call, steps, method, american, half_width=None):
    """Run the tree or PDE kernel over broadcast inputs: an array of shape (4, *shape)
    holding price, delta, gamma and theta. ``half_width`` (log-spot, per element) fixes the
    PDE grid; by default 5 standard deviations or 1.2 x the log-moneyness, whichever wider."""
    if method not in DEFAULT_STEPS:
        raise InputError("method", method, "one of 'leisen-reimer', 'crr', 'pde'")
    steps = DEFAULT_STEPS[method] if steps is None else steps
    if int(steps) < 3:
        raise InputError("steps", steps, "an integer >= 3")
    arrays = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (S, K, T, r, q, sigma)),
        np.asarray(is_call, dtype=bool),
    )
    _check_sigma(arrays[5])
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    if method == "pde":
        if half_width is None:
            half_width = _default_half_width(*arrays[:3], arrays[5])
        width = np.ascontiguousarray(np.broadcast_to(half_width, shape), dtype=np.float64)
        out = pde_flat(*flat, width.ravel(), 2 * int(steps), int(steps), bool(american))
    else:
        out = tree_flat(*flat, int(steps), _TREES[method], bool(american))
    return out.reshape((4, *shape))


def _default_half_width(S, K, T, sigma) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        moneyness = np.abs(np.log(K / S))
    return np.maximum.reduce(
        [
            5.0 * sigma * np.sqrt(np.maximum(T, 0.0)),
            1.2 * np.nan_to_num(moneyness),
            np.full(np.shape(S), 0.05),
        ]
    )


def american_price(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    *,
    steps: int | None = None,
    method: AmericanMethod = "leisen-reimer",
    american: bool = True,
) -> np.ndarray:
    """Price of American (or, with ``american=False``, European) vanilla options on a tree.

    Parameters
    ----------
    S, K, T, r, q, sigma, is_call : array_like
        As :func:`riskstream.pricing.bsm_price`; broadcast together.
    steps : int, optional
        Time steps of the tree (default 201; Leisen-Reimer rounds up to an odd number), or of
        the PDE (default 400, with ``2 * steps`` spot intervals).
    method : {"leisen-reimer", "crr", "pde"}
        Tree parametrisation, or the Crank-Nicolson PDE.
    american : bool
        Allow early exercise (default). ``False`` prices the European option on the same tree,
        a check of the tree against the closed form.

    Returns
    -------
    ndarray
        Price per unit of underlying, of the broadcast shape.
    """
    return _solve(S, K, T, r, q, sigma, is_call, steps, method, american)[0]


def american_greeks(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    *,
    steps: int | None = None,
    method: AmericanMethod = "pde",
    bump_vol: float = 1e-2,
    bump_rate: float = 1e-4,
) -> Greeks:
    """Price and Greeks of American options.

    Delta, gamma and theta come from the solver itself: with the PDE (default) from the grid
    at today's spot and the PDE relation for theta; with a tree from its nodes after one and
    two steps (Hull sec. 21.2). Vega and volga come from repricing with σ ± ``bump_vol``,
    vanna from the deltas at σ ± ``bump_vol``, and rho from repricing with r ± ``bump_rate``
    (central differences on the same grid). Units as the module docstring: vega per 1.00 of
    vol, theta per year of calendar time, rho per 1.00 of rate.

    Accuracy with the default PDE (400 time steps, 800 spot intervals) against QuantLib's
    PDE engine on a much finer grid (tests/pricing/test_quantlib.py): price within ~2e-4
    relative, delta ~1e-3, gamma, theta, vega, vanna within ~1 %, rho ~2 %, volga ~3 %. Tree
    methods give the same price, delta, gamma and theta to similar accuracy, but their vega,
    volga and rho are noisy (the nodes move with σ and r), so they are not the default.
    """
    return _greeks(S, K, T, r, q, sigma, is_call, steps, method, bump_vol, bump_rate, futures=False)


def american_black76_greeks(
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    *,
    steps: int | None = None,
    method: AmericanMethod = "pde",
    bump_vol: float = 1e-2,
    bump_rate: float = 1e-4,
) -> Greeks:
    """Greeks of American options on futures: as :func:`american_greeks` with ``S = F`` and
    ``q = r``; rho is dV/dr with the futures price ``F`` held fixed (zero carry is kept, so
    only the discounting moves)."""
    r = np.asarray(r, dtype=np.float64)
    return _greeks(F, K, T, r, r, sigma, is_call, steps, method, bump_vol, bump_rate, futures=True)


def _greeks(
    S, K, T, r, q, sigma, is_call, steps, method, bump_vol, bump_rate, *, futures: bool
) -> Greeks:
    S, K, T, r, q, sigma = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (S, K, T, r, q, sigma)), np.empty(())
    )[:6]
    is_call = np.broadcast_to(np.asarray(is_call, dtype=bool), S.shape)
    hv = np.where(sigma > 2 * bump_vol, bump_vol, 0.5 * sigma)  # keep σ - h > 0
    hv = np.where(hv > 0, hv, bump_vol)
    # Scenarios (sigma, rate) solved in one call, stacked on a new axis 0, on one grid.
    sigmas = np.stack([sigma, sigma + hv, sigma - hv, sigma, sigma])
    rates = np.stack([r, r, r, r + bump_rate, r - bump_rate])
    # Black-76 moves q with r (zero carry); a spot option keeps its yield fixed.
    yields = rates if futures else np.broadcast_to(q, sigmas.shape)
    width = _default_half_width(S, K, T, sigma)
    out = _solve(S, K, T, rates, yields, sigmas, is_call, steps, method, True, width)
    price, delta, gamma, theta = out[:, 0]
    v_up, v_down = out[0, 1], out[0, 2]
    vega = (v_up - v_down) / (2 * hv)
    volga = (v_up - 2 * price + v_down) / (hv * hv)
    vanna = (out[1, 1] - out[1, 2]) / (2 * hv)
    rho = (out[0, 3] - out[0, 4]) / (2 * bump_rate)
    return Greeks(price, delta, gamma, vega, theta, rho, vanna, volga)


def baw_price(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Barone-Adesi-Whaley (1987) approximation of American option values.

    The closed-form quadratic approximation (Haug 2007, sec. 3.3.1) the risk engine uses on
    its revaluation grids (:func:`riskstream.pricing.kernels.baw_price_grid`): a few
    microseconds an option against milliseconds for a tree. Against exact (fine tree) values
    it errs by up to ~1 % for long-dated contracts with a large early-exercise premium
    (Barone-Adesi and Whaley 1987, Table IV), far less for short ones. Arguments as
    :func:`american_price`; options on futures with ``S = F`` and ``q = r``.
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (S, K, T, r, q, sigma)),
        np.asarray(is_call, dtype=bool),
    )
    _check_sigma(arrays[5])
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    return baw_price_flat(*flat).reshape(shape)


def baw_implied_vol(
    price: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
    *,
    tol: float = 1e-10,
    guess: ArrayLike | None = None,
) -> np.ndarray:
    """Implied volatility of American option prices under :func:`baw_price`.

    NaN where no σ in [1e-4, 5] reproduces the price: at or below the exercise value (a
    deep in-the-money American quote at intrinsic has no unique vol) or above the
    no-arbitrage bound. ``tol`` is relative to the price. ``guess`` (optional, broadcast
    like the others; NaN for none) starts the search near a known vol, e.g. the option's
    vol at its previous quote: a few evaluations instead of a dozen.
    """
    guess = np.nan if guess is None else guess
    arrays = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (price, S, K, T, r, q, guess)),
        np.asarray(is_call, dtype=bool),
    )
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    price, S, K, T, r, q, guess, is_call = flat
    return baw_implied_vol_flat(price, S, K, T, r, q, is_call, float(tol), guess).reshape(shape)
