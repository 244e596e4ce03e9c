"""The real-time risk engine: factor-space VaR, ES, L-VaR and Euler contributions.

Design for speed (see docs/architecture.md, "Risk"):

* **Factor space.** Instruments map onto a few thousand factors
  (:mod:`riskstream.risk.factors`); a portfolio's linear P&L in every scenario is one
  matrix-vector product, ``scenarios (n_scen x n_factors) @ exposures`` (numba, float32
  scenarios accumulated in float64).
* **Full revaluation of options** on a per-underlying grid of spot and vol moves
  (:mod:`riskstream.risk.grids`): each scenario reads the book's P&L off the grid.
* **Euler contributions from the tail only**: only the few hundred scenarios in the ES
  tail and the VaR neighbourhood are read, never all of them; the linear part in factor
  space (each estimator's weighted mean move times the loadings), options per scenario.
* **Incremental refresh.** A price tick re-derives only the touched instruments' loadings,
  the option grids whose underlying moved out of range or whose vols changed, and the
  P&L vectors of the underlyings it touched; only the final aggregation (one mat-vec per
  horizon, a sum over underlyings, a partial sort) is global.

Inputs arrive by injection: the universe (instruments, books, positions), the market state
(written by ``md``), the scenario set (drawn by a ``riskstream.models`` generator),
starting implied vols, the clock, and the outputs ``publish(snapshot)`` and a ``cache``
mapping.

**Live marks.** The engine owns its vols and FX rates and takes them from the market state
it reads: option quotes feed a sticky-strike implied-vol surface
(:mod:`riskstream.risk.vol_surface`; bad quotes flagged and counted), FX spot quotes give
every currency's rate to the base (:func:`riskstream.core.fx.rates_to_base`); both are
published in each snapshot (``fx_to_base``, ``marks``). American options are valued with
Barone-Adesi-Whaley on the grids (early-exercise premium in every scenario).
Same inputs give the same snapshot, bit for bit.

Bad input never yields a silent wrong number: a position on an unknown instrument, an
instrument without a price (or whose option underlying has none), an option with a
missing, zero or negative implied vol or past expiry is **excluded and listed** in the
snapshot with its reason; malformed scenarios or quantities raise :class:`InputError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

import numba
import numpy as np
import polars as pl
from scipy.special import ndtri

from riskstream.core.clock import Clock
from riskstream.core.errors import InputError
from riskstream.core.fx import rates_to_base, split_pair
from riskstream.core.instruments import ASSET_CLASSES, Universe
from riskstream.core.messages import PositionsChanged, RegimeChanged
from riskstream.core.state import MarketState
from riskstream.pricing import bond_risk, bond_yield_from_price
from riskstream.risk import euler, grids, liquidity, margin
from riskstream.risk.conditioning import (
    RegimeConditioning,
    conditioning_of,
    recolour,
    scenario_moments,
)
from riskstream.risk.config import RiskConfig
from riskstream.risk.factors import (
    ASSET_CODE,
    build_factor_space,
    epoch_days,
    key_rate_table,
    key_rate_weights,
    year_fraction,
)
from riskstream.risk.kernels import (
    linear_unit_rows,
    linear_unit_weighted,
    scenario_axpy,
    scenario_dot,
    scenario_tdot,
    weighted_rows,
)
from riskstream.risk.measures import cornish_fisher_var_es, delta_gamma_moments, normal_var_es
from riskstream.risk.scenarios import ScenarioSet
from riskstream.risk.snapshot import Contributor, Exclusion, Measure, RiskSnapshot
from riskstream.risk.valuation import REASON_CODE, Valuation
from riskstream.risk.vol_surface import VolSurface

EQUITY, FUTURE, OPTION, FX, BOND = (ASSET_CODE[a] for a in ASSET_CLASSES)
AGGREGATE_BY: tuple[str, ...] = ("asset_class", "desk", "strategy", "trader")


@contextlib.contextmanager
def _thread_scope(threads: int):
    """numba's thread count set to ``threads`` (capped by its pool) for the block; the
    setting is per calling thread and restored after."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _with_threads(method):
    """Run an engine method inside :func:`_thread_scope` of ``config.threads``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _thread_scope(self.config.threads):
            return method(self, *args, **kwargs)

    return wrapper


def _members(size: int, *arrays: np.ndarray) -> np.ndarray:
    """Sorted distinct values in ``0..size-1`` of the integer ``arrays``: a mark per value
    (O(size), no sort; union1d and unique sort or hash, which shows on every refresh)."""
    mark = np.zeros(size, dtype=bool)
    for a in arrays:
        mark[a] = True
    return np.flatnonzero(mark)


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class RiskEngine:
    """Liquidity-adjusted risk of a universe's positions, refreshed incrementally.

    Parameters
    ----------
    universe : Universe
        Instruments, books and positions (``riskstream.core.instruments``).
    market : MarketState
        Latest prices (``mid``, else ``last``), spreads and sequence numbers; the engine
        reads and clears its ``updated`` flags.
    scenarios : ScenarioSet
        Factor moves per horizon; must cover ``config.horizons_days``.
    implied_vol : ndarray of shape (n_instruments,)
        Starting implied volatility of each option (annual decimal; ignored for other
        classes), kept until the option's quotes (or its surface) give a live one.
    config : RiskConfig
    clock : Clock
        Source of the as-of time (expiries, intraday pattern, snapshot time).
    publish : callable, optional
        Called with every snapshot (e.g. a bus publisher).
    cache : mutable mapping, optional
        ``cache["risk:snapshot"]`` is set to the latest snapshot's dict.
    rates : ndarray of shape (n_instruments,), optional
        Continuously compounded rate to each option's expiry (its currency's curve); NaN
        or absent means ``config.rate``.
    """

    def __init__(
        self,
        universe: Universe,
        market: MarketState,
        scenarios: ScenarioSet,
        implied_vol: np.ndarray,
        config: RiskConfig,
        clock: Clock,
        publish: Callable[[RiskSnapshot], None] | None = None,
        cache: MutableMapping[str, Any] | None = None,
        rates: np.ndarray | None = None,
    ):
        self.config = config
        self._config_fingerprint = config.fingerprint()
        self.clock = clock
        self.market = market
        self.publish = publish
        self.cache = cache
        self.base_currency = universe.base_currency
        inst = universe.instruments
        self.instruments = inst
        self.n = n = inst.height
        if market.n_instruments != n:
            raise InputError(
                "market.n_instruments", market.n_instruments, f"{n} (the universe's size)"
            )
        missing = [h for h in config.horizons_days if h not in scenarios.shocks]
        if missing:
            raise InputError("scenarios", f"horizons {scenarios.horizons}", f"horizons {missing}")
        self.space = build_factor_space(inst, universe.base_currency)
        self._rate_table = key_rate_table(self.space, sorted(set(inst["currency"].to_list())))
        for h, s in scenarios.shocks.items():
            if s.shape[1] != self.space.n_factors:
                raise InputError(
                    f"scenarios[{h}]", f"{s.shape[1]} factors", f"{self.space.n_factors}"
                )
        self.scenarios = scenarios
        self.horizons = tuple(config.horizons_days)
        self.n_scen = scenarios.n_scenarios

        # ---- static reference arrays
        self.symbol = np.asarray(inst["symbol"].to_list(), dtype=object)
        self.asset_class = np.array([ASSET_CODE[a] for a in inst["asset_class"].to_list()])
        self.multiplier = inst["multiplier"].to_numpy().astype(np.float64)
        fx = universe.fx_to_base
        self.fx = np.array([fx[c] for c in inst["currency"].to_list()], dtype=np.float64)
        self.adv = inst["adv"].to_numpy().astype(np.float64)
        self.spread_bps = inst["spread_bps"].to_numpy().astype(np.float64)
        self.underlying = inst["underlying_id"].fill_null(-1).to_numpy().astype(np.int64)
        self.strike = inst["strike"].fill_null(np.nan).to_numpy().astype(np.float64)
        self.is_call = (inst["right"] == "C").fill_null(False).to_numpy()
        self.coupon = inst["coupon"].fill_null(0.0).to_numpy().astype(np.float64)
        self.freq = inst["coupon_frequency"].fill_null(1).to_numpy().astype(np.float64)
        self._expiry_days = epoch_days(inst["expiry"])
        self._maturity_days = epoch_days(inst["maturity"])
        currencies = sorted(set(inst["currency"].to_list()))
        self._ccy_code = np.searchsorted(currencies, inst["currency"].to_numpy())
        self.currency = inst["currency"].to_list()
        # Live FX: the universe's FX spot instruments (pairs without expiry) quote every
        # currency's value in the base currency (riskstream.core.fx.rates_to_base, cross
        # rates by the shortest chain); a currency no quoted chain reaches keeps the
        # universe's reference rate (listed in the snapshot's ``marks``).
        self._currencies = currencies
        self._fx_reference = {c: float(fx[c]) for c in currencies}
        pair = np.array([split_pair(str(sym)) is not None for sym in self.symbol], dtype=bool)
        no_expiry = inst["expiry"].is_null().to_numpy()
        self.is_fx_spot = (self.asset_class == FX) & no_expiry & pair
        self.fx_spot_ids = np.flatnonzero(self.is_fx_spot)
        self.fx_to_base, self.fx_reference_currencies = self._live_fx_rates()
        self.fx = np.array([self.fx_to_base[c] for c in self.currency], dtype=np.float64)
        self.fx_updates = 0
        # Early exercise and dividends from reference data: American options are valued
        # with Barone-Adesi-Whaley on the grids; an option on a stock or index takes its
        # underlying's ``dividend_yield`` column where given, else ``config.dividend_yield``.
        if "exercise" in inst.columns:
            self.american = (inst["exercise"] == "american").fill_null(False).to_numpy()
        else:
            self.american = np.zeros(n, dtype=bool)
        self.dividend_yield = np.full(n, config.dividend_yield)
        if "dividend_yield" in inst.columns:
            dy = inst["dividend_yield"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            self.dividend_yield = np.where(np.isfinite(dy), dy, config.dividend_yield)

        iv = np.asarray(implied_vol, dtype=np.float64)
        if iv.shape != (n,):
            raise InputError("implied_vol", f"shape {iv.shape}", f"({n},)")
        self.implied_vol = iv.copy()
        r = np.full(n, config.rate) if rates is None else np.asarray(rates, dtype=np.float64)
        if r.shape != (n,):
            raise InputError("rates", f"shape {r.shape}", f"({n},)")
        self.rate = np.where(np.isfinite(r), r, config.rate)

        # daily volatility of every factor's move (price factors: relative; vol: log)
        self.factor_vol = np.asarray(
            scenarios.shocks[min(scenarios.horizons)], dtype=np.float64
        ).std(axis=0) / np.sqrt(min(scenarios.horizons))

        # ---- options and their underlyings
        self.opt_ids = np.flatnonzero(self.asset_class == OPTION)
        self.opt_index = np.full(n, -1, dtype=np.int64)
        self.opt_index[self.opt_ids] = np.arange(self.opt_ids.size)
        und_inst = self.underlying[self.opt_ids]
        self.und_ids, self.opt_owner = np.unique(und_inst, return_inverse=True)
        self.opt_owner = self.opt_owner.astype(np.int64)
        self.on_future = np.array(
            [u >= 0 and self.asset_class[u] == FUTURE for u in und_inst], dtype=bool
        )
        n_u, nx, nv = self.und_ids.size, config.grid_spot_points, config.grid_vol_points
        self.u_spot_col = np.array(
            [self.space.spot_factor[u] if 0 <= u < n else -1 for u in self.und_ids],
            dtype=np.int64,
        )
        self.u_vol_col = np.array(
            [
                self.space.vol_factor[self.opt_ids[np.argmax(self.opt_owner == k)]]
                for k in range(n_u)
            ],
            dtype=np.int64,
        )
        self.u_x_lo = np.zeros(n_u)
        self.u_dx = np.ones(n_u)
        self.u_v_lo = np.zeros(n_u)
        self.u_dv = np.ones(n_u)
        self.u_x_now = np.zeros(n_u)
        self.u_spot_build = np.full(n_u, np.nan)
        self.u_margin = np.zeros(n_u)
        self.u_base = np.zeros(n_u)
        self.u_grid = np.zeros((n_u, nx, nv))
        self.u_pnl = {h: np.zeros((n_u, self.n_scen)) for h in self.horizons}
        self.opt_grid = np.zeros((self.opt_ids.size, nx, nv))
        self.opt_base = np.zeros(self.opt_ids.size)
        self.opt_built_ok = np.zeros(self.opt_ids.size, dtype=bool)
        self.opt_expiry = np.zeros(self.opt_ids.size)
        und_ok = (und_inst >= 0) & (und_inst < n)
        self.opt_q = np.where(
            und_ok, self.dividend_yield[np.clip(und_inst, 0, max(n - 1, 0))], config.dividend_yield
        )
        self.opt_american = self.american[self.opt_ids]
        self.opt_vol_built = np.full(self.opt_ids.size, np.nan)  # vol each grid was built at
        self.grid_builds = 0  # underlyings' grids (re)built, every cause
        self.vol_rebuilds = 0  # of which because the live vols moved past the threshold
        self.vol_moves = 0  # refreshes in which some option's live vol moved
        # Live implied vols (riskstream.risk.vol_surface): the engine owns this surface and
        # feeds it the option quotes of the market state it reads.
        self.vols = VolSurface(
            self.opt_owner,
            np.nan_to_num(self._expiry_days[self.opt_ids]).astype(np.int64),
            self.strike[self.opt_ids],
            self.is_call[self.opt_ids],
            self.opt_american,
            self.on_future,
            self.implied_vol[self.opt_ids],
            int(config.vol_quote_stale_s * 1e9),
        )
        self._base_scenarios = scenarios
        self._use_scenarios(scenarios)
        # SPAN's scan ranges are the exchange's parameters: set once from the unconditional
        # factor vols, they do not follow the engine's own regime conditioning
        self._span_setup()

        # ---- dynamic per-instrument state
        self.price = np.full(n, np.nan)
        self.reason = np.full(n, "", dtype=object)  # "" = valid
        self.lin_f = np.full((n, 3), -1, dtype=np.int64)
        self.lin_s = np.zeros((n, 3))
        self.unit_value = np.zeros(n)  # market value (futures: notional) per unit, base ccy
        self.unit_delta = np.zeros(n)  # base ccy per unit relative move of the spot factor
        self.unit_gamma = np.zeros(n)
        self.unit_vega = np.zeros(n)  # per 1.00 of vol
        self.unit_dv01 = np.zeros(n)  # per basis point
        self.bond_yield = np.full(n, np.nan)  # yield to maturity solved from the price
        self.unit_sigma = np.zeros(n)  # daily price vol per unit, base ccy

        self._exposure = np.zeros(self.space.n_factors)
        self.lin_pnl = {h: np.zeros(self.n_scen) for h in self.horizons}
        self._refreshes = 0
        self._margin: tuple[float, float] | None = None  # SPAN (normal, stressed), cached
        # Regime conditioning (riskstream.risk.conditioning): the moments it needs are
        # computed once, here, so that a switch is a single sweep.
        self.regime_conditioning: RegimeConditioning | None = None
        self._scenario_moments = (
            scenario_moments(scenarios, self.space.kind) if config.regime_conditional else None
        )
        self._inbox: deque[PositionsChanged | RegimeChanged] = deque()
        self.positions_version = 0  # the keeper's version in force (0: the universe's)
        self.set_positions(universe.positions, universe.books, rebuild=False)
        with _thread_scope(config.threads):
            self._refresh_vols(self.opt_ids, self._as_of(), int(clock.now_ns()))
            self._update_instruments(np.arange(n), as_of=self._as_of())
            self._sync_linear(full=True)
        self.last_snapshot: RiskSnapshot | None = None
        self.last_refresh_ns: int | None = None
        # counters of the live marks count from here: the build is not a market move
        self.vol_moves = self.vol_rebuilds = self.grid_builds = 0

    def _use_scenarios(self, scenarios: ScenarioSet) -> None:
        """Adopt a scenario set and derive what is fixed for it: the option grids' axes,
        each underlying's scenario coordinates and vol-axis cells, the factor vols.
        Instrument state (grids, loadings, P&L vectors) is rebuilt by the caller."""
        self.scenarios = scenarios
        n_u, nv = self.und_ids.size, self.config.grid_vol_points
        self._u_ranges()
        # Each underlying's scenario coordinates, fixed for the scenario set: the spot's log
        # move and the vol factor's log move, (n_underlyings, n_scenarios) per horizon.
        self.u_spot_move, self.u_vol_move = {}, {}
        for h in self.horizons:
            sh = scenarios.shocks[h]
            zeros = np.zeros(self.n_scen)
            self.u_spot_move[h] = np.array(
                [
                    np.log1p(sh[:, c].astype(np.float64)) if c >= 0 else zeros
                    for c in self.u_spot_col
                ]
            ).reshape(n_u, self.n_scen)
            self.u_vol_move[h] = np.array(
                [sh[:, c].astype(np.float64) if c >= 0 else zeros for c in self.u_vol_col]
            ).reshape(n_u, self.n_scen)

        # Vol-axis cells and weights of every scenario (axes and moves are fixed).
        self.u_vol_cell, self.u_vol_w = {}, {}
        for h in self.horizons:
            self.u_vol_cell[h] = np.empty((n_u, self.n_scen), dtype=np.int64)
            self.u_vol_w[h] = np.empty((n_u, self.n_scen, 4))
            grids.vol_cells(
                self.u_v_lo, self.u_dv, nv, self.u_vol_move[h], self.u_vol_cell[h], self.u_vol_w[h]
            )
        self.factor_vol = np.asarray(
            scenarios.shocks[min(scenarios.horizons)], dtype=np.float64
        ).std(axis=0) / np.sqrt(min(scenarios.horizons))

    @_with_threads
    # ------------------------------------------------------------------ inbox

    def send(self, message: PositionsChanged | RegimeChanged) -> None:
        """Queue a message for the engine (any thread): the engine applies it at the top
        of its next refresh, on its own thread. This is the only way other stages change
        what the engine values: the position keeper's :class:`PositionsChanged`, the
        regime stage's :class:`RegimeChanged`."""
        if not isinstance(message, PositionsChanged | RegimeChanged):
            raise InputError("message", type(message).__name__, "PositionsChanged or RegimeChanged")
        self._inbox.append(message)

    def _drain_inbox(self) -> None:
        """Apply the queued messages in order (the newest positions version wins)."""
        while self._inbox:
            message = self._inbox.popleft()
            if isinstance(message, PositionsChanged):
                if message.version > self.positions_version:
                    self._apply_positions(message)
            else:
                self.condition_on_regime(conditioning_of(message))

    def _apply_positions(self, message: PositionsChanged) -> None:
        positions = pl.DataFrame(
            {
                "book_id": message.book_id,
                "instrument_id": message.instrument_id,
                "quantity": message.quantity,
            }
        )
        books = pl.DataFrame({k: np.asarray(v) for k, v in message.books.items()})
        self.set_positions(positions, books)
        self.positions_version = message.version

    def condition_on_regime(self, conditioning: RegimeConditioning | None) -> None:
        """Switch to a regime's volatility and correlation, or back (``None``).

        The factor scenarios are recoloured to covariance :math:`s^2 D R(\\theta) D`
        (:func:`riskstream.risk.conditioning.recolour`; an identity conditioning is
        ``None``) and everything derived from them is rebuilt: option grids and their axes,
        factor vols, the linear P&L vectors in full (a switch costs about one engine build's
        option revaluation; it happens when the detected regime changes, not every tick).
        Back to ``None`` the original scenario set is used again: the figures are those of
        an engine freshly built on the same market state, bit for bit. The next snapshot
        records the conditioning in force. Switching to the one in force does nothing.

        Raises
        ------
        InputError
            ``risk.regime_conditional`` is off.
        """
        if self._scenario_moments is None:
            raise InputError(
                "risk.regime_conditional", False, "true to condition the scenarios on a regime"
            )
        if conditioning is not None and conditioning.is_identity:
            conditioning = None
        if conditioning == self.regime_conditioning:
            return
        self.scenarios = self._base_scenarios  # drop the old recoloured set before the new
        new = (
            self._base_scenarios
            if conditioning is None
            else recolour(self._base_scenarios, self._scenario_moments, conditioning)
        )
        self._use_scenarios(new)
        self.regime_conditioning = conditioning
        self._margin = None  # a full rebuild: margin at today's prices too, as a new engine
        self._update_instruments(np.arange(self.n), as_of=self._as_of(), force_grid=True)
        self._sync_linear(full=True)

    # ------------------------------------------------------------------ positions

    @_with_threads
    def set_positions(self, positions: pl.DataFrame, books: pl.DataFrame, rebuild: bool = True):
        """Replace the positions (and books). Unknown instruments are excluded and listed.

        Raises
        ------
        InputError
            A quantity is NaN or infinite.
        """
        pos_inst = positions["instrument_id"].to_numpy().astype(np.int64)
        qty = positions["quantity"].to_numpy().astype(np.float64)
        book = positions["book_id"].to_numpy().astype(np.int64)
        bad = np.flatnonzero(~np.isfinite(qty))
        if bad.size:
            raise InputError(
                "quantity", float(qty[bad[0]]), f"a finite quantity (position row {bad[0]})"
            )
        known = (pos_inst >= 0) & (pos_inst < self.n)
        self.unknown = tuple(
            Exclusion(int(b), int(i), "unknown instrument")
            for b, i in zip(book[~known], pos_inst[~known], strict=True)
        )
        self.pos_inst, self.pos_qty, self.pos_book = pos_inst[known], qty[known], book[known]
        self.qty = np.bincount(self.pos_inst, weights=self.pos_qty, minlength=self.n)
        self.positions_digest = _digest(self.pos_inst, self.pos_qty, self.pos_book)
        # Labels per position for aggregation.
        bk = books.select("book_id", "desk", "strategy", "trader")
        lookup = {r[0]: r[1:] for r in bk.iter_rows()}
        rows = [lookup.get(int(b), ("(unassigned)",) * 3) for b in self.pos_book]
        self.pos_labels = {
            "asset_class": np.array([ASSET_CLASSES[c] for c in self.asset_class[self.pos_inst]]),
            "desk": np.array([r[0] for r in rows], dtype=str),
            "strategy": np.array([r[1] for r in rows], dtype=str),
            "trader": np.array([r[2] for r in rows], dtype=str),
        }
        self._encode_labels()
        self._margin = None
        if rebuild:
            self._option_greeks(np.arange(self.und_ids.size))
            self._rebuild_books(np.arange(self.und_ids.size))
            self._sync_linear(full=True)

    def _encode_labels(self) -> None:
        """Integer codes of each position's aggregation labels (aggregation is a bincount)."""
        self._label_codes = {}
        for by, labels in self.pos_labels.items():
            names, codes = np.unique(labels, return_inverse=True)
            self._label_codes[by] = (names, codes)

    def _sync_linear(self, full: bool = False) -> None:
        """Bring the linear scenario P&L up to date with the exposures.

        Only factors whose exposure changed are swept (``pnl += moves[:, f] * change``),
        unless more factors changed than have exposure (a sweep costs one column read per
        factor either way); ``full`` (and every ``config.full_recompute_every`` refreshes)
        recomputes from scratch over the factors with exposure.
        """
        new = self.exposures()
        delta = new - self._exposure
        changed = np.flatnonzero(delta)
        if not full and changed.size == 0:
            return
        nz = np.flatnonzero(new)
        if full or changed.size >= nz.size:
            for h in self.horizons:
                scenario_dot(self.scenarios.shocks[h], new, nz, self.lin_pnl[h])
        else:
            for h in self.horizons:
                scenario_axpy(self.scenarios.shocks[h], delta, changed, self.lin_pnl[h])
        self._exposure = new

    @_with_threads
    def apply_trade(self, book_id: int, instrument_id: int, quantity: float) -> None:
        """Add ``quantity`` of an instrument to a book (a new position if needed)."""
        if not (0 <= instrument_id < self.n):
            raise InputError("instrument_id", instrument_id, f"an id in 0..{self.n - 1}")
        if not np.isfinite(quantity):
            raise InputError("quantity", quantity, "a finite quantity")
        hit = np.flatnonzero((self.pos_inst == instrument_id) & (self.pos_book == book_id))
        if hit.size:
            self.pos_qty[hit[0]] += quantity
        else:
            self.pos_inst = np.append(self.pos_inst, instrument_id)
            self.pos_qty = np.append(self.pos_qty, quantity)
            self.pos_book = np.append(self.pos_book, book_id)
            for key, labels in self.pos_labels.items():
                same = np.flatnonzero(self.pos_book[:-1] == book_id)
                if key == "asset_class":
                    new = ASSET_CLASSES[self.asset_class[instrument_id]]
                else:
                    new = labels[same[0]] if same.size else "(unassigned)"
                self.pos_labels[key] = np.append(labels, new)
            self._encode_labels()
        self.qty[instrument_id] += quantity
        self.positions_digest = _digest(self.pos_inst, self.pos_qty, self.pos_book)
        if self.asset_class[instrument_id] in (FUTURE, OPTION):
            self._margin = None  # the derivatives book changed: SPAN again
        k = self.opt_index[instrument_id]
        if k >= 0:
            self._option_greeks(np.array([self.opt_owner[k]]))
            self._rebuild_books(np.array([self.opt_owner[k]]))
        self._sync_linear()

    # ------------------------------------------------------------------ updates

    def _as_of(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock.now_ns() / 1e9, tz=dt.UTC).date()

    def _span_setup(self) -> None:
        """SPAN's 16 scenarios, normal and stressed, for :meth:`span_margin`.

        Columns 0-15 are CME's scenarios (:func:`riskstream.risk.margin.span_scenarios`) with
        the normal scan ranges, 16-31 the same with every range ``stress_multiplier`` times
        wider. A combined commodity is one spot risk factor; its price scan range is
        :func:`~riskstream.risk.margin.price_scan_range` of the factor's daily volatility
        (a relative move), its volatility scan range the same for its implied-vol factor,
        applied to each option's own vol (:math:`\\sigma_i (1 \\pm VSR)`). The distinct
        price and vol moves (9 and 3 per set) form the small grid each option book is
        revalued on; ``_span_ix``/``_span_iv`` pick every scenario's node.
        """
        mc = self.config.liquidity.margin
        table = margin.span_scenarios(mc.extreme_multiple, mc.extreme_cover)
        widen = np.repeat([1.0, mc.stress_multiplier], 16)
        self._span_price = np.tile(table[:, 0], 2) * widen  # in price scan ranges
        self._span_vol = np.tile(table[:, 1], 2) * widen  # in vol scan ranges
        self._span_cover = np.tile(table[:, 2], 2)
        self._span_range = margin.price_scan_range(
            self.factor_vol, mc.coverage_sigmas, mc.margin_period_days
        )  # per factor
        self._span_px, self._span_ix = np.unique(self._span_price, return_inverse=True)
        self._span_vx, self._span_iv = np.unique(self._span_vol, return_inverse=True)

    @_with_threads
    def span_margin(self) -> tuple[float, float]:
        """SPAN initial margin of the futures and options held: (normal, stressed), base ccy.

        Per combined commodity (spot risk factor) the losses of its futures (linear: notional
        times the scenario's relative move) and of its option books are netted scenario by
        scenario; the scan risk is the worst covered loss
        (:func:`riskstream.risk.margin.scan_risk_by_group`), and the requirement is the sum
        over commodities (no inter-commodity credit: conservative). Options are revalued in
        full (Black-Scholes-Merton / Black-76, the pricing package's grid kernel) on the
        scan's own small grid, with ``margin_period_days`` of time decay as in CME's risk
        arrays (:func:`riskstream.risk.margin.option_risk_array`) — not read off the VaR
        grids, whose range is set by the VaR scenarios and may not reach the stressed
        extreme moves.

        Not modelled (documented simplifications): inter-month spread charges (all delivery
        months of a futures sector share one factor, so they net fully), the short option
        minimum and the net option value credit. Cost: one vectorised pass over the held
        futures, one small pricing-kernel call per held underlying.
        """
        valid = self.reason == ""
        fut = np.flatnonzero((self.asset_class == FUTURE) & (self.qty != 0) & valid)
        fut = fut[self.space.spot_factor[fut] >= 0]
        group_f = self.space.spot_factor[fut]
        notional = self.qty[fut] * self.unit_value[fut]
        loss_f = -(notional[:, None] * self._span_range[group_f][:, None]) * self._span_price
        held_opt = (self.qty[self.opt_ids] != 0) & valid[self.opt_ids]
        opts = np.flatnonzero(held_opt)
        opts = opts[np.argsort(self.opt_owner[opts], kind="stable")]
        us, starts = np.unique(self.opt_owner[opts], return_index=True)
        ends = np.append(starts[1:], opts.size)
        keep = self.u_spot_col[us] >= 0
        loss_o = np.zeros((us.size, self._span_price.size))
        for j in np.flatnonzero(keep):
            loss_o[j] = self._span_book_loss(int(us[j]), opts[starts[j] : ends[j]])
        losses = np.vstack([loss_f, loss_o[keep]]) * self._span_cover
        group = np.concatenate([group_f, self.u_spot_col[us[keep]]])
        _, normal = margin.scan_risk_by_group(losses[:, :16], group)
        _, stressed = margin.scan_risk_by_group(losses[:, 16:], group)
        return float(normal.sum()), float(stressed.sum())

    def _span_book_loss(self, k: int, opts: np.ndarray) -> np.ndarray:
        """Loss (positive) of the held options ``opts`` (option indices) of underlying ``k``
        in the 32 SPAN scenarios: value now minus value after the scenario's move and the
        look-ahead of ``margin_period_days``."""
        mc = self.config.liquidity.margin
        ids = self.opt_ids[opts]
        spot = np.full(ids.size, self.price[self.und_ids[k]])
        psr = self._span_range[self.u_spot_col[k]]
        vc = self.u_vol_col[k]
        vsr = self._span_range[vc] if vc >= 0 else 0.0
        x_axis = np.log(np.maximum(1.0 + self._span_px * psr, 1e-6))
        v_axis = np.log(np.maximum(1.0 + self._span_vx * vsr, 1e-6))
        strike, vol = self.strike[ids], self.implied_vol[ids]
        is_call, on_future = self.is_call[ids], self.on_future[opts]
        unit, rate = self.multiplier[ids] * self.fx[ids], self.rate[ids]
        q_div, american = self.opt_q[opts], self.opt_american[opts]
        expiry = self.opt_expiry[opts]
        ahead = np.maximum(expiry - mc.margin_period_days / 365.0, 0.0)
        zero = np.zeros(1)
        now = grids.build_option_grids(
            spot, zero, zero, strike, expiry, vol, is_call, on_future, unit, rate, q_div, american
        )[:, 0, 0]
        later = grids.build_option_grids(
            spot, x_axis, v_axis, strike, ahead, vol, is_call, on_future, unit, rate, q_div,
            american,
        )  # fmt: skip
        q = self.qty[ids]
        book = np.tensordot(q, later, axes=1)  # (n_price_moves, n_vol_moves)
        return float(q @ now) - book[self._span_ix, self._span_iv]

    def _u_ranges(self) -> None:
        """Grid axes per underlying from the widest scenario moves of its factors."""
        m = self.config.grid_margin
        nx, nv = self.config.grid_spot_points, self.config.grid_vol_points
        for k in range(self.und_ids.size):
            sc, vc = self.u_spot_col[k], self.u_vol_col[k]
            x_max, v_max = 0.05, 0.05
            for s in self.scenarios.shocks.values():
                if sc >= 0:
                    x_max = max(x_max, float(np.abs(np.log1p(s[:, sc].astype(np.float64))).max()))
                if vc >= 0:
                    v_max = max(v_max, float(np.abs(s[:, vc]).max()))
            x_max += m
            self.u_margin[k] = m
            self.u_x_lo[k], self.u_dx[k] = -x_max, 2 * x_max / (nx - 1)
            self.u_v_lo[k], self.u_dv[k] = -v_max * 1.01, 2 * v_max * 1.01 / (nv - 1)

    def _update_instruments(
        self,
        ids: np.ndarray,
        as_of: dt.date,
        force_grid: bool = False,
        rebuild_us: np.ndarray | None = None,
        books_us: np.ndarray | None = None,
    ):
        """Re-derive prices, validity and loadings of ``ids`` and everything depending on them.

        ``rebuild_us``: underlyings whose grids are rebuilt (their live vols moved past the
        threshold); ``books_us``: underlyings whose Greeks and books are recomputed on their
        grids as they are (an FX rate rescaled them). Returns the underlyings whose Greeks
        and books were recomputed (None when nothing was touched)."""
        ids = np.asarray(ids, dtype=np.int64)
        rebuild_us = np.empty(0, np.int64) if rebuild_us is None else rebuild_us
        books_us = np.empty(0, np.int64) if books_us is None else books_us
        if ids.size == 0:
            extra = _members(self.und_ids.size, rebuild_us, books_us)
            if extra.size:
                self._update_underlyings(extra, False, rebuild_us)
            return extra
        # Options whose underlying changed are touched too; their books are revalued. An
        # option's own quote does not move its model value: its book is revalued only if
        # its validity changes (or a grid rebuild is forced).
        touched_ids = np.zeros(self.n + 1, dtype=bool)  # last slot: no underlying (-1)
        touched_ids[ids] = True
        moved_books = np.flatnonzero(touched_ids[self.und_ids])
        if self.opt_ids.size:
            dep = self.opt_ids[touched_ids[self.underlying[self.opt_ids]]]
            ids = _members(self.n, ids, dep)
        was_valid = self.reason[ids] == ""
        mid, last = self.market.mid[ids], self.market.last[ids]
        price = np.where(np.isfinite(mid) & (mid > 0), mid, last)
        self.price[ids] = price
        ac = self.asset_class[ids]
        reason = np.where(np.isfinite(price) & (price > 0), "", "missing price").astype(object)
        m_fx = self.multiplier[ids] * self.fx[ids]
        value = np.nan_to_num(price) * m_fx

        lin_f = np.full((ids.size, 3), -1, dtype=np.int64)
        lin_s = np.zeros((ids.size, 3))
        spot = self.space.spot_factor[ids]
        ccy = self.space.currency_factor[ids]
        linear = (ac == EQUITY) | (ac == FUTURE)
        lin_f[linear, 0] = spot[linear]
        lin_s[linear, 0] = value[linear]
        is_fx = ac == FX
        lin_f[is_fx, 0] = self.space.fx_base_factor[ids][is_fx]
        lin_s[is_fx, 0] = value[is_fx]
        lin_f[is_fx, 1] = self.space.fx_quote_factor[ids][is_fx]
        lin_s[is_fx, 1] = -value[is_fx]
        # Translation risk: a foreign-currency holding's value moves with its currency. A
        # future has no value to translate (its daily P&L is settled), so none for futures.
        translated = ~is_fx & (ac != FUTURE)
        lin_f[translated, 2] = ccy[translated]
        lin_s[translated, 2] = value[translated]
        unit_delta = np.where(linear | is_fx, value, 0.0)
        unit_sigma = np.abs(value) * np.where(spot >= 0, self.factor_vol[np.maximum(spot, 0)], 0.0)
        dv01 = np.zeros(ids.size)

        bond = np.flatnonzero(ac == BOND)
        if bond.size:
            bi = ids[bond]
            mat = year_fraction(self._maturity_days[bi], as_of)
            ok = (mat > 0) & (reason[bond] == "")
            matured = bond[~(mat > 0)]
            reason[matured[reason[matured] == ""]] = "matured bond"
            if ok.any():
                b = bi[ok]
                p = self.price[b]
                y = bond_yield_from_price(p, self.coupon[b], mat[ok], self.freq[b])
                solved = np.isfinite(y)
                reason[bond[ok][~solved]] = "bond yield not solvable from its price"
                y = np.where(solved, y, self.coupon[b])
                self.bond_yield[b] = np.where(solved, y, np.nan)
                # -dP/dy per 100 face per unit of yield (DV01 is per basis point)
                d = bond_risk(y, self.coupon[b], mat[ok], self.freq[b]).dv01 * 1e4 * solved
                sens = -d * self.multiplier[b] * self.fx[b]
                factors, weights = key_rate_weights(mat[ok], self._ccy_code[b], self._rate_table)
                rows = bond[ok]
                lin_f[rows, 0:2] = factors
                lin_s[rows, 0:2] = sens[:, None] * weights
                dv01[rows] = d * self.multiplier[b] * self.fx[b] * 1e-4
                rate_vol = (self.factor_vol[factors] * weights).sum(axis=1)
                unit_sigma[rows] = np.abs(sens) * rate_vol

        opt = np.flatnonzero(ac == OPTION)
        if opt.size:
            oi = ids[opt]
            und = self.underlying[oi]
            bad_und = (und < 0) | (und >= self.n)
            und_price = np.where(bad_und, np.nan, self.price[np.clip(und, 0, self.n - 1)])
            vol = self.implied_vol[oi]
            expiry = year_fraction(self._expiry_days[oi], as_of)
            r = reason[opt]
            r[(r == "") & ~(np.isfinite(und_price) & (und_price > 0))] = "missing underlying price"
            no_spot = self.u_spot_col[self.opt_owner[self.opt_index[oi]]] < 0
            r[(r == "") & no_spot] = "underlying without a spot risk factor"
            r[(r == "") & ~(expiry > 0)] = "expired option"
            r[(r == "") & ~np.isfinite(vol)] = "missing implied volatility"
            r[(r == "") & (vol < 0)] = "negative volatility"
            r[(r == "") & (vol == 0)] = "zero volatility"
            reason[opt] = r
            k = self.opt_index[oi]
            self.opt_expiry[k] = np.where(expiry > 0, expiry, 0.0)
            lin_s[opt, 2] = np.where(ccy[opt] >= 0, value[opt], 0.0)

        reason_all = reason
        flipped_deriv = ((reason_all == "") != was_valid) & ((ac == FUTURE) | (ac == OPTION))
        if np.any(flipped_deriv & (self.qty[ids] != 0)):
            self._margin = None  # a held derivative became (in)valid: SPAN again
        lin_f[reason_all != "", :] = -1
        lin_s[reason_all != "", :] = 0.0
        self.reason[ids] = reason_all
        self.lin_f[ids] = lin_f
        self.lin_s[ids] = lin_s
        self.unit_value[ids] = np.where(reason_all == "", value, 0.0)
        opt_now = ids[ac == OPTION]
        self.unit_value[opt_now] = self.opt_base[self.opt_index[opt_now]]  # model value
        not_opt = ids[ac != OPTION]  # option Greeks come from the pricer in _option_greeks
        keep = (reason_all == "")[ac != OPTION]
        self.unit_delta[not_opt] = np.where(keep, unit_delta[ac != OPTION], 0.0)
        self.unit_sigma[not_opt] = np.where(keep, unit_sigma[ac != OPTION], 0.0)
        self.unit_dv01[ids] = dv01

        if opt.size:
            oi = ids[opt]
            flipped = oi[(reason_all[opt] == "") != was_valid[opt]]
            owners = self.opt_owner[self.opt_index[oi if force_grid else flipped]]
            touched = np.union1d(moved_books, owners)
        else:
            touched = moved_books
        touched = _members(self.und_ids.size, touched, rebuild_us, books_us)
        if touched.size:
            self._update_underlyings(touched, force_grid, rebuild_us)
        return touched

    def _update_underlyings(
        self, us: np.ndarray, force_grid: bool, rebuild_us: np.ndarray | None = None
    ) -> None:
        """Move the spot of underlyings ``us``; rebuild grids out of range, forced, or in
        ``rebuild_us`` (live vols moved)."""
        us = np.asarray(us, dtype=np.int64)
        vol_moved = set() if rebuild_us is None else set(rebuild_us.tolist())
        for k in us:
            u = self.und_ids[k]
            spot = self.price[u] if 0 <= u < self.n else np.nan
            if not np.isfinite(spot) or spot <= 0:
                continue
            mine = self.opt_owner == k
            newly_valid = (self.reason[self.opt_ids[mine]] == "") & ~self.opt_built_ok[mine]
            x_now = np.log(spot / self.u_spot_build[k]) if np.isfinite(self.u_spot_build[k]) else 0
            if (
                force_grid
                or not np.isfinite(self.u_spot_build[k])
                or newly_valid.any()
                or abs(x_now) > 0.5 * self.u_margin[k]
            ):
                self._build_grid(int(k))
            elif int(k) in vol_moved:
                self._build_grid(int(k))
                self.vol_rebuilds += 1
            else:
                self.u_x_now[k] = x_now
        self._option_greeks(us)
        self._rebuild_books(us)

    def _build_grid(self, k: int) -> None:
        """Price the options of underlying ``k`` on its grid (full revaluation)."""
        cfg = self.config
        u = self.und_ids[k]
        spot = self.price[u]
        self.u_spot_build[k] = spot
        self.u_x_now[k] = 0.0
        opts = np.flatnonzero(self.opt_owner == k)
        ids = self.opt_ids[opts]
        x_axis = self.u_x_lo[k] + self.u_dx[k] * np.arange(cfg.grid_spot_points)
        v_axis = self.u_v_lo[k] + self.u_dv[k] * np.arange(cfg.grid_vol_points)
        ok = self.reason[ids] == ""
        vol = np.where(ok, self.implied_vol[ids], 0.2)
        expiry = np.where(ok, self.opt_expiry[opts], 1.0)
        g = grids.build_option_grids(
            np.full(opts.size, spot),
            x_axis,
            v_axis,
            np.nan_to_num(self.strike[ids], nan=spot),
            expiry,
            vol,
            self.is_call[ids],
            self.on_future[opts],
            self.multiplier[ids] * self.fx[ids],
            self.rate[ids],
            self.opt_q[opts],
            self.opt_american[opts],
        )
        g[~ok] = 0.0
        self.opt_grid[opts] = g
        self.opt_built_ok[opts] = ok
        self.opt_vol_built[opts] = np.where(ok, vol, np.nan)
        self.grid_builds += 1

    def _option_greeks(self, us: np.ndarray) -> None:
        """Per-unit dollar delta, dollar gamma and vega of the options of underlyings ``us``
        at the current spot (pricing package's Greeks at the live vols, one batched call)."""
        # Greeks feed the held book's aggregates, funding and impact: held options only
        # (a trade on another option recomputes its underlying's, see apply_trade).
        opts = np.flatnonzero(np.isin(self.opt_owner, us) & (self.qty[self.opt_ids] != 0))
        if opts.size == 0:
            return
        ids = self.opt_ids[opts]
        und = self.und_ids[self.opt_owner[opts]]
        spot = np.where(
            (und >= 0) & (und < self.n), self.price[np.clip(und, 0, self.n - 1)], np.nan
        )
        ok = (self.reason[ids] == "") & np.isfinite(spot)
        spot = np.where(ok, spot, 1.0)
        vol = np.where(ok, self.implied_vol[ids], 0.2)
        expiry = np.where(ok, self.opt_expiry[opts], 1.0)
        strike = np.where(ok, self.strike[ids], 1.0)
        unit = self.multiplier[ids] * self.fx[ids] * ok

        delta, gamma, vega = grids.option_greeks(
            spot,
            strike,
            expiry,
            self.rate[ids],
            self.opt_q[opts],
            vol,
            self.is_call[ids],
            self.on_future[opts],
            self.opt_american[opts],
        )
        self.unit_delta[ids] = unit * delta * spot  # S dV/dS: per unit relative move
        self.unit_gamma[ids] = unit * gamma * spot * spot  # S^2 d2V/dS2
        self.unit_vega[ids] = unit * vega
        sc = self.u_spot_col[self.opt_owner[opts]]
        self.unit_sigma[ids] = np.abs(self.unit_delta[ids]) * np.where(
            sc >= 0, self.factor_vol[np.maximum(sc, 0)], 0.0
        )

    def _rebuild_books(self, us: np.ndarray) -> None:
        """Quantity-weighted book grids, values now and scenario P&L of underlyings ``us``."""
        us = np.asarray(us, dtype=np.int64)
        if us.size == 0 or self.opt_ids.size == 0:
            return
        q_opt = self.qty[self.opt_ids] * (self.reason[self.opt_ids] == "")
        for k in us:
            opts = np.flatnonzero((self.opt_owner == k) & (q_opt != 0))
            self.u_grid[k] = np.tensordot(q_opt[opts], self.opt_grid[opts], axes=1)
        opts = np.flatnonzero(np.isin(self.opt_owner, us))
        grids.values_now(
            self.opt_grid,
            opts,
            self.opt_owner,
            self.u_x_lo,
            self.u_dx,
            self.u_v_lo,
            self.u_dv,
            self.u_x_now,
            self.opt_base,
        )
        self.unit_value[self.opt_ids[opts]] = self.opt_base[opts]
        base = np.empty(self.und_ids.size)
        grids.values_now(
            self.u_grid,
            us,
            np.arange(self.und_ids.size),
            self.u_x_lo,
            self.u_dx,
            self.u_v_lo,
            self.u_dv,
            self.u_x_now,
            base,
        )
        self.u_base[us] = base[us]
        held = us[np.abs(self.u_grid[us]).reshape(us.size, -1).max(axis=1) > 0]
        for h in self.horizons:
            self.u_pnl[h][us] = 0.0
            if held.size:
                out = np.empty((held.size, self.n_scen))
                grids.underlying_pnl(
                    self.u_grid,
                    held,
                    self.u_x_lo,
                    self.u_dx,
                    self.u_v_lo,
                    self.u_dv,
                    self.u_x_now,
                    self.u_base,
                    self.u_spot_move[h],
                    self.u_vol_move[h],
                    self.u_vol_cell[h],
                    self.u_vol_w[h],
                    out,
                )
                self.u_pnl[h][held] = out

    # ------------------------------------------------------------------ refresh

    @_with_threads
    def refresh(self, now_ns: int | None = None) -> RiskSnapshot:
        """Apply queued messages and market changes since the last refresh, recompute and
        publish a snapshot."""
        self._drain_inbox()
        changed = self.market.take_updated()
        as_of = self._as_of()
        ts = int(self.clock.now_ns() if now_ns is None else now_ns)
        # FX first (it rescales option grids), then the vols (solved at the new spots)
        fx_ids, fx_books = self._refresh_fx(changed)
        vol_ids, rebuild_us, vol_greeks = self._refresh_vols(changed, as_of, ts)
        ids = _members(self.n, changed, fx_ids, vol_ids)
        if ids.size or rebuild_us.size or fx_books.size:
            done = self._update_instruments(ids, as_of, rebuild_us=rebuild_us, books_us=fx_books)
            if done is not None and done.size:  # their Greeks are already at the live vols
                vol_greeks = vol_greeks[~np.isin(vol_greeks, done)]
        if vol_greeks.size:
            # vols moved less than the rebuild threshold: the grids (and so the scenario
            # P&L) stay, the Greeks follow the live vols
            self._option_greeks(vol_greeks)
        self._refreshes += 1
        full = self._refreshes % self.config.full_recompute_every == 0
        self._sync_linear(full=full)
        if full:
            # SPAN margin is recomputed on full refreshes and when the derivatives book or
            # its validity changes, not on every tick (clearing houses margin a few times a
            # day); the variation margin follows the scenario's losses at every refresh
            self._margin = None
        snap = self.compute(now_ns)
        self.last_snapshot = snap
        self.last_refresh_ns = snap.ts_ns
        if self.publish is not None:
            self.publish(snap)
        if self.cache is not None:
            self.cache["risk:snapshot"] = snap.as_dict()
        return snap

    def _live_fx_rates(self) -> tuple[dict[str, float], tuple[str, ...]]:
        """Each currency's value in the base currency from the FX spot quotes of the market
        state (mid, else last), and the currencies left on their reference rates."""
        ids = self.fx_spot_ids
        mid, last = self.market.mid[ids], self.market.last[ids]
        px = np.where(np.isfinite(mid) & (mid > 0), mid, last)
        prices = {str(sym): float(p) for sym, p in zip(self.symbol[ids], px, strict=True)}
        base = self.base_currency
        try:
            return rates_to_base(prices, self._currencies, base), ()
        except InputError:  # some currency unreachable: it alone keeps its reference rate
            out, reference = {}, []
            for c in self._currencies:
                try:
                    out[c] = rates_to_base(prices, [c], base)[c]
                except InputError:
                    out[c] = self._fx_reference[c]
                    reference.append(c)
            return out, tuple(reference)

    def _refresh_fx(self, changed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Follow the FX spot quotes: when one moved, every currency's rate is re-derived,
        and the instruments of the currencies whose rate changed are translated again.

        Translation is done in place: every per-unit base-currency quantity of an
        instrument (loadings, value, delta, gamma, vega, DV01, daily sigma; option grids and
        their values now) is linear in its currency's rate, so it is multiplied by the rate
        ratio, and so are the option books (grid, value now, scenario P&L) of underlyings
        whose options are all in that currency — no repricing. Instruments whose own price
        moved in the same refresh are re-derived from scratch by the caller anyway.
        Returns the instruments to re-derive (none) and the option underlyings whose books
        must be recomputed (those with options in several currencies)."""
        none = np.empty(0, dtype=np.int64)
        if self.fx_spot_ids.size == 0 or not self.is_fx_spot[changed].any():
            return none, none
        rates, reference = self._live_fx_rates()
        new_by_code = np.array([rates[c] for c in self._currencies])
        old_by_code = np.array([self.fx_to_base[c] for c in self._currencies])
        self.fx_to_base, self.fx_reference_currencies = rates, reference
        moved = np.flatnonzero(new_by_code != old_by_code)
        if moved.size == 0:
            return none, none
        self.fx_updates += 1
        code_ratio = np.ones(len(self._currencies))
        code_ratio[moved] = new_by_code[moved] / old_by_code[moved]
        ids = np.flatnonzero(np.isin(self._ccy_code, moved))
        ratio = code_ratio[self._ccy_code[ids]]
        self.fx[ids] = new_by_code[self._ccy_code[ids]]
        self.lin_s[ids] *= ratio[:, None]
        for per_unit in (
            self.unit_value,
            self.unit_delta,
            self.unit_gamma,
            self.unit_vega,
            self.unit_dv01,
            self.unit_sigma,
        ):
            per_unit[ids] *= ratio
        o = self.opt_index[ids]
        sel = o >= 0
        grids.scale_grids(self.opt_grid, o[sel], ratio[sel])
        self.opt_base[o[sel]] *= ratio[sel]
        # option books: one rate per underlying when all its options share a currency
        opt_ratio = code_ratio[self._ccy_code[self.opt_ids]]
        n_u = self.und_ids.size
        lo = np.full(n_u, np.inf)
        hi = np.full(n_u, -np.inf)
        np.minimum.at(lo, self.opt_owner, opt_ratio)
        np.maximum.at(hi, self.opt_owner, opt_ratio)
        touched = (lo != 1.0) | (hi != 1.0)
        uniform = np.flatnonzero(touched & (lo == hi))
        r_u = lo[uniform]
        self.u_grid[uniform] *= r_u[:, None, None]
        self.u_base[uniform] *= r_u
        for h in self.horizons:
            self.u_pnl[h][uniform] *= r_u[:, None]
        # SPAN margin follows at the next full refresh (as for vols): clearing houses
        # margin a few times a day, and a tick must not pay for a rescan
        return none, np.flatnonzero(touched & (lo != hi))

    def _refresh_vols(
        self, changed: np.ndarray, as_of: dt.date, now_ns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read the updated option quotes into the live surface and adopt its vols.

        Returns the options whose vol changed (instrument ids, to re-derive), the
        underlyings whose grids must be rebuilt (their held book's vols moved past the
        threshold since the grids were built: ``vol_rebuild_abs`` and ``vol_rebuild_rel``)
        and the other underlyings whose vols moved (Greeks at the live vols)."""
        none = np.empty(0, dtype=np.int64)
        if self.opt_ids.size == 0:
            return none, none, none
        o = self.opt_index[changed]
        o = o[o >= 0]
        m, oi = self.market, self.opt_ids
        und = np.clip(self.underlying[oi], 0, self.n - 1)
        mid, last = m.mid[und], m.last[und]
        spot = np.where(np.isfinite(mid) & (mid > 0), mid, last)
        spot = np.where(self.underlying[oi] >= 0, spot, np.nan)
        expiry = year_fraction(self._expiry_days[oi], as_of)
        moved_us = self.vols.update(
            o, m.bid[oi], m.ask[oi], m.ts_ns[oi], spot, expiry, self.rate[oi], self.opt_q, now_ns
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
        cfg, n_u = self.config, self.und_ids.size
        held = (self.qty[oi] != 0) & (self.reason[oi] == "")
        w = np.abs(self.qty[oi] * self.unit_vega[oi]) * held
        built = self.opt_vol_built
        known = np.isfinite(built)
        dev = np.where(known, np.abs(self.implied_vol[oi] - built), 0.0)
        den = np.bincount(self.opt_owner, w, minlength=n_u)
        move = np.bincount(self.opt_owner, w * dev, minlength=n_u)
        level = np.bincount(self.opt_owner, w * np.where(known, built, 0.0), minlength=n_u)
        with np.errstate(invalid="ignore", divide="ignore"):
            move, level = move / den, level / den
        far = (den > 0) & (move > cfg.vol_rebuild_abs) & (move > cfg.vol_rebuild_rel * level)
        far |= np.bincount(self.opt_owner, held & ~known, minlength=n_u) > 0
        moved_k = _members(n_u, self.opt_owner[diff])
        rebuild = moved_k[far[moved_k]]
        books = np.setdiff1d(moved_k, rebuild)
        return oi[diff], rebuild, books

    def exposures(self) -> np.ndarray:
        """Linear factor exposures of the portfolio, shape (n_factors,), base currency."""
        w = self.lin_s * self.qty[:, None]
        f = self.lin_f.ravel()
        keep = f >= 0
        return np.bincount(f[keep], weights=w.ravel()[keep], minlength=self.space.n_factors)

    @_with_threads
    def portfolio_pnl(self, horizon_days: int) -> np.ndarray:
        """Portfolio P&L in every scenario of a horizon, shape (n_scenarios,)."""
        out = self.lin_pnl[horizon_days].copy()
        if self.und_ids.size:
            out += self.u_pnl[horizon_days].sum(axis=0)
        return out

    def unit_pnl_rows(
        self, horizon_days: int, rows: np.ndarray, inst: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-unit P&L of instruments ``inst`` (default: all) in scenarios ``rows``.

        Returns an array of shape (n_rows, len(inst)).
        """
        inst = np.arange(self.n) if inst is None else np.asarray(inst, dtype=np.int64)
        rows_t = np.ascontiguousarray(self.scenarios.rows(horizon_days, rows).T)
        out = np.empty((rows.size, inst.size))
        linear_unit_rows(rows_t, inst, self.lin_f, self.lin_s, out)
        is_opt, opt_out = self._option_unit_rows(rows_t, inst)
        out[:, is_opt] += opt_out
        return out

    def unit_pnl_weighted(
        self, horizon_days: int, rows: np.ndarray, weights: np.ndarray, inst: np.ndarray
    ) -> np.ndarray:
        """Weighted sums over scenarios ``rows`` of the per-unit P&L of instruments ``inst``.

        Equals ``weights @ unit_pnl_rows(horizon_days, rows, inst)`` (up to rounding) for
        ``weights`` of shape (n_sets, n_rows), e.g. the ES-tail mean and the VaR kernel, but
        the linear part is computed in factor space: the weighted average factor move
        (n_sets x n_factors) times each instrument's loadings, so per-scenario P&L is only
        needed for options (nonlinear, read off their grids). Returns (n_sets, len(inst)).
        """
        shock_rows = self.scenarios.rows(horizon_days, rows)  # (n_rows, n_factors) float32
        moves = np.empty((weights.shape[0], shock_rows.shape[1]))
        weighted_rows(shock_rows, weights, moves)
        out = np.empty((weights.shape[0], inst.size))
        linear_unit_weighted(moves, inst, self.lin_f, self.lin_s, out)
        is_opt, opt_out = self._option_unit_rows(shock_rows.T, inst)
        opt_sums = np.empty((weights.shape[0], is_opt.size))
        weighted_rows(opt_out, weights, opt_sums)  # not BLAS: its idle threads spin
        out[:, is_opt] += opt_sums
        return out

    def _option_unit_rows(
        self, rows_t: np.ndarray, inst: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-unit P&L of the options among ``inst`` in scenarios whose moves are
        ``rows_t`` (n_factors, n_rows). Returns their positions in ``inst`` and their P&L,
        shape (n_rows, n_options_in_inst), zero for excluded options."""
        col = self.opt_index[inst]
        is_opt = np.flatnonzero(col >= 0)
        opts = col[is_opt]
        opt_out = np.empty((rows_t.shape[1], opts.size))
        if opts.size:
            grids.option_unit_pnl_rows(
                self.opt_grid,
                opts,
                self.opt_owner,
                self.u_x_lo,
                self.u_dx,
                self.u_v_lo,
                self.u_dv,
                self.u_x_now,
                self.opt_base,
                self.u_spot_col,
                self.u_vol_col,
                rows_t,
                opt_out,
            )
            opt_out[:, self.reason[self.opt_ids[opts]] != ""] = 0.0
        return is_opt, opt_out

    def trade_pnl(self, horizon_days: int, instrument_id: int, quantity: float) -> np.ndarray:
        """Scenario P&L of a hypothetical trade (for incremental VaR), shape (n_scenarios,)."""
        if not (0 <= instrument_id < self.n):
            raise InputError("instrument_id", instrument_id, f"an id in 0..{self.n - 1}")
        if self.reason[instrument_id]:
            raise InputError(
                "instrument_id",
                instrument_id,
                f"a priced instrument ({self.reason[instrument_id]})",
            )
        shocks = self.scenarios.shocks[horizon_days]
        pnl = np.zeros(self.n_scen)
        for f, s in zip(self.lin_f[instrument_id], self.lin_s[instrument_id], strict=True):
            if f >= 0:
                pnl += s * shocks[:, f].astype(np.float64)
        o = self.opt_index[instrument_id]
        if o >= 0:
            k = self.opt_owner[o]
            x = self.u_x_now[k] + np.log1p(shocks[:, self.u_spot_col[k]].astype(np.float64))
            vc = self.u_vol_col[k]
            v = shocks[:, vc].astype(np.float64) if vc >= 0 else np.zeros(self.n_scen)
            g = self.opt_grid[o]
            pnl += (
                grids.interp_many(
                    g, self.u_x_lo[k], self.u_dx[k], self.u_v_lo[k], self.u_dv[k], x, v
                )
                - self.opt_base[o]
            )
        return pnl * quantity

    @_with_threads
    def incremental_var(
        self,
        instrument_id: int,
        quantity: float,
        confidence: float | None = None,
        horizon_days: int | None = None,
    ) -> tuple[float, float]:
        """Exact incremental (VaR, ES) of trading ``quantity`` of an instrument."""
        c = confidence or self.config.confidence_levels[0]
        h = horizon_days or self.horizons[0]
        return euler.incremental_var(
            self.portfolio_pnl(h), self.trade_pnl(h, instrument_id, quantity), c
        )

    def _parametric(self, h: int, c: float) -> tuple[float, float, np.ndarray]:
        """Delta-gamma Cornish-Fisher VaR/ES and per-unit delta-normal Euler sensitivities.

        Factor covariance is the sample covariance of the horizon's scenario moves. The
        delta vector holds linear exposures, option dollar deltas on spot factors and
        ``sigma * vega`` on vol factors; gamma is diagonal on spot factors (dollar gamma);
        cross-gammas (vanna) and volga are neglected. Euler components are the exact
        delta-normal ones, :math:`VaR_i = z\\,(\\ell_i'\\Sigma\\delta)/\\sigma`, rescaled to
        the Cornish-Fisher total (an approximation, documented as such).
        """
        S = self.scenarios.shocks[h]  # float32 column-major, never copied to float64 whole
        n_s = S.shape[0]
        mean_f = S.mean(axis=0, dtype=np.float64)
        delta = self.exposures()
        spot_f = self.space.spot_factor
        valid = self.reason == ""
        opt = self.opt_ids[valid[self.opt_ids]]
        np.add.at(delta, spot_f[opt], self.qty[opt] * self.unit_delta[opt])
        vol_f = self.space.vol_factor
        np.add.at(delta, vol_f[opt], self.qty[opt] * self.unit_vega[opt] * self.implied_vol[opt])
        gdiag = np.zeros(self.space.n_factors)
        np.add.at(gdiag, spot_f[opt], self.qty[opt] * self.unit_gamma[opt])
        s_delta = np.empty(n_s)
        scenario_dot(S, delta, np.flatnonzero(delta), s_delta)
        s_delta -= mean_f @ delta  # centred scenario P&L
        Sd = np.empty(self.space.n_factors)
        scenario_tdot(S, s_delta, Sd)
        Sd = (Sd - mean_f * s_delta.sum()) / (n_s - 1)  # Sigma @ delta
        sigma_dn = float(np.sqrt(max(delta @ Sd, 0.0)))
        gi = np.flatnonzero(gdiag)
        if gi.size:
            Sg = S[:, gi].astype(np.float64) - mean_f[gi]
            cov_g = Sg.T @ Sg / (n_s - 1)
            # Moments need Sigma only through Sigma*delta and the gamma block.
            G = np.diag(gdiag[gi])
            mean, std, sk, ku = delta_gamma_moments(np.zeros(gi.size), G, cov_g)
            k2 = sigma_dn**2 + std**2
            k3 = 3.0 * Sd[gi] @ G @ Sd[gi] + sk * std**3
            k4 = 12.0 * Sd[gi] @ G @ cov_g @ G @ Sd[gi] + ku * std**4
            std_all = float(np.sqrt(k2))
            var, es = cornish_fisher_var_es(mean, std_all, k3 / std_all**3, k4 / std_all**4, c)
        else:
            var, es = normal_var_es(0.0, sigma_dn, c)
        # Per-unit Euler sensitivities (delta-normal), rescaled to the total.
        z = ndtri(c)
        loadings_sd = np.zeros(self.n)
        for j in range(3):
            f = self.lin_f[:, j]
            ok = f >= 0
            loadings_sd[ok] += self.lin_s[ok, j] * Sd[f[ok]]
        loadings_sd[opt] += self.unit_delta[opt] * Sd[spot_f[opt]]
        loadings_sd[opt] += self.unit_vega[opt] * self.implied_vol[opt] * Sd[vol_f[opt]]
        unit_comp = z * loadings_sd / sigma_dn if sigma_dn > 0 else loadings_sd * 0
        total = float(self.qty @ unit_comp)
        if total != 0:
            unit_comp = unit_comp * (var / total)
        return float(var), float(es), unit_comp

    @_with_threads
    def compute(self, now_ns: int | None = None) -> RiskSnapshot:
        """Compute a snapshot from the current state (no publication)."""
        cfg = self.config
        ts = int(self.clock.now_ns() if now_ns is None else now_ns)
        levels = cfg.confidence_levels
        measures: list[Measure] = []
        head_var = head_es = None
        liq = self._liquidity_parts(ts)
        for h in self.horizons:
            if cfg.method == "parametric":
                per_level = []
                for c in levels:
                    var, es, u = self._parametric(h, c)
                    per_level.append((c, var, es, u, u * (es / var if var else 1.0), 1.0))
            else:
                pnl = self.portfolio_pnl(h)
                tails = [euler.tail_rows(pnl, c, cfg.euler_var_neighbours) for c in levels]
                rows = np.unique(np.concatenate([t.rows for t in tails]))
                # Contributions are quantity x per-unit tail P&L: only held instruments.
                held = np.flatnonzero(self.qty)
                # Each level's ES-tail mean and VaR kernel as weights over ``rows``.
                weights = np.zeros((2 * len(levels), rows.size))
                for j, t in enumerate(tails):
                    weights[2 * j, np.searchsorted(rows, t.es_rows)] = 1.0 / t.es_rows.size
                    weights[2 * j + 1, np.searchsorted(rows, t.var_rows)] = t.var_weights
                unit = self.unit_pnl_weighted(h, rows, weights, held)
                per_level = []
                for j, (c, t) in enumerate(zip(levels, tails, strict=True)):
                    u_es = np.zeros(self.n)
                    u_var = np.zeros(self.n)
                    u_es[held] = -unit[2 * j]
                    u_var[held] = -unit[2 * j + 1]
                    per_level.append((c, t.var, t.es, u_var, u_es, t.var_scale))
            for c, var, es, u_var, u_es, scale in per_level:
                comp_var = self.qty * u_var
                funding = self._funding(comp_var, h, liq)
                lvar = var + liq["spread"] + liq["impact"] + funding.financing_cost
                measures.append(
                    Measure(
                        float(c),
                        int(h),
                        float(var) + 0.0,  # + 0.0: no "-0.0" for an empty book
                        float(es) + 0.0,
                        float(lvar),
                        liq["spread"],
                        liq["impact"],
                        liq["impact_std"],
                        funding.financing_cost,
                        funding.variation_margin,
                        funding.initial_margin_call,
                        funding.haircut_call,
                        funding.initial_margin,
                        funding.forced_sale,
                        float(scale),
                    )
                )
                if head_var is None:
                    head_var, head_es = u_var, u_es
        comp_var = self.qty * head_var
        comp_es = self.qty * head_es
        return RiskSnapshot(
            ts_ns=ts,
            market_seq_max=int(self.market.seq.max()) if self.n else 0,
            market_seq_digest=_digest(self.market.seq),
            positions_digest=self.positions_digest,
            config_fingerprint=self._config_fingerprint,
            scenarios_fingerprint=self.scenarios.fingerprint,
            method=cfg.method,
            n_scenarios=self.n_scen,
            measures=tuple(measures),
            top_contributors=self._top(comp_var, comp_es),
            component_var=comp_var,
            component_es=comp_es,
            greeks=self._greeks(),
            aggregates=self._aggregates(head_var, head_es),
            excluded=self._exclusions(),
            model_warnings=self.scenarios.model_warnings,
            regime_conditioning=(
                None if self.regime_conditioning is None else self.regime_conditioning.as_dict()
            ),
            fx_to_base=dict(self.fx_to_base),
            marks=self.marks(),
            valuation=Valuation(
                price=self.price,
                unit_value=self.unit_value,
                unit_delta=self.unit_delta,
                unit_gamma=self.unit_gamma,
                unit_vega=self.unit_vega,
                unit_sigma=self.unit_sigma,
                fx=self.fx,
                reason=np.array([REASON_CODE[r] for r in self.reason], dtype=np.uint8),
                positions_version=self.positions_version,
            ),
        )

    def marks(self) -> dict[str, Any]:
        """The live marks in force: FX and implied-vol state, and how often each moved."""
        valid = self.implied_vol[self.opt_ids]
        valid = valid[np.isfinite(valid)]
        return {
            "fx_updates": self.fx_updates,
            "fx_reference_currencies": list(self.fx_reference_currencies),
            "vol_moves": self.vol_moves,
            "vol_grid_rebuilds": self.vol_rebuilds,
            "flagged_quotes": dict(self.vols.flag_counts),
            "flagged_now": self.vols.flagged_now(),
            "median_implied_vol": float(np.median(valid)) if valid.size else None,
        }

    # ------------------------------------------------------------------ pieces

    def _liquidity_parts(self, ts_ns: int) -> dict[str, float]:
        """Exogenous spread cost and Almgren-Chriss impact of liquidating every position."""
        lc = self.config.liquidity
        mult = liquidity.intraday_multiplier(
            ts_ns,
            lc.session_open_utc_h,
            lc.session_close_utc_h,
            lc.intraday_amplitude,
            lc.intraday_decay_h,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            spread_live = self.market.spread / self.market.mid
        live = np.isfinite(spread_live) & (spread_live >= 0)
        rel = np.where(live, spread_live, self.spread_bps * 1e-4 * mult)
        valid = (self.reason == "") & (self.qty != 0)
        value = np.where(valid, self.qty * self.unit_value, 0.0)
        valid &= (rel > 0) & (self.unit_value != 0)  # no spread, no impact
        # Options and futures: spread applies to the traded premium / contract value.
        spread_cost = liquidity.bangia_spread_cost(
            value, rel, lc.spread_vol_ratio * rel, lc.spread_k
        )
        idx = np.flatnonzero(valid)
        if idx.size == 0:
            return {"spread": float(spread_cost.sum()), "impact": 0.0, "impact_std": 0.0}
        unit_px = np.abs(self.unit_value[idx])
        depth = np.where(live[idx], 1.0, 1.0 / mult)  # thinner books when spreads are wide
        eps, eta, gamma = liquidity.impact_parameters(
            unit_px, rel[idx], self.adv[idx] * depth, lc.eta_adv_fraction, lc.gamma_adv_fraction
        )
        days = liquidity.liquidation_days(
            self.qty[idx], self.adv[idx] * depth, lc.max_participation, lc.max_liquidation_days
        )
        ac = liquidity.AlmgrenChriss(
            shares=np.abs(self.qty[idx]),
            sigma=self.unit_sigma[idx],
            eta=eta,
            gamma=gamma,
            epsilon=eps,
            horizon_days=days,
            n_periods=days,
            risk_aversion=lc.risk_aversion_per_ccy,
        )
        mean, variance = ac.cost_mean_variance()
        impact = mean - eps * np.abs(self.qty[idx])
        return {
            "spread": float(spread_cost.sum()),
            "impact": float(impact.sum()),
            "impact_std": float(np.sqrt(variance.sum())),
        }

    def _funding(
        self, comp_var: np.ndarray, horizon_days: int, liq: dict[str, float]
    ) -> liquidity.FundingCost:
        """Funding liquidity of the measure's stressed move (the VaR neighbourhood: each
        position's P&L is minus its component VaR). SPAN margin comes from the cache
        (:meth:`span_margin`, recomputed on full refreshes)."""
        lc = self.config.liquidity
        deriv = (self.asset_class == FUTURE) | (self.asset_class == OPTION)
        value = self.unit_value * self.qty * (self.reason == "")
        if self._margin is None:
            self._margin = self.span_margin()
        im, im_stressed = self._margin

        def rates(table: dict[str, float]) -> np.ndarray:
            return np.array([table.get(a, 0.0) for a in ASSET_CLASSES])[self.asset_class]

        return liquidity.funding_cost(
            value,
            -comp_var,
            deriv,
            rates(lc.haircut),
            rates(lc.haircut_stressed),
            im,
            im_stressed,
            lc.funding_spread_annual,
            horizon_days,
            lc.liquid_buffer_share * float(np.abs(value).sum()),
            liq["spread"],
            liq["impact"],
        )

    def _top(self, comp_var: np.ndarray, comp_es: np.ndarray) -> tuple[Contributor, ...]:
        n_top = min(self.config.top_n, self.n)
        cand = np.argpartition(-comp_es, n_top - 1)[:n_top] if n_top < self.n else np.arange(self.n)
        order = cand[np.lexsort((cand, -comp_es[cand]))]  # ties by id: deterministic
        marginal = euler.marginal_var(comp_var, self.qty)
        return tuple(
            Contributor(
                int(i),
                str(self.symbol[i]),
                ASSET_CLASSES[self.asset_class[i]],
                float(self.qty[i]),
                float(comp_var[i]),
                float(comp_es[i]),
                float(marginal[i]) if np.isfinite(marginal[i]) else 0.0,
            )
            for i in order
        )

    def _greeks(self) -> dict[str, dict[str, float]]:
        valid = (self.reason == "").astype(np.float64)
        q = self.qty * valid
        out = {}
        for code, name in enumerate(ASSET_CLASSES):
            sel = self.asset_class == code
            out[name] = {
                "delta": float(q[sel] @ self.unit_delta[sel]),
                "gamma": float(q[sel] @ self.unit_gamma[sel]),
                "vega": float(q[sel] @ self.unit_vega[sel]),
                "dv01": float(q[sel] @ self.unit_dv01[sel]),
            }
        return out

    def _aggregates(
        self, u_var: np.ndarray, u_es: np.ndarray
    ) -> dict[str, dict[str, dict[str, float]]]:
        """Component VaR/ES summed by label (Euler parts are additive)."""
        cv = self.pos_qty * u_var[self.pos_inst]
        ce = self.pos_qty * u_es[self.pos_inst]
        out = {}
        for by in AGGREGATE_BY:
            names, codes = self._label_codes[by]
            v = np.bincount(codes, weights=cv, minlength=names.size)
            e = np.bincount(codes, weights=ce, minlength=names.size)
            out[by] = {
                str(k): {"component_var": float(a), "component_es": float(b)}
                for k, a, b in zip(names, v, e, strict=True)
            }
        return out

    def _exclusions(self) -> tuple[Exclusion, ...]:
        bad = self.reason[self.pos_inst] != ""
        listed = [
            Exclusion(int(b), int(i), str(self.reason[i]))
            for b, i in zip(self.pos_book[bad], self.pos_inst[bad], strict=True)
        ]
        return tuple(self.unknown) + tuple(listed)
