"""Hedges: minimum-variance ratio, beta, delta/gamma/vega, duration/convexity, band re-hedge.

Every function is vectorised over positions (numpy arrays, ``np.bincount`` per underlying)
so the hedge proposal of a 10,000-instrument book costs milliseconds. Quantities are signed
(long positive); a hedge quantity is what to **trade**, before rounding to lots
(:func:`round_to_lots`).

* **Minimum-variance hedge ratio** (Hull, *Options, Futures and Other Derivatives*, 9th ed.,
  §3.4, eq. 3.1): :math:`h^* = \\rho\\,\\sigma_S/\\sigma_F`, the slope of the regression of
  spot changes on futures changes; contracts :math:`N^* = h^* Q_A/Q_F` (eq. 3.2), or with
  **tailing** (daily-settled futures hedge values, not units) :math:`N^* = h^* V_A/V_F`
  with :math:`V_A` and :math:`V_F` the spot position's and one contract's values (eq. 3.3).
* **Beta hedge with index futures** (Hull §3.5, eq. 3.5 and "Changing the beta"): to move a
  portfolio of value :math:`V_A` and beta :math:`\\beta` to :math:`\\beta^*`, trade
  :math:`(\\beta^* - \\beta)V_A/V_F` contracts (negative: sell).
* **Delta, gamma, vega** (Hull ch. 19): per underlying, traded options first zero gamma and
  vega (a 2×2 system per underlying with two options, one equation with one), then the
  underlying or its futures zero the delta (futures delta :math:`e^{(r-q)T}` per unit).
* **Duration and convexity from key-rate durations** (Hull §6.4, eq. 6.5 for one factor:
  :math:`N^* = P D_P/(V_F D_F)`; Ho 1992, "Key rate durations"): choose hedge quantities
  :math:`n` to make the book's dollar key-rate durations (DV01 per tenor bucket)
  :math:`k_{book} + K_h^\\top n` vanish in least squares — exactly when there are as many
  independent hedges as buckets — and, with ``convexity``, the dollar convexity as well.
* **Band re-hedging** (:func:`band_rehedge`): re-hedge only when the open exposure leaves a
  no-trade band around zero (Whalley & Wilmott 1997, "An asymptotic analysis of an optimal
  hedging model for option pricing with transaction costs": under proportional costs the
  optimal policy is a band, not a clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError


def round_to_lots(quantity: ArrayLike, lot_size: ArrayLike = 1.0) -> np.ndarray:
    """``quantity`` rounded to the nearest whole number of lots (half away from zero)."""
    q = np.asarray(quantity, dtype=np.float64)
    lot = np.asarray(lot_size, dtype=np.float64)
    if not (np.isfinite(lot).all() and (lot > 0).all()):
        raise InputError("lot_size", lot.tolist() if lot.ndim else float(lot), "positive lots")
    lots = q / lot
    return np.sign(lots) * np.floor(np.abs(lots) + 0.5) * lot


# ------------------------------------------------------------ minimum-variance hedge


@dataclass(frozen=True)
class MinVarianceHedge:
    """A minimum-variance futures hedge of a spot exposure.

    ``contracts`` is rounded to whole contracts; ``contracts_exact`` before rounding. The
    sign follows the hedge: a long exposure is hedged by selling ``contracts``.
    """

    hedge_ratio: float
    correlation: float
    sigma_spot: float
    sigma_futures: float
    contracts_exact: float
    contracts: int
    hedge_effectiveness: float  # rho^2: the share of the spot variance the hedge removes

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def min_variance_hedge(
    spot_changes: ArrayLike,
    futures_changes: ArrayLike,
    exposure: float,
    contract_size: float,
    spot_price: float | None = None,
    futures_price: float | None = None,
) -> MinVarianceHedge:
    """Hull's minimum-variance hedge from paired changes of spot and futures prices.

    Parameters
    ----------
    spot_changes, futures_changes : ndarray of shape (n_observations,)
        Changes over the hedge horizon (e.g. monthly), same units as each other.
    exposure : float
        Units of the asset to hedge, :math:`Q_A` (e.g. gallons).
    contract_size : float
        Units per futures contract, :math:`Q_F`.
    spot_price, futures_price : float, optional
        Both given: tail the hedge, :math:`N^* = h^* (Q_A S)/(Q_F F)`.

    Uses sample standard deviations (ddof 1) and the sample correlation, as Hull does.
    """
    s = np.asarray(spot_changes, dtype=np.float64)
    f = np.asarray(futures_changes, dtype=np.float64)
    if s.ndim != 1 or s.shape != f.shape or s.size < 3:
        raise InputError("spot_change", s.shape, f"paired series of >= 3 rows (futures {f.shape})")
    for name, x in (("spot_change", s), ("futures_change", f)):
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            raise InputError(name, float(x[bad[0]]), f"finite numbers (row {bad[0]})")
    if not (np.isfinite(exposure) and np.isfinite(contract_size) and contract_size > 0):
        raise InputError("contract_size", contract_size, "a positive contract size")
    sd_s, sd_f = float(s.std(ddof=1)), float(f.std(ddof=1))
    if sd_f == 0:
        raise InputError("futures_change", "constant", "futures changes that vary")
    rho = float(np.corrcoef(s, f)[0, 1]) if sd_s > 0 else 0.0
    h = rho * sd_s / sd_f
    if (spot_price is None) != (futures_price is None):
        raise InputError("futures_price", futures_price, "both spot and futures prices to tail")
    if spot_price is not None and futures_price is not None:
        if not (spot_price > 0 and futures_price > 0):
            raise InputError("spot_price", spot_price, "positive prices to tail the hedge")
        n = h * exposure * spot_price / (contract_size * futures_price)
    else:
        n = h * exposure / contract_size
    return MinVarianceHedge(h, rho, sd_s, sd_f, n, int(round_to_lots(n)), rho * rho)


# --------------------------------------------------------------------------- beta


def beta_hedge_contracts(
    portfolio_value: ArrayLike,
    beta: ArrayLike,
    futures_value: float,
    target_beta: float = 0.0,
) -> float:
    """Index futures to trade to move the portfolio's beta to ``target_beta`` (Hull §3.5).

    ``portfolio_value`` and ``beta`` may be per position: the portfolio's dollar beta is
    :math:`\\sum_i \\beta_i V_i`, and the trade is
    :math:`(\\beta^* \\sum V_i - \\sum \\beta_i V_i)/V_F` contracts (negative: sell).
    """
    v = np.asarray(portfolio_value, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    if not futures_value > 0:
        raise InputError("futures_value", futures_value, "a positive contract value")
    if not (np.isfinite(v).all() and np.isfinite(b).all()):
        raise InputError("beta", "a non-finite value or beta", "finite numbers")
    return float((target_beta * v.sum() - (b * v).sum()) / futures_value)


# ----------------------------------------------------------------- delta, gamma, vega


@dataclass(frozen=True)
class GreekHedge:
    """Hedge trades per underlying (arrays of shape (n_underlyings,)).

    ``options`` has shape (n_underlyings, n_hedge_options): units of each hedge option;
    ``underlying`` units of the underlying (or futures contracts when a futures delta was
    given) that then zero the delta; ``residual_*`` the greeks left after the hedge.
    """

    options: np.ndarray
    underlying: np.ndarray
    residual_delta: np.ndarray
    residual_gamma: np.ndarray
    residual_vega: np.ndarray


def book_greeks(
    underlying_index: ArrayLike,
    quantity: ArrayLike,
    delta: ArrayLike,
    gamma: ArrayLike,
    vega: ArrayLike,
    n_underlyings: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The book's delta, gamma and vega per underlying (units of the underlying; per 1.00
    of vol for vega), summed over positions with ``np.bincount``.

    ``delta``/``gamma``/``vega`` are per unit held (multiplier included); a stock's delta
    is 1.
    """
    idx = np.asarray(underlying_index, dtype=np.int64)
    q = np.asarray(quantity, dtype=np.float64)

    def total(x: ArrayLike) -> np.ndarray:
        return np.bincount(idx, weights=q * np.asarray(x, np.float64), minlength=n_underlyings)

    return total(delta), total(gamma), total(vega)


