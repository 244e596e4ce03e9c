"""Full revaluation of options on a grid of underlying and volatility moves.

Delta (or delta-gamma) approximations miss the shape of an option book's P&L under large
moves; full revaluation in every scenario is exact but costs one pricer call per option
per scenario. The grid method sits between (the "grid Monte Carlo" of Pritsker 1997,
"Evaluating value at risk methodologies"): each option is priced once on a grid of
underlying log-moves ``x`` and implied-vol log-moves ``v`` with the full pricer
(Black-Scholes-Merton or Black-76, the pricing package's numba grid kernel), grids of
options on the same underlying are summed (weighted by quantity), and each scenario's P&L
is read off the grid by bicubic (Catmull-Rom) interpolation, exact for cubics along each
axis, with linearly extrapolated ghost nodes at the edges.

The spot axis is in *absolute* log-levels relative to the spot at build time, so a spot
tick does not invalidate a grid: the current spot only shifts the point the scenario move
starts from. A grid is rebuilt when its options or their implied vols change, or when the
spot drifts out of the margin the grid was built with.

Kernels are numba; :func:`interp_py` is the plain-Python twin the tests compare against.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from riskstream.pricing import baw_price_grid, black76_greeks, bsm_greeks, bsm_price_grid


@njit(cache=True)
def _cubic(p0, p1, p2, p3, t):  # pragma: no cover - numba
    # Catmull-Rom cubic through p1 (t = 0) and p2 (t = 1), tangents from the neighbours.
    return p1 + 0.5 * t * (
        p2 - p0 + t * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3 + t * (3.0 * (p1 - p2) + p3 - p0))
    )


@njit(cache=True)
def _x_node(grid, i, k):  # pragma: no cover - numba
    # Value at spot node i (one ghost node each side, linearly extrapolated), vol node k.
    n_x = grid.shape[0]
    if i < 0:
        return 2.0 * grid[0, k] - grid[1, k]
    if i > n_x - 1:
        return 2.0 * grid[n_x - 1, k] - grid[n_x - 2, k]
    return grid[i, k]


@njit(cache=True)
def _node(grid, i, k):  # pragma: no cover - numba
    # Ghost nodes beyond each edge keep the cubic accurate in the first and last interval.
    n_v = grid.shape[1]
    if k < 0:
        return 2.0 * _x_node(grid, i, 0) - _x_node(grid, i, 1)
    if k > n_v - 1:
        return 2.0 * _x_node(grid, i, n_v - 1) - _x_node(grid, i, n_v - 2)
    return _x_node(grid, i, k)


@njit(cache=True)
def _interp(grid, x_lo, dx, v_lo, dv, x, v):  # pragma: no cover - numba
    n_x, n_v = grid.shape
    fx = min(max((x - x_lo) / dx, 0.0), n_x - 1.0)
    fv = min(max((v - v_lo) / dv, 0.0), n_v - 1.0)
    i = min(int(fx), n_x - 2)
    k = min(int(fv), n_v - 2)
    t = fx - i
    s = fv - k
    if i >= 1 and i + 2 < n_x and k >= 1 and k + 2 < n_v:  # interior: direct reads
        c0 = _cubic(grid[i - 1, k - 1], grid[i, k - 1], grid[i + 1, k - 1], grid[i + 2, k - 1], t)
        c1 = _cubic(grid[i - 1, k], grid[i, k], grid[i + 1, k], grid[i + 2, k], t)
        c2 = _cubic(grid[i - 1, k + 1], grid[i, k + 1], grid[i + 1, k + 1], grid[i + 2, k + 1], t)
        c3 = _cubic(grid[i - 1, k + 2], grid[i, k + 2], grid[i + 1, k + 2], grid[i + 2, k + 2], t)
        return _cubic(c0, c1, c2, c3, s)
    c0 = _cubic(
        _node(grid, i - 1, k - 1),
        _node(grid, i, k - 1),
        _node(grid, i + 1, k - 1),
        _node(grid, i + 2, k - 1),
        t,
    )
    c1 = _cubic(
        _node(grid, i - 1, k), _node(grid, i, k), _node(grid, i + 1, k), _node(grid, i + 2, k), t
    )
    c2 = _cubic(
        _node(grid, i - 1, k + 1),
        _node(grid, i, k + 1),
        _node(grid, i + 1, k + 1),
        _node(grid, i + 2, k + 1),
        t,
    )
    c3 = _cubic(
        _node(grid, i - 1, k + 2),
        _node(grid, i, k + 2),
        _node(grid, i + 1, k + 2),
        _node(grid, i + 2, k + 2),
        t,
    )
    return _cubic(c0, c1, c2, c3, s)


def interp_py(grid: np.ndarray, x_lo: float, dx: float, v_lo: float, dv: float, x, v) -> float:
    """Plain-Python twin of the numba interpolation (bicubic Catmull-Rom, Hermite form,
    linearly extrapolated ghost nodes beyond the edges)."""
    n_x, n_v = grid.shape
    fx = min(max((x - x_lo) / dx, 0.0), n_x - 1.0)
    fv = min(max((v - v_lo) / dv, 0.0), n_v - 1.0)
    i, k = min(int(fx), n_x - 2), min(int(fv), n_v - 2)
    t, s = fx - i, fv - k

    def hermite(p: list[float], u: float) -> float:
        m1, m2 = (p[2] - p[0]) / 2, (p[3] - p[1]) / 2
        h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
        h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
        return h00 * p[1] + h10 * m1 + h01 * p[2] + h11 * m2

    def node(a: int, b: int) -> float:  # linear extrapolation to ghost nodes
        if b < 0:
            return 2 * node(a, 0) - node(a, 1)
        if b > n_v - 1:
            return 2 * node(a, n_v - 1) - node(a, n_v - 2)
        if a < 0:
            return 2 * grid[0, b] - grid[1, b]
        if a > n_x - 1:
            return 2 * grid[n_x - 1, b] - grid[n_x - 2, b]
        return grid[a, b]

    cols = [hermite([node(i + d, k + e) for d in (-1, 0, 1, 2)], t) for e in (-1, 0, 1, 2)]
    return hermite(cols, s)


@njit(cache=True)
def interp_many(grid, x_lo, dx, v_lo, dv, x, v):  # pragma: no cover - numba
    """Interpolate one grid at many points (arrays ``x``, ``v``)."""
    out = np.empty(x.shape[0])
    for j in range(x.shape[0]):
        out[j] = _interp(grid, x_lo, dx, v_lo, dv, x[j], v[j])
    return out


@njit(cache=True)
def _catmull_weights(t, w):  # pragma: no cover - numba
    # Weights of p0..p3 in the Catmull-Rom cubic at t in [0, 1] (same cubic as _cubic).
    t2 = t * t
    t3 = t2 * t
    w[0] = 0.5 * (-t + 2.0 * t2 - t3)
    w[1] = 0.5 * (2.0 - 5.0 * t2 + 3.0 * t3)
    w[2] = 0.5 * (t + 4.0 * t2 - 3.0 * t3)
    w[3] = 0.5 * (-t2 + t3)


@njit(cache=True, nogil=True)
def vol_cells(v_lo, dv, n_v, vol_move, cell, weights):  # pragma: no cover - numba
    """Each scenario's vol-axis grid cell and Catmull-Rom weights, per underlying.

    The vol axis (``v_lo``, ``dv``) and the scenarios' vol moves are fixed for a scenario
    set, so this runs once; :func:`underlying_pnl` then only locates the spot on its axis
    (the spot now shifts every scenario's point). Same arithmetic as
    :func:`_catmull_weights` / :func:`_interp`, so results are unchanged bit for bit.

    ``vol_move`` (n_u, n_scen); ``cell`` (n_u, n_scen) int, ``weights`` (n_u, n_scen, 4).
    """
    for u in range(vol_move.shape[0]):
        for s in range(vol_move.shape[1]):
            fv = min(max((vol_move[u, s] - v_lo[u]) / dv[u], 0.0), n_v - 1.0)
            k = min(int(fv), n_v - 2)
            cell[u, s] = k
            _catmull_weights(fv - k, weights[u, s])


@njit(cache=True, parallel=True)
def underlying_pnl(
    grids, sel, x_lo, dx, v_lo, dv, x_now, base, spot_move, vol_move, vol_cell, vol_w, out
):  # pragma: no cover - numba
    """P&L of each selected underlying's option book in every scenario.

    Parameters
    ----------
    grids : (n_u, n_x, n_v) float64 — quantity-weighted book value on the grid (base ccy).
    sel : (n_sel,) int — the underlyings to revalue.
    x_lo, dx, v_lo, dv : (n_u,) — grid axes.
    x_now : (n_u,) — log(spot now / spot at build).
    base : (n_u,) — book value now, read off the same grid (so a zero move gives 0 P&L).
    spot_move, vol_move : (n_u, n_scen) — each scenario's log move of spot and of vol.
    vol_cell, vol_w : (n_u, n_scen), (n_u, n_scen, 4) — :func:`vol_cells` of ``vol_move``.
    out : (n_sel, n_scen) float64 — written.
    """
    n_x, n_v = grids.shape[1], grids.shape[2]
    n_s = spot_move.shape[1]
    for j in prange(sel.shape[0]):
        u = sel[j]
        g = grids[u]
        for s in range(n_s):
            x = x_now[u] + spot_move[u, s]
            fx = min(max((x - x_lo[u]) / dx[u], 0.0), n_x - 1.0)
            i = min(int(fx), n_x - 2)
            k = vol_cell[u, s]
            if i >= 1 and i + 2 < n_x and k >= 1 and k + 2 < n_v:
                # Catmull-Rom weights as scalars (same cubic as _cubic / _catmull_weights)
                t = fx - i
                t2 = t * t
                t3 = t2 * t
                a0 = 0.5 * (-t + 2.0 * t2 - t3)
                a1 = 0.5 * (2.0 - 5.0 * t2 + 3.0 * t3)
                a2 = 0.5 * (t + 4.0 * t2 - 3.0 * t3)
                a3 = 0.5 * (-t2 + t3)
                b0, b1, b2, b3 = vol_w[u, s, 0], vol_w[u, s, 1], vol_w[u, s, 2], vol_w[u, s, 3]
                acc = 0.0
                for a in range(4):
                    r = g[i - 1 + a]
                    row = b0 * r[k - 1] + b1 * r[k] + b2 * r[k + 1] + b3 * r[k + 2]
                    acc += (a0 if a == 0 else a1 if a == 1 else a2 if a == 2 else a3) * row
                out[j, s] = acc - base[u]
            else:
                out[j, s] = _interp(g, x_lo[u], dx[u], v_lo[u], dv[u], x, vol_move[u, s]) - base[u]


@njit(cache=True)
def scale_grids(grids, sel, factor):  # pragma: no cover - numba
    """grids[sel[j]] *= factor[j], in place (no temporary copy of the grids)."""
    for j in range(sel.shape[0]):
        g = grids[sel[j]]
        f = factor[j]
        for a in range(g.shape[0]):
            for b in range(g.shape[1]):
                g[a, b] *= f


@njit(cache=True)
def values_now(grids, sel, owner, x_lo, dx, v_lo, dv, x_now, out):  # pragma: no cover
    """out[o] = grid o read at its underlying's current spot and unchanged vol."""
    for j in range(sel.shape[0]):
        o = sel[j]
        u = owner[o]
        out[o] = _interp(grids[o], x_lo[u], dx[u], v_lo[u], dv[u], x_now[u], 0.0)


@njit(cache=True)
def option_unit_pnl_rows(
    grids, opts, owner, x_lo, dx, v_lo, dv, x_now, base, spot_col, vol_col, shock_rows_t, out
):  # pragma: no cover - numba
    """Per-unit P&L of options ``opts`` in a few scenarios (the Euler tail rows).

    ``grids`` (n_opt, n_x, n_v) are per-unit option values; ``owner`` maps each option to
    its underlying's axes; ``base`` (n_opt,) the per-unit value now; ``shock_rows_t``
    (n_factors, n_rows) the rows' moves, factor-major; ``out`` (n_rows, len(opts)).

    Options of one underlying share each row's grid cell and cubic weights, so those are
    computed once per (underlying, row); each option then costs 16 multiply-adds (cells at
    the grid edge fall back to :func:`_interp` with its ghost nodes).
    """
    n_r = shock_rows_t.shape[1]
    n_u = x_lo.shape[0]
    n_x, n_v = grids.shape[1], grids.shape[2]
    cell_i = np.empty((n_u, n_r), dtype=np.int64)
    cell_k = np.empty((n_u, n_r), dtype=np.int64)
    wx = np.empty((n_u, n_r, 4))
    wv = np.empty((n_u, n_r, 4))
    xs = np.empty((n_u, n_r))
    vs = np.empty((n_u, n_r))
    for u in range(n_u):
        sc, vc = spot_col[u], vol_col[u]
        for r in range(n_r):
            x = x_now[u] + (np.log1p(np.float64(shock_rows_t[sc, r])) if sc >= 0 else 0.0)
            v = np.float64(shock_rows_t[vc, r]) if vc >= 0 else 0.0
            xs[u, r] = x
            vs[u, r] = v
            fx = min(max((x - x_lo[u]) / dx[u], 0.0), n_x - 1.0)
            fv = min(max((v - v_lo[u]) / dv[u], 0.0), n_v - 1.0)
            i = min(int(fx), n_x - 2)
            k = min(int(fv), n_v - 2)
            cell_i[u, r] = i
            cell_k[u, r] = k
            _catmull_weights(fx - i, wx[u, r])
            _catmull_weights(fv - k, wv[u, r])
    for j in range(opts.shape[0]):
        o = opts[j]
        u = owner[o]
        g = grids[o]
        for r in range(n_r):
            i = cell_i[u, r]
            k = cell_k[u, r]
            if i >= 1 and i + 2 < n_x and k >= 1 and k + 2 < n_v:
                acc = 0.0
                for a in range(4):
                    row = 0.0
                    for b in range(4):
                        row += wv[u, r, b] * g[i - 1 + a, k - 1 + b]
                    acc += wx[u, r, a] * row
                out[r, j] = acc - base[o]
            else:
                out[r, j] = _interp(g, x_lo[u], dx[u], v_lo[u], dv[u], xs[u, r], vs[u, r]) - base[o]


def option_greeks(
    spot: np.ndarray,
    strike: np.ndarray,
    expiry_years: np.ndarray,
    rate: np.ndarray,
    dividend_yield: np.ndarray | float,
    vol: np.ndarray,
    is_call: np.ndarray,
    on_future: np.ndarray,
    american: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delta, gamma and vega (per 1.00 of vol) of options, arrays (n,).

    European options: analytic, Black-76 for options on futures, Black-Scholes-Merton with
    ``dividend_yield`` otherwise (:func:`riskstream.pricing.bsm_greeks`,
    :func:`riskstream.pricing.black76_greeks`). American options (``american``): central
    differences of the Barone-Adesi-Whaley value (the model of the grids), spot bumped by
    0.1 % and vol by 1 % relative, in one call of the grid kernel.
    """
    delta, gamma, vega = (np.empty(spot.shape) for _ in range(3))
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), spot.shape)
    qd = np.broadcast_to(np.asarray(dividend_yield, dtype=np.float64), spot.shape)
    b = ~on_future
    g = bsm_greeks(spot[b], strike[b], expiry_years[b], rate[b], qd[b], vol[b], is_call[b])
    delta[b], gamma[b], vega[b] = g.delta, g.gamma, g.vega
    f = on_future
    g = black76_greeks(spot[f], strike[f], expiry_years[f], rate[f], vol[f], is_call[f])
    delta[f], gamma[f], vega[f] = g.delta, g.gamma, g.vega
    if american is not None and american.any():
        a = np.flatnonzero(american)
        hs, hv = 1e-3, 1e-2
        q = np.where(on_future[a], rate[a], qd[a])
        v = baw_price_grid(
            np.ascontiguousarray(spot[a], dtype=np.float64),
            np.ascontiguousarray(strike[a], dtype=np.float64),
            np.ascontiguousarray(expiry_years[a], dtype=np.float64),
            np.ascontiguousarray(rate[a]),
            np.ascontiguousarray(q),
            np.ascontiguousarray(vol[a], dtype=np.float64),
            np.ascontiguousarray(is_call[a], dtype=bool),
            np.array([1.0 - hs, 1.0, 1.0 + hs]),
            np.array([1.0 - hv, 1.0, 1.0 + hv]),
        )
        ds = hs * spot[a]
        delta[a] = (v[:, 2, 1] - v[:, 0, 1]) / (2 * ds)
        gamma[a] = (v[:, 2, 1] - 2 * v[:, 1, 1] + v[:, 0, 1]) / (ds * ds)
        vega[a] = (v[:, 1, 2] - v[:, 1, 0]) / (2 * hv * vol[a])
    return delta, gamma, vega


def build_option_grids(
    spot_build: np.ndarray,
    x_axis: np.ndarray,
    v_axis: np.ndarray,
    strike: np.ndarray,
    expiry_years: np.ndarray,
    vol: np.ndarray,
    is_call: np.ndarray,
    on_future: np.ndarray,
    unit_value: np.ndarray,
    rate: np.ndarray | float,
    dividend_yield: np.ndarray | float,
    american: np.ndarray | None = None,
) -> np.ndarray:
    """Per-unit value grids of options, shape (n_opt, n_x, n_v), in base currency.

    Full revaluation with the pricing package's numba grid kernels: European options with
    :func:`riskstream.pricing.bsm_price_grid` (Black-76 as BSM with ``q = r``), American
    ones (``american``) with :func:`riskstream.pricing.baw_price_grid`, the Barone-Adesi-
    Whaley approximation, so the early-exercise premium is in every scenario's value.

    Parameters
    ----------
    spot_build : (n_opt,) — the underlying's spot (futures price) the grid is centred on.
    x_axis : (n_x,) — log-moves of the spot; v_axis : (n_v,) — log-moves of the vol.
    unit_value : (n_opt,) — multiplier times FX rate to base.
    rate : (n_opt,) or float — continuously compounded rate to each option's expiry.
    dividend_yield : (n_opt,) or float — the underlying's continuous dividend yield.
    american : (n_opt,) bool, optional — early exercise allowed (default: none).
    """
    n = spot_build.shape[0]
    r = np.ascontiguousarray(np.broadcast_to(np.asarray(rate, dtype=np.float64), (n,)))
    qd = np.broadcast_to(np.asarray(dividend_yield, dtype=np.float64), (n,))
    q = np.ascontiguousarray(np.where(on_future, r, qd))
    args = [
        np.ascontiguousarray(spot_build, dtype=np.float64),
        np.ascontiguousarray(strike, dtype=np.float64),
        np.ascontiguousarray(expiry_years, dtype=np.float64),
        r,
        q,
        np.ascontiguousarray(vol, dtype=np.float64),
        np.ascontiguousarray(is_call, dtype=bool),
    ]
    spot_f = np.exp(np.asarray(x_axis, dtype=np.float64))
    vol_f = np.exp(np.asarray(v_axis, dtype=np.float64))
    if american is None or not american.any():
        price = bsm_price_grid(*args, spot_f, vol_f)
    else:
        price = np.empty((n, spot_f.size, vol_f.size))
        a = np.flatnonzero(american)
        e = np.flatnonzero(~american)
        price[a] = baw_price_grid(*(np.ascontiguousarray(x[a]) for x in args), spot_f, vol_f)
        if e.size:
            price[e] = bsm_price_grid(*(np.ascontiguousarray(x[e]) for x in args), spot_f, vol_f)
    return price * unit_value[:, None, None]
