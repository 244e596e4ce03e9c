"""Full revaluation of a stress book under a matrix of factor moves.

Every position is repriced at the shocked market, not approximated by its sensitivities
(Basel Committee, *Principles for sound stress testing practices and supervision*, 2009,
principle 11; a Greek expansion misses the convexity that dominates large moves):

* **equities, FX pairs**: the shocked price ``P (1 + x_spot)``; FX pairs ``BASE/QUOTE``
  move with both currencies, :math:`P' = P (1 + x_{base}) / (1 + x_{quote})`;
* **futures**: the daily-settled gain ``q m (F' - F)``, translated at the shocked FX rate;
* **bonds**: every cash flow discounted off the **shocked curve** — the currency's base
  zero curve plus the key-rate moves interpolated at the cash flow's time (linear in zero
  rate, flat beyond the first and last key rate, as :class:`riskstream.pricing.curves.
  ZeroCurve`), plus the bond's spread and its rating's spread move:
  :math:`P' = \\sum_i CF_i e^{-(z(t_i) + \\Delta z(t_i) + s + \\Delta s)\\, t_i}`
  (Hull, *Options, Futures and Other Derivatives*, 10th ed., sec. 4.4);
* **options**: repriced in full — Black-Scholes-Merton on a stock or index, Black-76 on a
  future, Barone-Adesi-Whaley for American exercise (the engine's own models,
  :mod:`riskstream.pricing`) — at the shocked underlying, the shocked implied vol
  (:math:`\\sigma e^{x_{vol}}` plus any vol points, floored at 0.01 %), and the rate moved by
  its currency's key-rate moves at its expiry;
* **currency translation**: every value in a foreign currency at the shocked FX rate
  ``fx (1 + x_FX)``.

**Carry and theta.** With ``horizon_days = 0`` (the default) a scenario is an instantaneous
shock: **no carry and no theta** are included. With ``horizon_days = h > 0`` the shocked
market is reached ``h`` calendar days later: options lose ``h/365`` years of life (theta),
bonds roll down their curve and the coupons falling inside the horizon are received in cash
(carry; no reinvestment); equities and futures have no carry in this model (dividends and
financing are not modelled). Each result states which.

**Attribution by factor.** A position's P&L is split sequentially — underlying price, then
implied vol, then rates, then credit spread, then FX translation — each step repricing with
one more group of moves applied, so the parts add up to the full revaluation exactly (the
cross effects go to the later step). Each part is booked to the factor that drove it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from riskstream.core.errors import InputError
from riskstream.pricing import baw_price, bsm_price
from riskstream.pricing.curves import KEY_RATE_TENORS_Y
from riskstream.stress.book import StressBook, bond_cashflows

VOL_FLOOR = 1e-4  # a shocked implied vol never goes below 0.01 %
PARTS: tuple[str, ...] = ("spot", "vol", "rate", "spread", "fx")


@dataclass(frozen=True)
class ScenarioMatrix:
    """Scenarios as rows of factor moves over a book's factors.

    Attributes
    ----------
    names : tuple of str, length n_scenarios
    moves : ndarray of shape (n_scenarios, n_factors)
        Engine units: price factors arithmetic returns, rate and spread factors absolute
        changes (decimal), vol factors log changes.
    vol_points : ndarray of shape (n_scenarios, n_factors)
        Additive implied-vol moves (decimal: 0.05 is 5 vol points) on vol factors.
    """

    names: tuple[str, ...]
    moves: np.ndarray
    vol_points: np.ndarray

    def __post_init__(self) -> None:
        moves = np.atleast_2d(np.asarray(self.moves, dtype=np.float64))
        points = np.atleast_2d(np.asarray(self.vol_points, dtype=np.float64))
        if moves.shape != points.shape or moves.shape[0] != len(self.names):
            raise InputError(
                "scenarios",
                f"moves {moves.shape}, vol_points {points.shape}",
                f"both of shape ({len(self.names)}, n_factors)",
            )
        bad = np.argwhere(~np.isfinite(moves) | ~np.isfinite(points))
        if bad.size:
            s, f = bad[0]
            raise InputError(f"scenarios[{self.names[s]}]", float(moves[s, f]), "finite moves")
        object.__setattr__(self, "moves", moves)
        object.__setattr__(self, "vol_points", points)

    @property
    def n_scenarios(self) -> int:
        return len(self.names)

    @classmethod
    def stack(cls, rows: list[ScenarioMatrix]) -> ScenarioMatrix:
        """One matrix of the rows of several."""
        return cls(
            tuple(n for r in rows for n in r.names),
            np.vstack([r.moves for r in rows]),
            np.vstack([r.vol_points for r in rows]),
        )

    def take(self, rows: np.ndarray | list[int]) -> ScenarioMatrix:
        rows = np.asarray(rows, dtype=np.int64)
        return ScenarioMatrix(
            tuple(self.names[r] for r in rows), self.moves[rows], self.vol_points[rows]
        )


@dataclass(frozen=True)
class Revaluation:
    """P&L of every position in every scenario, base currency (a loss is negative).

    Attributes
    ----------
    pnl : ndarray of shape (n_scenarios, n_positions)
    parts : ndarray of shape (len(PARTS), n_scenarios, n_positions)
        The sequential attribution (:data:`PARTS`); sums to ``pnl`` over the first axis.
    part_factor : ndarray of shape (len(PARTS), n_positions) int
        Factor column each part is booked to (-1: none).
    horizon_days : int
        0: instantaneous, no carry or theta.
    """

    pnl: np.ndarray
    parts: np.ndarray
    part_factor: np.ndarray
    horizon_days: int

    @property
    def total(self) -> np.ndarray:
        """Portfolio P&L per scenario, shape (n_scenarios,)."""
        return self.pnl.sum(axis=1)


def option_values(S, K, T, r, q, sigma, is_call, american, on_future) -> np.ndarray:
    """Option values (per unit of underlying) by the engine's models, broadcast shape.

    European: Black-Scholes-Merton (dividend yield ``q``), Black-76 on a future;
    American: Barone-Adesi-Whaley (on a future ``q = r``). At or past expiry: intrinsic."""
    S, K, T, r, q, sigma, is_call, american, on_future = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (S, K, T, r, q, sigma)),
        np.asarray(is_call, dtype=bool),
        np.asarray(american, dtype=bool),
        np.asarray(on_future, dtype=bool),
    )
    out = np.where(is_call, np.maximum(S - K, 0.0), np.maximum(K - S, 0.0))
    live = T > 1e-9
    q_eff = np.where(on_future, r, q)
    eu = live & ~american
    if eu.any():
        out[eu] = bsm_price(S[eu], K[eu], T[eu], r[eu], q_eff[eu], sigma[eu], is_call[eu])
    am = live & american
    if am.any():
        out[am] = baw_price(S[am], K[am], T[am], r[am], q_eff[am], sigma[am], is_call[am])
    return out


def _tenor_weights(t: np.ndarray) -> np.ndarray:
    """Linear-interpolation weights of times ``t`` on the key tenors (flat beyond),
    shape (*t.shape, n_tenors)."""
    tenors = np.asarray(KEY_RATE_TENORS_Y)
    tc = np.clip(t, tenors[0], tenors[-1])
    hi = np.clip(np.searchsorted(tenors, tc, side="left"), 1, tenors.size - 1)
    lo = hi - 1
    w_hi = (tc - tenors[lo]) / (tenors[hi] - tenors[lo])
    w = np.zeros((*t.shape, tenors.size))
    np.put_along_axis(w, lo[..., None], (1.0 - w_hi)[..., None], axis=-1)
    np.put_along_axis(w, hi[..., None], w_hi[..., None], axis=-1)
    return w


def _nearest_key_rate(rate_table: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The key-rate factor nearest each maturity (where a rate part is booked)."""
    if rate_table.shape[1] == 0:
        return np.full(years.shape, -1, dtype=np.int64)
    k = np.argmax(_tenor_weights(np.maximum(years, 1e-9)), axis=-1)
    return rate_table[np.arange(years.size), k]