def greek_hedge(
    book_delta: ArrayLike,
    book_gamma: ArrayLike | None = None,
    book_vega: ArrayLike | None = None,
    option_delta: ArrayLike | None = None,
    option_gamma: ArrayLike | None = None,
    option_vega: ArrayLike | None = None,
    hedge_delta: ArrayLike = 1.0,
) -> GreekHedge:
    """Delta (and gamma, or gamma and vega) hedge per underlying (Hull ch. 19).

    Parameters
    ----------
    book_delta, book_gamma, book_vega : ndarray of shape (n_underlyings,)
    option_delta, option_gamma, option_vega : ndarray of shape (n_underlyings, m), optional
        Greeks per unit of ``m`` hedge options on each underlying: ``m = 1`` neutralises
        gamma, ``m = 2`` gamma and vega (solved per underlying).
    hedge_delta : float or ndarray of shape (n_underlyings,)
        Delta per unit of the delta-hedge instrument: 1 for the underlying, the futures'
        :math:`e^{(r-q)T}` times its multiplier for a futures contract.
    """
    d = np.atleast_1d(np.asarray(book_delta, dtype=np.float64))
    n = d.shape[0]
    g = np.zeros(n) if book_gamma is None else np.asarray(book_gamma, np.float64)
    v = np.zeros(n) if book_vega is None else np.asarray(book_vega, np.float64)
    opts = np.zeros((n, 0))
    if option_gamma is not None:
        og = np.asarray(option_gamma, np.float64).reshape(n, -1)
        od = np.asarray(option_delta, np.float64).reshape(n, -1)
        m = og.shape[1]
        if m == 1:
            if np.any(og[:, 0] == 0):
                raise InputError("option_gamma", 0.0, "hedge options with non-zero gamma")
            opts = (-g / og[:, 0])[:, None]
        elif m == 2:
            ov = np.asarray(option_vega, np.float64).reshape(n, 2)
            system = np.stack([og, ov], axis=1)  # (n, 2 greeks, 2 options)
            det = np.linalg.det(system)
            if np.any(np.abs(det) < 1e-14):
                bad = int(np.flatnonzero(np.abs(det) < 1e-14)[0])
                raise InputError(
                    "option_vega", f"underlying {bad}", "two hedge options with independent "
                    "gamma and vega (a non-singular 2x2 system)"
                )  # fmt: skip
            opts = np.linalg.solve(system, -np.stack([g, v], axis=1)[..., None])[..., 0]
        else:
            raise InputError("option_gamma", f"{m} options", "1 (gamma) or 2 (gamma and vega)")
        d = d + (od * opts).sum(axis=1)
        g = g + (og * opts).sum(axis=1)
        if option_vega is not None:
            ov = np.asarray(option_vega, np.float64).reshape(n, -1)
            v = v + (ov * opts).sum(axis=1)
    hd = np.broadcast_to(np.asarray(hedge_delta, dtype=np.float64), d.shape)
    if np.any(hd == 0):
        raise InputError("hedge_delta", 0.0, "a hedge instrument with non-zero delta")
    underlying = -d / hd
    return GreekHedge(opts, underlying, d + underlying * hd, g, v)


