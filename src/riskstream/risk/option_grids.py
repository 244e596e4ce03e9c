"""Option grids: full revaluation of every option book on a per-underlying grid.

Each underlying ``k`` (an equity, index or future with options on it) has a grid of
``grid_spot_points`` log-spot moves by ``grid_vol_points`` log-vol moves, its axes wide
enough for the scenario set's widest moves plus ``grid_margin``
(:func:`scenario_view`). Every option is priced on its underlying's grid once (Black-
Scholes-Merton / Black-76, Barone-Adesi-Whaley for American exercise:
:func:`riskstream.risk.grids.build_option_grids`); the held book's grid is the quantity-
weighted sum, and its P&L in a scenario is read off the grid at the scenario's spot and
vol move (Catmull-Rom interpolation, :func:`riskstream.risk.grids.underlying_pnl`). As
the spot moves the grid stays and the read point shifts (``u_x_now``); a grid is rebuilt
when the spot drifts past half the margin, an option becomes valid, or the live implied
vols of the held book moved past the threshold (``vol_rebuild_abs``/``vol_rebuild_rel``).

The implied vols are live: this part owns the sticky-strike vol surface
(:class:`riskstream.risk.vol_surface.VolSurface`) fed by the option quotes.

**Off the engine's thread.** A new scenario set (a regime switch) needs every grid
rebuilt on new axes. :func:`scenario_view`, :meth:`OptionGrids.capture` and
:func:`build_grids` are pure functions of frozen inputs, so the background worker
(:mod:`riskstream.risk.background`) prepares the new grids while refreshes continue on the
grids in force, and :meth:`OptionGrids.install` swaps them in on the engine's thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from riskstream.core.state import MarketState
from riskstream.risk import grids
from riskstream.risk.config import RiskConfig
from riskstream.risk.factors import year_fraction
from riskstream.risk.marks import LiveMarks
from riskstream.risk.positions_view import PositionsView
from riskstream.risk.reference import InstrumentTable
from riskstream.risk.scenarios import ScenarioSet
from riskstream.risk.valuation import VALUED
from riskstream.risk.vol_surface import VolSurface


def members(size: int, *arrays: np.ndarray) -> np.ndarray:
    """Sorted distinct values in ``0..size-1`` of the integer ``arrays``: a mark per value
    (O(size), no sort; union1d and unique sort or hash, which shows on every refresh)."""
    mark = np.zeros(size, dtype=bool)
    for a in arrays:
        mark[a] = True
    return np.flatnonzero(mark)


@dataclass(frozen=True, eq=False)
class ScenarioView:
    """Everything the engine derives from one scenario set (fixed while it is in force).

    Attributes
    ----------
    scenarios : ScenarioSet
    factor_vol : ndarray of shape (n_factors,)
        Daily volatility of each factor's move (price factors relative, vols log).
    x_lo, dx, v_lo, dv, margin : ndarray of shape (n_underlyings,)
        Grid axes: log-spot from ``x_lo`` in steps ``dx``, log-vol from ``v_lo`` by ``dv``.
    spot_move, vol_move : dict of int to ndarray of shape (n_underlyings, n_scenarios)
        Each scenario's log move of every underlying's spot and vol factor, per horizon.
    vol_cell, vol_w : dict of int to ndarray
        Each scenario's vol-axis cell and Catmull-Rom weights
        (:func:`riskstream.risk.grids.vol_cells`).
    """

    scenarios: ScenarioSet
    factor_vol: np.ndarray
    x_lo: np.ndarray
    dx: np.ndarray
    v_lo: np.ndarray
    dv: np.ndarray
    margin: np.ndarray
    spot_move: dict[int, np.ndarray]
    vol_move: dict[int, np.ndarray]
    vol_cell: dict[int, np.ndarray]
    vol_w: dict[int, np.ndarray]


def scenario_view(ref: InstrumentTable, scenarios: ScenarioSet, config: RiskConfig) -> ScenarioView:
    """Derive a scenario set's factor vols, grid axes and scenario coordinates (a pure
    function: safe on the background worker)."""
    n_u, n_scen = ref.n_underlyings, scenarios.n_scenarios
    nx, nv, m = config.grid_spot_points, config.grid_vol_points, config.grid_margin
    x_lo, dx = np.zeros(n_u), np.ones(n_u)
    v_lo, dv = np.zeros(n_u), np.ones(n_u)
    margin = np.zeros(n_u)
    for k in range(n_u):  # axes from the widest scenario moves of the underlying's factors
        sc, vc = ref.u_spot_col[k], ref.u_vol_col[k]
        x_max, v_max = 0.05, 0.05
        for s in scenarios.shocks.values():
            if sc >= 0:
                x_max = max(x_max, float(np.abs(np.log1p(s[:, sc].astype(np.float64))).max()))
            if vc >= 0:
                v_max = max(v_max, float(np.abs(s[:, vc]).max()))
        x_max += m
        margin[k] = m
        x_lo[k], dx[k] = -x_max, 2 * x_max / (nx - 1)
        v_lo[k], dv[k] = -v_max * 1.01, 2 * v_max * 1.01 / (nv - 1)
    spot_move, vol_move, vol_cell, vol_w = {}, {}, {}, {}
    zeros = np.zeros(n_scen)
    for h in config.horizons_days:
        sh = scenarios.shocks[h]
        spot_move[h] = np.array(
            [np.log1p(sh[:, c].astype(np.float64)) if c >= 0 else zeros for c in ref.u_spot_col]
        ).reshape(n_u, n_scen)
        vol_move[h] = np.array(
            [sh[:, c].astype(np.float64) if c >= 0 else zeros for c in ref.u_vol_col]
        ).reshape(n_u, n_scen)
        vol_cell[h] = np.empty((n_u, n_scen), dtype=np.int64)
        vol_w[h] = np.empty((n_u, n_scen, 4))
        grids.vol_cells(v_lo, dv, nv, vol_move[h], vol_cell[h], vol_w[h])
    h0 = min(scenarios.horizons)
    factor_vol = np.asarray(scenarios.shocks[h0], dtype=np.float64).std(axis=0) / np.sqrt(h0)
    return ScenarioView(
        scenarios, factor_vol, x_lo, dx, v_lo, dv, margin, spot_move, vol_move, vol_cell, vol_w
    )


@dataclass(frozen=True, eq=False)
class GridInputs:
    """What pricing the grids of underlyings ``us`` reads, copied on the engine's thread.

    ``spot`` (n_underlyings,): each underlying's price; per option (n_options,): ``ok``
    (valued), ``vol`` (live implied vol), ``expiry`` (years), ``unit`` (multiplier x FX).
    """

    us: np.ndarray
    spot: np.ndarray
    ok: np.ndarray
    vol: np.ndarray
    expiry: np.ndarray
    unit: np.ndarray

    def differ(self, other: GridInputs, owner: np.ndarray) -> np.ndarray:
        """Underlyings whose options' inputs differ between ``self`` and ``other`` (validity,
        vol, expiry, unit value; ``owner``: each option's underlying). A spot move is not a
        difference: the grid stays and its read point follows the spot."""
        same = (
            (self.ok == other.ok)
            & ((self.vol == other.vol) | (np.isnan(self.vol) & np.isnan(other.vol)))
            & (self.expiry == other.expiry)
            & (self.unit == other.unit)
        )
        return np.unique(owner[~same])


@dataclass(frozen=True, eq=False)
class BuiltGrids:
    """Grids priced for underlyings ``us`` (options ``opts`` of them, in order)."""

    us: np.ndarray
    opts: np.ndarray
    grid: np.ndarray  # (len(opts), n_x, n_v)
    spot: np.ndarray  # (len(us),) the spot each underlying's grid is centred on
    ok: np.ndarray  # (len(opts),)
    vol: np.ndarray  # (len(opts),) vol built at (NaN where not valued)


def _price_grid(
    ref: InstrumentTable,
    config: RiskConfig,
    view: ScenarioView,
    k: int,
    opts: np.ndarray,
    spot: float,
    inputs: GridInputs,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit grids of options ``opts`` of underlying ``k`` (full revaluation); invalid
    options get a zero grid. Returns (grids, vols built at)."""
    ids = ref.opt_ids[opts]
    x_axis = view.x_lo[k] + view.dx[k] * np.arange(config.grid_spot_points)
    v_axis = view.v_lo[k] + view.dv[k] * np.arange(config.grid_vol_points)
    ok = inputs.ok[opts]
    vol = np.where(ok, inputs.vol[opts], 0.2)
    expiry = np.where(ok, inputs.expiry[opts], 1.0)
    g = grids.build_option_grids(
        np.full(opts.size, spot),
        x_axis,
        v_axis,
        np.nan_to_num(ref.strike[ids], nan=spot),
        expiry,
        vol,
        ref.is_call[ids],
        ref.on_future[opts],
        inputs.unit[opts],
        ref.rate[ids],
        ref.opt_q[opts],
        ref.opt_american[opts],
    )
    g[~ok] = 0.0
    return g, np.where(ok, vol, np.nan)