def _gather(moves: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``moves[:, cols]`` with column -1 read as a zero move; shape (S, *cols.shape)."""
    padded = np.concatenate([moves, np.zeros((moves.shape[0], 1))], axis=1)
    return padded[:, np.where(cols >= 0, cols, moves.shape[1])]


def revalue(book: StressBook, scenarios: ScenarioMatrix, horizon_days: int = 0) -> Revaluation:
    """Full revaluation of ``book`` in every scenario (see the module docstring).

    Parameters
    ----------
    book : StressBook
    scenarios : ScenarioMatrix
        Moves over ``book.keys`` (columns must match).
    horizon_days : int, default 0
        Calendar days to the shocked market (0: instantaneous, no carry or theta).

    Returns
    -------
    Revaluation
    """
    if scenarios.moves.shape[1] != book.n_factors:
        raise InputError(
            "scenarios", f"{scenarios.moves.shape[1]} factors", f"{book.n_factors} (the book's)"
        )
    if horizon_days < 0:
        raise InputError("horizon_days", horizon_days, "a number of days >= 0")
    x, pts = scenarios.moves, scenarios.vol_points
    S, P = x.shape[0], book.n_positions
    dt_years = horizon_days / 365.0
    parts = np.zeros((len(PARTS), S, P))
    part_factor = np.full((len(PARTS), P), -1, dtype=np.int64)
    ac = book.asset_class
    qm = book.quantity * book.multiplier
    fx0 = book.fx
    r_fx = _gather(x, book.ccy_col)  # (S, P) translation move
    spot = _gather(x, book.spot_col)

    # equities: value translated at the shocked rate
    eq = np.flatnonzero(ac == "equity")
    if eq.size:
        local1 = (qm * book.price)[eq] * (1.0 + spot[:, eq])
        local0 = (qm * book.price)[eq]
        parts[0][:, eq] = (local1 - local0) * fx0[eq]
        parts[4][:, eq] = local1 * fx0[eq] * r_fx[:, eq]
        part_factor[0, eq] = book.spot_col[eq]
        part_factor[4, eq] = book.ccy_col[eq]

    # futures: daily settled gain, translated at the shocked rate
    fu = np.flatnonzero(ac == "future")
    if fu.size:
        gain = (qm * book.price)[fu] * spot[:, fu]
        parts[0][:, fu] = gain * fx0[fu]
        parts[4][:, fu] = gain * fx0[fu] * r_fx[:, fu]
        part_factor[0, fu] = book.spot_col[fu]
        part_factor[4, fu] = book.ccy_col[fu]

    # FX pairs BASE/QUOTE: price moves with both currencies' values in the base
    fxp = np.flatnonzero(ac == "fx")
    if fxp.size:
        rb = _gather(x, book.fx_base_col[fxp])
        rq = _gather(x, book.fx_quote_col[fxp])
        gain = (qm * book.price)[fxp] * ((1.0 + rb) / (1.0 + rq) - 1.0)
        parts[0][:, fxp] = gain * fx0[fxp]
        parts[4][:, fxp] = gain * fx0[fxp] * rq
        part_factor[0, fxp] = np.where(
            book.fx_base_col[fxp] >= 0, book.fx_base_col[fxp], book.fx_quote_col[fxp]
        )
        part_factor[4, fxp] = book.fx_quote_col[fxp]

    # bonds off the shocked curve
    bd = np.flatnonzero(ac == "bond")
    if bd.size:
        _revalue_bonds(book, bd, x, r_fx, dt_years, parts, part_factor)

    # options in full
    op = np.flatnonzero(ac == "option")
    if op.size:
        _revalue_options(book, op, x, pts, r_fx, spot, dt_years, parts, part_factor)

    return Revaluation(parts.sum(axis=0), parts, part_factor, int(horizon_days))


@njit(cache=True, parallel=True)
def _bond_prices(rate_moves, spread_moves, lo, w_hi, base_df, t1, live_cf, cash):
    """Dirty prices per 100 face after the rate moves, and after rates and spread.

    ``rate_moves`` (S, B, T) key-rate moves of each bond's curve, ``spread_moves`` (S, B),
    ``lo``/``w_hi`` (B, C) the bracketing key rate and weight of each cash flow's time,
    ``base_df`` (B, C) its discount factor off the base curve and spread at ``t1``,
    ``live_cf`` (B, C) the cash flows still to come, ``cash`` (B,) those already received.
    Written as a loop (numba) so the (S, B, C) discount factors are never stored."""
    n_s, n_b = spread_moves.shape
    n_c = t1.shape[1]
    p_rate = np.empty((n_s, n_b))
    p_full = np.empty((n_s, n_b))
    for s in prange(n_s):
        for b in range(n_b):
            acc_r = cash[b]
            acc_f = cash[b]
            ds = spread_moves[s, b]
            for c in range(n_c):
                cf = live_cf[b, c]
                if cf == 0.0:
                    continue
                k = lo[b, c]
                w = w_hi[b, c]
                dz = rate_moves[s, b, k] * (1.0 - w) + rate_moves[s, b, k + 1] * w
                pv = cf * base_df[b, c] * math.exp(-dz * t1[b, c])
                acc_r += pv
                acc_f += pv * math.exp(-ds * t1[b, c])
            p_rate[s, b] = acc_r
            p_full[s, b] = acc_f
    return p_rate, p_full


def _revalue_bonds(book, bd, x, r_fx, dt_years, parts, part_factor) -> None:
    t, cf = bond_cashflows(book.coupon[bd], book.maturity_years[bd], book.frequency[bd])
    alive = cf > 0
    s = book.bond_spread[bd][:, None]
    t1 = np.maximum(t - dt_years, 0.0)  # times after the horizon
    paid = alive & (t - dt_years <= 1e-9)  # coupons received within the horizon (carry)
    live = alive & ~paid
    zero, zero1 = np.zeros_like(t), np.zeros_like(t)
    for c, (tn, zr) in book.base_curve.items():
        sel = book.currency[bd] == c
        zero[sel] = np.interp(t[sel], tn, zr)
        zero1[sel] = np.interp(np.maximum(t1[sel], 1e-9), tn, zr)
    tenors = np.asarray(KEY_RATE_TENORS_Y)
    tc = np.clip(np.maximum(t1, 1e-9), tenors[0], tenors[-1])
    hi = np.clip(np.searchsorted(tenors, tc, side="left"), 1, tenors.size - 1)
    w_hi = (tc - tenors[hi - 1]) / (tenors[hi] - tenors[hi - 1])
    hi0 = np.ones_like(hi)
    rate_moves = np.ascontiguousarray(_gather(x, book.rate_table[bd]))  # (S, B, T)
    if rate_moves.shape[2] == 0:  # no curve factors at all
        rate_moves = np.zeros((x.shape[0], bd.size, tenors.size))
    p_rate, p_full = _bond_prices(
        rate_moves,
        np.ascontiguousarray(_gather(x, book.spread_col[bd])),
        (hi - 1).astype(np.int64),
        w_hi,
        np.exp(-(zero1 + s) * t1),
        t1,
        np.where(live, cf, 0.0),
        (cf * paid).sum(axis=1),
    )
    # the model price today (= the dirty price, to the spread solve's precision), summed in
    # the same order as the shocked prices so that a zero move is exactly a zero P&L
    base = _bond_prices(
        np.zeros((1, *rate_moves.shape[1:])),
        np.zeros((1, bd.size)),
        (hi0 - 1).astype(np.int64),
        np.zeros_like(t),
        np.exp(-(zero + s) * t),
        t,
        np.where(alive, cf, 0.0),
        np.zeros(bd.size),
    )[0][0]
    scale = (book.quantity * book.multiplier)[bd]  # value = q m P, P per 100 face
    fx0 = book.fx[bd]
    # the horizon's carry (roll-down and coupons received) is booked with the rate part
    parts[2][:, bd] = (p_rate - base) * scale * fx0
    parts[3][:, bd] = (p_full - p_rate) * scale * fx0
    parts[4][:, bd] = p_full * scale * fx0 * r_fx[:, bd]
    part_factor[2, bd] = _nearest_key_rate(book.rate_table[bd], book.maturity_years[bd])
    part_factor[3, bd] = book.spread_col[bd]
    part_factor[4, bd] = book.ccy_col[bd]


def _revalue_options(book, op, x, pts, r_fx, spot, dt_years, parts, part_factor) -> None:
    K, T0 = book.strike[op], book.expiry_years[op]
    r0, q, sig0 = book.rate[op], book.dividend_yield[op], book.vol[op]
    call, am, fut = book.is_call[op], book.american[op], book.on_future[op]
    S0 = book.und_price[op]
    v0 = book.price[op]  # model value at the marks
    T1 = np.maximum(T0 - dt_years, 0.0)
    S1 = S0 * (1.0 + spot[:, op])
    sig1 = np.maximum(
        sig0 * np.exp(_gather(x, book.vol_col[op])) + _gather(pts, book.vol_col[op]), VOL_FLOOR
    )
    w = _tenor_weights(np.maximum(T0, 1e-9))  # (O, T)
    dr = np.einsum("sot,ot->so", _gather(x, book.rate_table[op]), w)
    v_spot = option_values(S1, K, T1, r0, q, sig0, call, am, fut)
    v_vol = option_values(S1, K, T1, r0, q, sig1, call, am, fut)
    v_rate = option_values(S1, K, T1, r0 + dr, q, sig1, call, am, fut)
    unit = (book.quantity * book.multiplier * book.fx)[op]
    parts[0][:, op] = (v_spot - v0) * unit  # with theta when horizon_days > 0
    parts[1][:, op] = (v_vol - v_spot) * unit
    parts[2][:, op] = (v_rate - v_vol) * unit
    parts[4][:, op] = v_rate * unit * r_fx[:, op]
    part_factor[0, op] = book.spot_col[op]
    part_factor[1, op] = book.vol_col[op]
    part_factor[2, op] = _nearest_key_rate(book.rate_table[op], T0)
    part_factor[4, op] = book.ccy_col[op]