# ------------------------------------------------------------ duration / convexity


@dataclass(frozen=True)
class DurationHedge:
    """Hedge quantities and the dollar key-rate durations left after them."""

    quantity: np.ndarray  # (n_hedges,)
    residual_krd: np.ndarray  # (n_buckets,)
    residual_convexity: float


def duration_hedge(
    book_krd: ArrayLike,
    hedge_krd: ArrayLike,
    book_convexity: float = 0.0,
    hedge_convexity: ArrayLike | None = None,
) -> DurationHedge:
    """Quantities of the hedge instruments that zero the book's dollar key-rate durations.

    Parameters
    ----------
    book_krd : ndarray of shape (n_buckets,)
        The book's dollar duration per key rate, :math:`-\\partial V/\\partial r_k`
        (e.g. value × key-rate duration; DV01 per bucket × 10,000).
    hedge_krd : ndarray of shape (n_hedges, n_buckets)
        The same per unit of each hedge (a bond future's: its CTD's, scaled by the contract
        size and over the conversion factor; a swap's: per unit notional).
    book_convexity, hedge_convexity : float, ndarray of shape (n_hedges,)
        Dollar convexities; given, the convexity is matched too (least squares over the
        buckets and the convexity row).
    """
    kb = np.atleast_1d(np.asarray(book_krd, dtype=np.float64))
    kh = np.atleast_2d(np.asarray(hedge_krd, dtype=np.float64))
    if kh.shape[1] != kb.shape[0]:
        raise InputError("hedge_krd", f"shape {kh.shape}", f"(n_hedges, {kb.shape[0]})")
    if not (np.isfinite(kb).all() and np.isfinite(kh).all()):
        raise InputError("krd", "a non-finite duration", "finite key-rate durations")
    a, b = kh.T, -kb
    if hedge_convexity is not None:
        hc = np.asarray(hedge_convexity, dtype=np.float64).reshape(1, -1)
        a, b = np.vstack([a, hc]), np.append(b, -book_convexity)
    n, *_ = np.linalg.lstsq(a, b, rcond=None)
    resid_conv = book_convexity + (
        0.0 if hedge_convexity is None else float(np.asarray(hedge_convexity) @ n)
    )
    return DurationHedge(n, kb + kh.T @ n, float(resid_conv))


# ----------------------------------------------------------------- band re-hedging


@dataclass(frozen=True)
class RehedgeSchedule:
    """Hedge holdings and trades of a band policy along an exposure path (shape (T,))."""

    hedge: np.ndarray  # hedge position after each step (in exposure units, opposite sign)
    trades: np.ndarray  # what was traded at each step (0 inside the band)
    n_rehedges: int
    max_open_exposure: float


def band_rehedge(exposure_path: ArrayLike, band: float, full: bool = True) -> RehedgeSchedule:
    """Re-hedge when the open exposure :math:`|e_t + h_{t-1}|` exceeds ``band``.

    Parameters
    ----------
    exposure_path : ndarray of shape (T,)
        The exposure to hedge at each step (e.g. the book's delta each day).
    band : float
        The no-trade half-width, in the exposure's units.
    full : bool
        True: trade back to fully hedged; False: only back to the band's edge (Whalley &
        Wilmott's optimal policy under proportional costs).
    """
    e = np.asarray(exposure_path, dtype=np.float64)
    if not band >= 0:
        raise InputError("band", band, "a non-negative band")
    hedge = np.empty_like(e)
    trades = np.zeros_like(e)
    h, open_max = 0.0, 0.0
    # a path loop: the policy is path-dependent (each decision depends on the last hedge)
    for t, x in enumerate(e):
        gap = x + h
        if abs(gap) > band or t == 0:
            target = -x if full or t == 0 else -(x - np.sign(gap) * band)
            trades[t] = target - h
            h = target
        open_max = max(open_max, abs(x + h))
        hedge[t] = h
    return RehedgeSchedule(hedge, trades, int(np.count_nonzero(trades)), open_max)