def build_grids(
    ref: InstrumentTable, config: RiskConfig, view: ScenarioView, inputs: GridInputs
) -> BuiltGrids:
    """Price the grids of every underlying of ``inputs.us`` with a usable spot (a pure
    function of frozen inputs: the background worker runs it for a regime switch)."""
    us = np.array([k for k in inputs.us if np.isfinite(inputs.spot[k]) and inputs.spot[k] > 0])
    us = us.astype(np.int64)
    parts, opt_parts, vols = [], [], []
    for k in us:
        opts = ref.options_of[k]
        g, v = _price_grid(ref, config, view, int(k), opts, float(inputs.spot[k]), inputs)
        parts.append(g)
        opt_parts.append(opts)
        vols.append(v)
    shape = (0, config.grid_spot_points, config.grid_vol_points)
    opts = np.concatenate(opt_parts) if opt_parts else np.empty(0, dtype=np.int64)
    return BuiltGrids(
        us,
        opts,
        np.concatenate(parts) if parts else np.empty(shape),
        inputs.spot[us],
        inputs.ok[opts],
        np.concatenate(vols) if vols else np.empty(0),
    )


class OptionGrids:
    """Grids, books, Greeks and live vols of the options (see the module doc).

    Per underlying (n_u): ``u_x_now`` (log spot now / at build), ``u_spot_build``,
    ``u_grid`` (held book's grid), ``u_base`` (book value now), ``u_pnl[h]`` (n_u,
    n_scenarios) book P&L. Per option (n_opt): ``opt_grid`` (per-unit grids), ``opt_base``
    (model value now), ``opt_built_ok``, ``opt_vol_built``, ``opt_expiry`` (years).
    ``implied_vol`` (n,): live vols of the options (NaN-free where quoted).

    Writes the option rows of ``marks`` (model value, delta, gamma, vega, daily sigma);
    reads the positions' ``qty``.
    """

    def __init__(
        self,
        ref: InstrumentTable,
        config: RiskConfig,
        marks: LiveMarks,
        positions: PositionsView,
        view: ScenarioView,
        implied_vol: np.ndarray,
    ) -> None:
        self.ref, self.config, self.marks, self.positions = ref, config, marks, positions
        self.view = view
        n_u, n_opt = ref.n_underlyings, ref.opt_ids.size
        nx, nv = config.grid_spot_points, config.grid_vol_points
        self.horizons = tuple(config.horizons_days)
        self.u_x_now = np.zeros(n_u)
        self.u_spot_build = np.full(n_u, np.nan)
        self.u_base = np.zeros(n_u)
        self.u_grid = np.zeros((n_u, nx, nv))
        self.u_pnl = {h: np.zeros((n_u, view.scenarios.n_scenarios)) for h in self.horizons}
        self.opt_grid = np.zeros((n_opt, nx, nv))
        self.opt_base = np.zeros(n_opt)
        self.opt_built_ok = np.zeros(n_opt, dtype=bool)
        self.opt_expiry = np.zeros(n_opt)
        self.opt_vol_built = np.full(n_opt, np.nan)  # vol each grid was built at
        self.implied_vol = implied_vol.copy()
        self.grid_builds = 0  # underlyings' grids (re)built, every cause
        self.vol_rebuilds = 0  # of which because the live vols moved past the threshold
        self.vol_moves = 0  # refreshes in which some option's live vol moved
        self.vols = VolSurface(
            ref.opt_owner,
            np.nan_to_num(ref.expiry_days[ref.opt_ids]).astype(np.int64),
            ref.strike[ref.opt_ids],
            ref.is_call[ref.opt_ids],
            ref.opt_american,
            ref.on_future,
            self.implied_vol[ref.opt_ids],
            int(config.vol_quote_stale_s * 1e9),
        )

    # ------------------------------------------------------------------ grids

    def capture(self, us: np.ndarray | None = None) -> GridInputs:
        """Copy what pricing the grids of underlyings ``us`` (default all) reads."""
        ref, marks = self.ref, self.marks
        us = np.arange(ref.n_underlyings) if us is None else us
        und = ref.und_ids
        inside = (und >= 0) & (und < ref.n)
        spot = np.where(inside, marks.price[np.clip(und, 0, max(ref.n - 1, 0))], np.nan)
        ids = ref.opt_ids
        return GridInputs(
            np.asarray(us, dtype=np.int64),
            spot,
            marks.reason[ids] == VALUED,
            self.implied_vol[ids].copy(),
            self.opt_expiry.copy(),
            ref.multiplier[ids] * marks.fx[ids],
        )

    def install(self, built: BuiltGrids) -> None:
        """Adopt grids priced elsewhere (spot moves are then read relative to their build)."""
        self.opt_grid[built.opts] = built.grid
        self.opt_built_ok[built.opts] = built.ok
        self.opt_vol_built[built.opts] = built.vol
        self.u_spot_build[built.us] = built.spot
        self.u_x_now[built.us] = 0.0
        self.grid_builds += built.us.size

    def build_grid(self, k: int) -> None:
        """Price the options of underlying ``k`` on its grid now (full revaluation)."""
        self.install(build_grids(self.ref, self.config, self.view, self.capture(np.array([k]))))

    def update_underlyings(
        self,
        us: np.ndarray,
        force_grid: bool,
        rebuild_us: np.ndarray | None = None,
        greeks: bool = True,
    ) -> None:
        """Move the spot of underlyings ``us``; rebuild grids out of range, forced, or in
        ``rebuild_us`` (live vols moved); recompute their Greeks (``greeks``; else only the
        daily sigma, for new factor vols) and books."""
        ref, price, reason = self.ref, self.marks.price, self.marks.reason
        us = np.asarray(us, dtype=np.int64)
        vol_moved = set() if rebuild_us is None else set(rebuild_us.tolist())
        for k in us:
            u = ref.und_ids[k]
            spot = price[u] if 0 <= u < ref.n else np.nan
            if not np.isfinite(spot) or spot <= 0:
                continue
            mine = ref.options_of[k]
            newly_valid = (reason[ref.opt_ids[mine]] == VALUED) & ~self.opt_built_ok[mine]
            built_at = self.u_spot_build[k]
            x_now = np.log(spot / built_at) if np.isfinite(built_at) else 0
            if (
                force_grid
                or not np.isfinite(built_at)
                or newly_valid.any()
                or abs(x_now) > 0.5 * self.view.margin[k]
            ):
                self.build_grid(int(k))
            elif int(k) in vol_moved:
                self.build_grid(int(k))
                self.vol_rebuilds += 1
            else:
                self.u_x_now[k] = x_now
        if greeks:
            self.greeks(us)
        else:
            self.sigma_from_delta(us)
        self.rebuild_books(us)

    def greeks(self, us: np.ndarray) -> None:
        """Per-unit dollar delta, dollar gamma and vega of the held options of underlyings
        ``us`` at the current spot (the pricing package's Greeks at the live vols, one
        batched call), into ``marks``."""
        ref, marks = self.ref, self.marks
        qty = self.positions.qty
        # Greeks feed the held book's aggregates, funding and impact: held options only
        # (a trade on another option recomputes its underlying's, see RiskEngine.apply_trade).
        opts = np.flatnonzero(np.isin(ref.opt_owner, us) & (qty[ref.opt_ids] != 0))
        if opts.size == 0:
            return
        ids = ref.opt_ids[opts]
        n = ref.n
        und = ref.und_ids[ref.opt_owner[opts]]
        spot = np.where((und >= 0) & (und < n), marks.price[np.clip(und, 0, n - 1)], np.nan)
        ok = (marks.reason[ids] == VALUED) & np.isfinite(spot)
        spot = np.where(ok, spot, 1.0)
        vol = np.where(ok, self.implied_vol[ids], 0.2)
        expiry = np.where(ok, self.opt_expiry[opts], 1.0)
        strike = np.where(ok, ref.strike[ids], 1.0)
        unit = ref.multiplier[ids] * marks.fx[ids] * ok
        delta, gamma, vega = grids.option_greeks(
            spot,
            strike,
            expiry,
            ref.rate[ids],
            ref.opt_q[opts],
            vol,
            ref.is_call[ids],
            ref.on_future[opts],
            ref.opt_american[opts],
        )
        marks.unit_delta[ids] = unit * delta * spot  # S dV/dS: per unit relative move
        marks.unit_gamma[ids] = unit * gamma * spot * spot  # S^2 d2V/dS2
        marks.unit_vega[ids] = unit * vega
        self._sigma(opts)

    def _sigma(self, opts: np.ndarray) -> None:
        """Daily price vol per unit of options ``opts``: |dollar delta| x the spot
        factor's daily vol (of the scenario set in force)."""
        ref, marks = self.ref, self.marks
        ids = ref.opt_ids[opts]
        sc = ref.u_spot_col[ref.opt_owner[opts]]
        fvol = self.view.factor_vol
        marks.unit_sigma[ids] = np.abs(marks.unit_delta[ids]) * np.where(
            sc >= 0, fvol[np.maximum(sc, 0)], 0.0
        )

    def sigma_from_delta(self, us: np.ndarray) -> None:
        """The held options of underlyings ``us``: daily sigma from their Greeks as they
        are (a new scenario set changes the factor vols, not the Greeks)."""
        held = self.positions.qty[self.ref.opt_ids] != 0
        opts = np.flatnonzero(np.isin(self.ref.opt_owner, us) & held)
        if opts.size:
            self._sigma(opts)

    def rebuild_books(self, us: np.ndarray) -> None:
        """Quantity-weighted book grids, values now and scenario P&L of underlyings ``us``."""
        ref, view = self.ref, self.view
        us = np.asarray(us, dtype=np.int64)
        if us.size == 0 or ref.opt_ids.size == 0:
            return
        q_opt = self.positions.qty[ref.opt_ids] * (self.marks.reason[ref.opt_ids] == VALUED)
        for k in us:
            opts = ref.options_of[k]
            opts = opts[q_opt[opts] != 0]
            self.u_grid[k] = np.tensordot(q_opt[opts], self.opt_grid[opts], axes=1)
        opts = np.flatnonzero(np.isin(ref.opt_owner, us))
        axes = (view.x_lo, view.dx, view.v_lo, view.dv, self.u_x_now)
        grids.values_now(self.opt_grid, opts, ref.opt_owner, *axes, self.opt_base)
        self.marks.unit_value[ref.opt_ids[opts]] = self.opt_base[opts]
        base = np.empty(ref.n_underlyings)
        grids.values_now(self.u_grid, us, np.arange(ref.n_underlyings), *axes, base)
        self.u_base[us] = base[us]
        held = us[np.abs(self.u_grid[us]).reshape(us.size, -1).max(axis=1) > 0]
        for h in self.horizons:
            self.u_pnl[h][us] = 0.0
            if held.size:
                out = np.empty((held.size, view.scenarios.n_scenarios))
                grids.underlying_pnl(
                    self.u_grid,
                    held,
                    *axes,
                    self.u_base,
                    view.spot_move[h],
                    view.vol_move[h],
                    view.vol_cell[h],
                    view.vol_w[h],
                    out,
                )
                self.u_pnl[h][held] = out

    def set_model_values(self, ids: np.ndarray) -> None:
        """Write the options among ``ids``' model values (read off their grids) to marks."""
        o = self.ref.opt_index[ids]
        o = o[o >= 0]
        self.marks.unit_value[self.ref.opt_ids[o]] = self.opt_base[o]

    # ------------------------------------------------------------------ live marks

    def rescale_fx(self, code_ratio: np.ndarray) -> np.ndarray:
        """Translate the option grids of currencies whose rate moved (ratio per currency
        code, :meth:`riskstream.risk.marks.LiveMarks.follow_fx`): grids and values now are
        linear in the rate; an underlying's book (grid, value, scenario P&L) is rescaled
        when all its options share a currency. Returns the underlyings with options in
        several currencies (their books must be recomputed)."""
        ref = self.ref
        ids = ref.opt_ids
        opt_ratio = code_ratio[ref.ccy_code[ids]]
        sel = np.flatnonzero(opt_ratio != 1.0)
        grids.scale_grids(self.opt_grid, sel, opt_ratio[sel])
        self.opt_base[sel] *= opt_ratio[sel]
        n_u = ref.n_underlyings
        lo = np.full(n_u, np.inf)
        hi = np.full(n_u, -np.inf)
        np.minimum.at(lo, ref.opt_owner, opt_ratio)
        np.maximum.at(hi, ref.opt_owner, opt_ratio)
        touched = (lo != 1.0) | (hi != 1.0)
        uniform = np.flatnonzero(touched & (lo == hi))
        r_u = lo[uniform]
        self.u_grid[uniform] *= r_u[:, None, None]
        self.u_base[uniform] *= r_u
        for h in self.horizons:
            self.u_pnl[h][uniform] *= r_u[:, None]
        return np.flatnonzero(touched & (lo != hi))

    def follow_vols(
        self, market: MarketState, changed: np.ndarray, as_of: dt.date, now_ns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read the updated option quotes into the live surface and adopt its vols.

        Returns the options whose vol changed (instrument ids, to re-derive), the
        underlyings whose grids must be rebuilt (their held book's vols moved past the
        threshold since the grids were built: ``vol_rebuild_abs`` and ``vol_rebuild_rel``)
        and the other underlyings whose vols moved (Greeks at the live vols)."""
        ref, marks = self.ref, self.marks
        none = np.empty(0, dtype=np.int64)
        if ref.opt_ids.size == 0:
            return none, none, none
        o = ref.opt_index[changed]
        o = o[o >= 0]
        m, oi = market, ref.opt_ids
        und = np.clip(ref.underlying[oi], 0, ref.n - 1)
        mid, last = m.mid[und], m.last[und]
        spot = np.where(np.isfinite(mid) & (mid > 0), mid, last)
        spot = np.where(ref.underlying[oi] >= 0, spot, np.nan)
        expiry = year_fraction(ref.expiry_days[oi], as_of)
        moved_us = self.vols.update(
            o, m.bid[oi], m.ask[oi], m.ts_ns[oi], spot, expiry, ref.rate[oi], ref.opt_q, now_ns
        )
        if moved_us.size == 0:
            return none, none, none
        new, old = self.vols.vol, self.implied_vol[oi]
        diff = np.flatnonzero(~((new == old) | (np.isnan(new) & np.isnan(old))))
        if diff.size == 0:
            return none, none, none
        self.vol_moves += 1
        self.implied_vol[oi[diff]] = new[diff]
        # Rebuild an underlying's grids when its held book's vols moved enough to matter:
        # the vega-weighted mean absolute move of its held options' vols since the grids
        # were built, weights |quantity x vega| (what a vol move does to the book's value),
        # above both thresholds (absolute, and relative to the book's vega-weighted vol).
        # Weighting by vega keeps tick-rounding noise in the vols of low-vega quotes (deep
        # in or out of the money) from rebuilding grids whose value it barely moves.
        cfg, n_u = self.config, ref.n_underlyings
        qty = self.positions.qty
        held = (qty[oi] != 0) & (marks.reason[oi] == VALUED)
        w = np.abs(qty[oi] * marks.unit_vega[oi]) * held
        built = self.opt_vol_built
        known = np.isfinite(built)
        dev = np.where(known, np.abs(self.implied_vol[oi] - built), 0.0)
        den = np.bincount(ref.opt_owner, w, minlength=n_u)
        move = np.bincount(ref.opt_owner, w * dev, minlength=n_u)
        level = np.bincount(ref.opt_owner, w * np.where(known, built, 0.0), minlength=n_u)
        with np.errstate(invalid="ignore", divide="ignore"):
            move, level = move / den, level / den
        far = (den > 0) & (move > cfg.vol_rebuild_abs) & (move > cfg.vol_rebuild_rel * level)
        far |= np.bincount(ref.opt_owner, held & ~known, minlength=n_u) > 0
        moved_k = members(n_u, ref.opt_owner[diff])
        rebuild = moved_k[far[moved_k]]
        books = np.setdiff1d(moved_k, rebuild)
        return oi[diff], rebuild, books

    # ------------------------------------------------------------------ P&L

    def pnl_sum(self, h: int) -> np.ndarray:
        """Sum over underlyings of the option books' scenario P&L, (n_scenarios,)."""
        return self.u_pnl[h].sum(axis=0)

    def unit_rows(self, rows_t: np.ndarray, inst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-unit P&L of the options among ``inst`` in scenarios whose moves are
        ``rows_t`` (n_factors, n_rows). Returns their positions in ``inst`` and their P&L,
        shape (n_rows, n_options_in_inst), zero for excluded options."""
        ref, view = self.ref, self.view
        col = ref.opt_index[inst]
        is_opt = np.flatnonzero(col >= 0)
        opts = col[is_opt]
        opt_out = np.empty((rows_t.shape[1], opts.size))
        if opts.size:
            grids.option_unit_pnl_rows(
                self.opt_grid,
                opts,
                ref.opt_owner,
                view.x_lo,
                view.dx,
                view.v_lo,
                view.dv,
                self.u_x_now,
                self.opt_base,
                ref.u_spot_col,
                ref.u_vol_col,
                rows_t,
                opt_out,
            )
            opt_out[:, self.marks.reason[ref.opt_ids[opts]] != VALUED] = 0.0
        return is_opt, opt_out

    def trade_pnl(self, shocks: np.ndarray, o: int) -> np.ndarray:
        """Scenario P&L of one unit of option ``o`` (option index), (n_scenarios,)."""
        ref, view = self.ref, self.view
        k = ref.opt_owner[o]
        x = self.u_x_now[k] + np.log1p(shocks[:, ref.u_spot_col[k]].astype(np.float64))
        vc = ref.u_vol_col[k]
        v = shocks[:, vc].astype(np.float64) if vc >= 0 else np.zeros(shocks.shape[0])
        value = grids.interp_many(
            self.opt_grid[o], view.x_lo[k], view.dx[k], view.v_lo[k], view.dv[k], x, v
        )
        return value - self.opt_base[o]
