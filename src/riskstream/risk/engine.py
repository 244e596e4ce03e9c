"""The real-time risk engine: factor-space VaR, ES, L-VaR and Euler contributions.

Design for speed (see docs/architecture.md, "Risk"):

* **Factor space.** Instruments map onto a few thousand factors
  (:mod:`riskstream.risk.factors`); a portfolio's linear P&L in every scenario is one
  matrix-vector product, ``scenarios (n_scen x n_factors) @ exposures`` (numba, float32
  scenarios accumulated in float64).
* **Full revaluation of options** on a per-underlying grid of spot and vol moves
  (:mod:`riskstream.risk.option_grids`): each scenario reads the book's P&L off the grid.
* **Euler contributions from the tail only**: only the few hundred scenarios in the ES
  tail and the VaR neighbourhood are read, never all of them; the linear part in factor
  space (each estimator's weighted mean move times the loadings), options per scenario.
* **Incremental refresh.** A price tick re-derives only the touched instruments' loadings,
  the option grids whose underlying moved out of range or whose vols changed, and the
  P&L vectors of the underlyings it touched; only the final aggregation (one mat-vec per
  horizon, a sum over underlyings, a partial sort) is global.

**Parts, by ownership.** :class:`RiskEngine` is a thin coordinator of parts, each with a
small interface and its own state:

* :class:`~riskstream.risk.reference.InstrumentTable` — static reference data;
* :class:`~riskstream.risk.positions_view.PositionsView` — the keeper's positions, read
  only (they arrive as ``PositionsChanged`` through :meth:`RiskEngine.send`);
* :class:`~riskstream.risk.marks.LiveMarks` — prices, validity (uint8 reason codes),
  per-unit values and sensitivities, live FX;
* :class:`~riskstream.risk.option_grids.OptionGrids` — grids, Greeks, the live vol surface;
* :class:`~riskstream.risk.linear_book.LinearBook` — loadings, exposures, linear P&L;
* a :class:`~riskstream.risk.var_methods.VaRMethod` — scenario or parametric, by
  ``config.method``;
* :class:`~riskstream.risk.margin.SpanMargin` — SPAN setup, computation and cache;
* :class:`~riskstream.risk.liquidity.LiquidityModel` — spread, impact and funding;
* :class:`~riskstream.risk.snapshot_builder.SnapshotBuilder` — contributors, Greeks,
  aggregates, exclusions from the frozen :class:`~riskstream.risk.valuation.Valuation`.

**Off the hot path.** With ``config.background_recompute`` a regime switch (recoloured
scenarios and every option grid) and SPAN recomputes run on one background worker
(:mod:`riskstream.risk.background`) from inputs copied on the engine's thread, and are
swapped in at the top of a later refresh; until then refreshes go on with the state in
force, and each snapshot says which conditioning is in force and which switch is pending.

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
Same inputs give the same snapshot, bit for bit (with ``background_recompute`` off).

Bad input never yields a silent wrong number: a position on an unknown instrument, an
instrument without a price (or whose option underlying has none), an option with a
missing, zero or negative implied vol or past expiry is **excluded and listed** in the
snapshot with its reason; malformed scenarios or quantities raise :class:`InputError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.clock import Clock
from riskstream.core.errors import InputError
from riskstream.core.instruments import Universe
from riskstream.core.messages import FxRates, PositionsChanged, RegimeChanged
from riskstream.core.state import MarketState
from riskstream.risk import euler
from riskstream.risk.background import Recomputer
from riskstream.risk.conditioning import (
    RegimeConditioning,
    conditioning_of,
    recolour,
    scenario_moments,
)
from riskstream.risk.config import RiskConfig
from riskstream.risk.factors import build_factor_space
from riskstream.risk.kernels import thread_scope, weighted_rows
from riskstream.risk.linear_book import LinearBook, scenario_pnl
from riskstream.risk.liquidity import LiquidityModel
from riskstream.risk.margin import SpanInputs, SpanMargin
from riskstream.risk.marks import LiveMarks
from riskstream.risk.option_grids import (
    BuiltGrids,
    GridInputs,
    OptionGrids,
    ScenarioView,
    build_grids,
    members,
    scenario_view,
)
from riskstream.risk.positions_view import AGGREGATE_BY, PositionsView, digest
from riskstream.risk.reference import FUTURE, OPTION, InstrumentTable
from riskstream.risk.scenarios import ScenarioSet
from riskstream.risk.snapshot import Measure, RiskSnapshot
from riskstream.risk.snapshot_builder import SnapshotBuilder
from riskstream.risk.valuation import REASONS, VALUED
from riskstream.risk.var_methods import var_method

__all__ = ["AGGREGATE_BY", "RiskEngine"]


def _with_threads(method):
    """Run an engine method inside :func:`~riskstream.risk.kernels.thread_scope` of
    ``config.threads``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with thread_scope(self.config.threads):
            return method(self, *args, **kwargs)

    return wrapper


def _read(part: str, name: str) -> property:
    """A read-only view of a part's attribute (for the code that reads the engine's
    arrays; the part owns and writes them)."""

    def get(self: RiskEngine) -> Any:
        return getattr(getattr(self, part), name)

    return property(get, doc=f"``{part}.{name}`` (read-only).")


@dataclass(frozen=True, eq=False)
class _PreparedRegime:
    """A regime switch computed on the worker: the new scenario view and option grids,
    and the grid inputs they were priced from."""

    conditioning: RegimeConditioning | None
    view: ScenarioView
    built: BuiltGrids
    inputs: GridInputs
    lin_pnl: dict[int, np.ndarray]
    exposure: np.ndarray


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
        for h, s in scenarios.shocks.items():
            if s.shape[1] != self.space.n_factors:
                raise InputError(
                    f"scenarios[{h}]", f"{s.shape[1]} factors", f"{self.space.n_factors}"
                )
        self.horizons = tuple(config.horizons_days)
        self.n_scen = scenarios.n_scenarios
        iv = np.asarray(implied_vol, dtype=np.float64)
        if iv.shape != (n,):
            raise InputError("implied_vol", f"shape {iv.shape}", f"({n},)")

        # ---- the parts
        self.ref = InstrumentTable(universe, self.space, config, rates)
        self.live_marks = LiveMarks(self.ref, self.space, universe.base_currency, market)
        self.positions = PositionsView(self.ref.asset_class)
        self._base_scenarios = scenarios
        view = scenario_view(self.ref, scenarios, config)
        self.linear = LinearBook(n, self.space.n_factors, self.horizons, self.n_scen)
        self.options = OptionGrids(self.ref, config, self.live_marks, self.positions, view, iv)
        # SPAN's scan ranges are the exchange's parameters: set once from the unconditional
        # factor vols, they do not follow the engine's own regime conditioning
        self.margin = SpanMargin(self.ref, self.space, config.liquidity.margin, view.factor_vol)
        self.liquidity = LiquidityModel(config.liquidity, self.ref)
        self.var_method = var_method(config.method, config.euler_var_neighbours)
        self.builder = SnapshotBuilder(self.ref, config.top_n)

        self._refreshes = 0
        # Regime conditioning (riskstream.risk.conditioning): the moments it needs are
        # computed once, here, so that a switch is a single sweep.
        self.regime_conditioning: RegimeConditioning | None = None
        self._scenario_moments = (
            scenario_moments(scenarios, self.space.kind) if config.regime_conditional else None
        )
        self._inbox: deque[PositionsChanged | RegimeChanged | FxRates] = deque()
        self._fx_published = False  # FxRates taken since the last refresh
        self._worker: Recomputer | None = None
        self._regime_switch: dict[str, Any] | None = None  # the switch being prepared
        self.set_positions(universe.positions, universe.books, rebuild=False)
        with thread_scope(config.threads):
            self.options.follow_vols(market, self.ref.opt_ids, self._as_of(), int(clock.now_ns()))
            self._update_instruments(np.arange(n), as_of=self._as_of())
            self.linear.sync(self.scenarios, self.qty, full=True)
        self.last_snapshot: RiskSnapshot | None = None
        self.last_refresh_ns: int | None = None
        # counters of the live marks count from here: the build is not a market move
        self.options.vol_moves = self.options.vol_rebuilds = self.options.grid_builds = 0
        if config.background_recompute:  # after the first parallel kernels: layer known
            self._worker = Recomputer(config.threads)

    # ------------------------------------------------------------------ read-only views

    scenarios = property(lambda self: self.options.view.scenarios, doc="Scenarios in force.")
    factor_vol = property(lambda self: self.options.view.factor_vol, doc="Daily factor vols.")
    positions_digest = _read("positions", "digest")
    qty = _read("positions", "qty")
    pos_inst = _read("positions", "pos_inst")
    pos_qty = _read("positions", "pos_qty")
    pos_book = _read("positions", "pos_book")
    pos_labels = _read("positions", "labels")
    unknown = _read("positions", "unknown")
    symbol = _read("ref", "symbol")
    asset_class = _read("ref", "asset_class")
    multiplier = _read("ref", "multiplier")
    adv = _read("ref", "adv")
    spread_bps = _read("ref", "spread_bps")
    underlying = _read("ref", "underlying")
    strike = _read("ref", "strike")
    is_call = _read("ref", "is_call")
    coupon = _read("ref", "coupon")
    freq = _read("ref", "freq")
    currency = _read("ref", "currency")
    american = _read("ref", "american")
    dividend_yield = _read("ref", "dividend_yield")
    rate = _read("ref", "rate")
    opt_ids = _read("ref", "opt_ids")
    opt_index = _read("ref", "opt_index")
    und_ids = _read("ref", "und_ids")
    opt_owner = _read("ref", "opt_owner")
    on_future = _read("ref", "on_future")
    opt_q = _read("ref", "opt_q")
    opt_american = _read("ref", "opt_american")
    u_spot_col = _read("ref", "u_spot_col")
    u_vol_col = _read("ref", "u_vol_col")
    price = _read("live_marks", "price")
    reason = _read("live_marks", "reason")
    unit_value = _read("live_marks", "unit_value")
    unit_delta = _read("live_marks", "unit_delta")
    unit_gamma = _read("live_marks", "unit_gamma")
    unit_vega = _read("live_marks", "unit_vega")
    unit_dv01 = _read("live_marks", "unit_dv01")
    unit_sigma = _read("live_marks", "unit_sigma")
    bond_yield = _read("live_marks", "bond_yield")
    fx = _read("live_marks", "fx")
    fx_to_base = _read("live_marks", "fx_to_base")
    fx_reference_currencies = _read("live_marks", "fx_reference_currencies")
    fx_updates = _read("live_marks", "fx_updates")
    lin_f = _read("linear", "lin_f")
    lin_s = _read("linear", "lin_s")
    lin_pnl = _read("linear", "lin_pnl")
    implied_vol = _read("options", "implied_vol")
    vols = _read("options", "vols")
    opt_expiry = _read("options", "opt_expiry")
    opt_base = _read("options", "opt_base")
    opt_grid = _read("options", "opt_grid")
    vol_moves = _read("options", "vol_moves")
    vol_rebuilds = _read("options", "vol_rebuilds")
    grid_builds = _read("options", "grid_builds")

    @property
    def positions_version(self) -> int:
        """The position keeper's version in force (0: the universe's own positions); set by
        each ``PositionsChanged`` drained from the inbox."""
        return self.positions.version

    @positions_version.setter
    def positions_version(self, version: int) -> None:
        # kept writable for callers that restore an engine with set_positions (tests that
        # share one engine); the keeper's versions arrive through send()
        self.positions.version = int(version)

    @property
    def background(self) -> Recomputer | None:
        """The background worker (None unless ``config.background_recompute``)."""
        return self._worker

    @property
    def regime_switch_pending(self) -> dict[str, Any] | None:
        """The regime switch being prepared on the worker (``to``: the conditioning's dict
        or None for unconditional; ``requested_ns``), None when none is."""
        switch = self._regime_switch
        return None if switch is None else {k: switch[k] for k in ("to", "requested_ns")}

    # ------------------------------------------------------------------ inbox

    def send(self, message: PositionsChanged | RegimeChanged | FxRates) -> None:
        """Queue a message for the engine (any thread): the engine applies it at the top
        of its next refresh, on its own thread. This is the only way other stages change
        what the engine values: the position keeper's :class:`PositionsChanged`, the
        regime stage's :class:`RegimeChanged`, FX rates aggregated from public APIs
        (:class:`FxRates`, for currencies no live FX quote reaches)."""
        if not isinstance(message, PositionsChanged | RegimeChanged | FxRates):
            raise InputError(
                "message", type(message).__name__, "PositionsChanged, RegimeChanged or FxRates"
            )
        self._inbox.append(message)

    def _drain_inbox(self) -> None:
        """Apply the queued messages in order (the newest positions version wins)."""
        while self._inbox:
            message = self._inbox.popleft()
            if isinstance(message, PositionsChanged):
                if message.version > self.positions.version:
                    self._apply_positions(message)
            elif isinstance(message, FxRates):
                self.live_marks.publish_rates(message)
                self._fx_published = True
            elif self._worker is None:
                self.condition_on_regime(conditioning_of(message))
            else:
                self._request_regime(conditioning_of(message), message.ts_ns)

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
        self.positions.version = message.version

    # ------------------------------------------------------------------ regime

    def _check_conditional(self) -> None:
        if self._scenario_moments is None:
            raise InputError(
                "risk.regime_conditional", False, "true to condition the scenarios on a regime"
            )

    def condition_on_regime(self, conditioning: RegimeConditioning | None) -> None:
        """Switch to a regime's volatility and correlation, or back (``None``), now.

        The factor scenarios are recoloured to covariance :math:`s^2 D R(\\theta) D`
        (:func:`riskstream.risk.conditioning.recolour`; an identity conditioning is
        ``None``) and everything derived from them is rebuilt: option grids and their axes,
        factor vols, the linear P&L vectors in full (a switch costs about one engine build's
        option revaluation). Back to ``None`` the original scenario set is used again: the
        figures are those of an engine freshly built on the same market state, bit for bit.
        The next snapshot records the conditioning in force. Switching to the one in force
        does nothing.

        The documented path is the inbox (``send(RegimeChanged)``), which with
        ``config.background_recompute`` prepares the switch off the hot path; this direct
        call computes it on the caller's thread (and drops any switch being prepared).

        Raises
        ------
        InputError
            ``risk.regime_conditional`` is off.
        """
        self._check_conditional()
        if conditioning is not None and conditioning.is_identity:
            conditioning = None
        if self._worker is not None:
            self._worker.cancel("regime")
            self._regime_switch = None
        if conditioning == self.regime_conditioning:
            return
        with thread_scope(self.config.threads):
            # drop the old recoloured set before making the new one (memory)
            self.options.view = dataclasses.replace(
                self.options.view, scenarios=self._base_scenarios
            )
            view = scenario_view(self.ref, self._scenarios_for(conditioning), self.config)
            self._adopt_view(view, conditioning, None)

    def _scenarios_for(self, conditioning: RegimeConditioning | None) -> ScenarioSet:
        if conditioning is None:
            return self._base_scenarios
        assert self._scenario_moments is not None
        return recolour(self._base_scenarios, self._scenario_moments, conditioning)

    def _request_regime(self, conditioning: RegimeConditioning | None, ts_ns: int) -> None:
        """Have the worker prepare a switch (inputs copied now, on the engine's thread)."""
        self._check_conditional()
        if conditioning is not None and conditioning.is_identity:
            conditioning = None
        assert self._worker is not None
        if self._regime_switch is not None and self._regime_switch["target"] == conditioning:
            return  # already being prepared
        if conditioning == self.regime_conditioning:
            self._worker.cancel("regime")  # back to the one in force: nothing to prepare
            self._regime_switch = None
            return
        self._worker.submit(
            "regime",
            self._prepare_regime,
            conditioning,
            self.options.capture(),
            self.linear.exposures(self.qty),
        )
        self._regime_switch = {
            "target": conditioning,
            "to": None if conditioning is None else conditioning.as_dict(),
            "requested_ns": int(ts_ns),
        }

    def _prepare_regime(
        self, conditioning: RegimeConditioning | None, inputs: GridInputs, exposure: np.ndarray
    ) -> _PreparedRegime:
        """On the worker: the new scenarios, their view, every option grid on its axes and
        the linear P&L of the exposures then, from frozen inputs only (the engine's working
        state is not touched)."""
        view = scenario_view(self.ref, self._scenarios_for(conditioning), self.config)
        return _PreparedRegime(
            conditioning,
            view,
            build_grids(self.ref, self.config, view, inputs),
            inputs,
            scenario_pnl(view.scenarios, exposure, self.horizons),
            exposure,
        )

    def _adopt_view(
        self,
        view: ScenarioView,
        conditioning: RegimeConditioning | None,
        prepared: _PreparedRegime | None,
    ) -> None:
        """Make ``view`` the scenarios in force and rebuild what derives from them.

        Without ``prepared`` every grid is priced now and the linear P&L swept in full.
        With it the worker's grids and linear P&L are installed; then the spot moves since
        are followed as on any refresh (the grids' read point shifts), the underlyings whose
        option inputs (validity, vol, expiry, FX) changed since the worker copied them are
        repriced now (few: the inputs of one refresh interval), the Greeks stay (they do
        not depend on the scenarios; the daily sigmas follow the new factor vols), and the
        linear P&L sweeps only the factors whose exposure changed since."""
        self.options.view = view
        self.regime_conditioning = conditioning
        self.margin.invalidate()  # a full rebuild: margin at today's prices too
        as_of = self._as_of()
        if prepared is None:
            self._update_instruments(np.arange(self.n), as_of=as_of, force_grid=True)
            self.linear.sync(view.scenarios, self.qty, full=True)
            return
        self.options.install(prepared.built)
        self.linear.install(prepared.lin_pnl, prepared.exposure)
        self._update_instruments(np.arange(self.n), as_of=as_of, greeks=False)
        redo = prepared.inputs.differ(self.options.capture(), self.ref.opt_owner)
        if redo.size:
            for k in redo:
                self.options.build_grid(int(k))
            self.options.greeks(redo)
            self.options.rebuild_books(redo)
        self.linear.sync(view.scenarios, self.qty)

    def _swap_in(self) -> None:
        """Adopt what the worker has finished (top of a refresh, on the engine's thread)."""
        if self._worker is None:
            return
        try:
            done, prepared = self._worker.take("regime")
        except Exception:
            self._regime_switch = None  # the switch failed: say so, and keep the one in force
            raise
        if done:
            self._regime_switch = None
            self._adopt_view(prepared.view, prepared.conditioning, prepared)
        done, margin = self._worker.take("span")
        if done:
            self.margin.in_force = margin

    def wait_background(self, timeout: float | None = None) -> None:
        """Block until the worker's jobs queued so far are finished (their results are
        adopted at the next refresh). For tests and shutdown, never the hot path."""
        if self._worker is not None:
            self._worker.wait(timeout)

    def close(self) -> None:
        """Stop the background worker (if any)."""
        if self._worker is not None:
            self._worker.close()

    # ------------------------------------------------------------------ positions

    @_with_threads
    def set_positions(self, positions: pl.DataFrame, books: pl.DataFrame, rebuild: bool = True):
        """Replace the positions (and books). Unknown instruments are excluded and listed.

        The documented path is the inbox: the position keeper's ``PositionsChanged``
        through :meth:`send`; this direct call remains for building and tests.

        Raises
        ------
        InputError
            A quantity is NaN or infinite.
        """
        self.positions.replace(positions, books)
        self.margin.invalidate()
        if rebuild:
            every = np.arange(self.ref.n_underlyings)
            self.options.greeks(every)
            self.options.rebuild_books(every)
            self.linear.sync(self.scenarios, self.qty, full=True)

    @_with_threads
    def apply_trade(self, book_id: int, instrument_id: int, quantity: float) -> None:
        """Add ``quantity`` of an instrument to a book (a new position if needed).

        The documented path is the inbox (the keeper's ``PositionsChanged``)."""
        self.positions.add(book_id, instrument_id, quantity)
        if self.ref.asset_class[instrument_id] in (FUTURE, OPTION):
            self.margin.invalidate()  # the derivatives book changed: SPAN again
        k = self.ref.opt_index[instrument_id]
        if k >= 0:
            owner = np.array([self.ref.opt_owner[k]])
            self.options.greeks(owner)
            self.options.rebuild_books(owner)
        self.linear.sync(self.scenarios, self.qty)

    # ------------------------------------------------------------------ updates

    def _as_of(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock.now_ns() / 1e9, tz=dt.UTC).date()

    def _update_instruments(
        self,
        ids: np.ndarray,
        as_of: dt.date,
        force_grid: bool = False,
        rebuild_us: np.ndarray | None = None,
        books_us: np.ndarray | None = None,
        greeks: bool = True,
    ) -> np.ndarray:
        """Re-derive prices, validity and loadings of ``ids`` and everything depending on them.

        ``rebuild_us``: underlyings whose grids are rebuilt (their live vols moved past the
        threshold); ``books_us``: underlyings whose Greeks and books are recomputed on their
        grids as they are (an FX rate rescaled them); ``greeks`` off: the option Greeks
        stay, only their daily sigmas are recomputed (a new scenario set). Returns the
        underlyings whose Greeks and books were recomputed."""
        ref, options = self.ref, self.options
        n_u = ref.n_underlyings
        ids = np.asarray(ids, dtype=np.int64)
        rebuild_us = np.empty(0, np.int64) if rebuild_us is None else rebuild_us
        books_us = np.empty(0, np.int64) if books_us is None else books_us
        if ids.size == 0:
            extra = members(n_u, rebuild_us, books_us)
            if extra.size:
                options.update_underlyings(extra, False, rebuild_us, greeks)
            return extra
        # Options whose underlying changed are touched too; their books are revalued. An
        # option's own quote does not move its model value: its book is revalued only if
        # its validity changes (or a grid rebuild is forced).
        touched_ids = np.zeros(self.n + 1, dtype=bool)  # last slot: no underlying (-1)
        touched_ids[ids] = True
        moved_books = np.flatnonzero(touched_ids[ref.und_ids])
        if ref.opt_ids.size:
            dep = ref.opt_ids[touched_ids[ref.underlying[ref.opt_ids]]]
            ids = members(self.n, ids, dep)
        d = self.live_marks.derive(ids, self.market, as_of, self.factor_vol, options.implied_vol)
        valid = self.live_marks.reason[ids] == VALUED
        ac = ref.asset_class[ids]
        is_opt = ac == OPTION
        oi = ids[is_opt]
        options.opt_expiry[ref.opt_index[oi]] = d.opt_expiry
        flipped_deriv = (valid != d.was_valid) & ((ac == FUTURE) | is_opt)
        if np.any(flipped_deriv & (self.qty[ids] != 0)):
            self.margin.invalidate()  # a held derivative became (in)valid: SPAN again
        self.linear.set_loadings(ids, d.lin_f, d.lin_s)
        options.set_model_values(oi)
        if oi.size:
            flipped = oi[valid[is_opt] != d.was_valid[is_opt]]
            owners = ref.opt_owner[ref.opt_index[oi if force_grid else flipped]]
            touched = np.union1d(moved_books, owners)
        else:
            touched = moved_books
        touched = members(n_u, touched, rebuild_us, books_us)
        if touched.size:
            options.update_underlyings(touched, force_grid, rebuild_us, greeks)
        return touched

    # ------------------------------------------------------------------ refresh

    @_with_threads
    def refresh(self, now_ns: int | None = None) -> RiskSnapshot:
        """Adopt finished background work, apply queued messages and market changes since
        the last refresh, recompute and publish a snapshot."""
        self._swap_in()
        self._drain_inbox()
        changed = self.market.take_updated()
        as_of = self._as_of()
        ts = int(self.clock.now_ns() if now_ns is None else now_ns)
        # FX first (it rescales option grids), then the vols (solved at the new spots)
        fx_books = self._follow_fx(changed)
        vol_ids, rebuild_us, vol_greeks = self.options.follow_vols(self.market, changed, as_of, ts)
        ids = members(self.n, changed, vol_ids)
        if ids.size or rebuild_us.size or fx_books.size:
            done = self._update_instruments(ids, as_of, rebuild_us=rebuild_us, books_us=fx_books)
            if done.size:  # their Greeks are already at the live vols
                vol_greeks = vol_greeks[~np.isin(vol_greeks, done)]
        if vol_greeks.size:
            # vols moved less than the rebuild threshold: the grids (and so the scenario
            # P&L) stay, the Greeks follow the live vols
            self.options.greeks(vol_greeks)
        self._refreshes += 1
        full = self._refreshes % self.config.full_recompute_every == 0
        self.linear.sync(self.scenarios, self.qty, full=full)
        if full:
            # SPAN margin is recomputed on full refreshes and when the derivatives book or
            # its validity changes, not on every tick (clearing houses margin a few times a
            # day); the variation margin follows the scenario's losses at every refresh
            self.margin.invalidate()
        snap = self.compute(now_ns)
        self.last_snapshot = snap
        self.last_refresh_ns = snap.ts_ns
        if self.publish is not None:
            self.publish(snap)
        if self.cache is not None:
            self.cache["risk:snapshot"] = snap.as_dict()
        return snap

    def _follow_fx(self, changed: np.ndarray) -> np.ndarray:
        """Follow the FX spot quotes: when one moved, every currency's rate is re-derived,
        and the instruments of the currencies whose rate changed are translated again.

        Translation is done in place: every per-unit base-currency quantity of an
        instrument (loadings, value, delta, gamma, vega, DV01, daily sigma; option grids and
        their values now) is linear in its currency's rate, so it is multiplied by the rate
        ratio, and so are the option books (grid, value now, scenario P&L) of underlyings
        whose options are all in that currency — no repricing. Returns the option
        underlyings whose books must be recomputed (those with options in several
        currencies). SPAN margin follows at the next full refresh (as for vols): clearing
        houses margin a few times a day, and a tick must not pay for a rescan."""
        code_ratio = self.live_marks.follow_fx(self.market, changed, force=self._fx_published)
        self._fx_published = False
        if code_ratio is None:
            return np.empty(0, dtype=np.int64)
        ratio = code_ratio[self.ref.ccy_code]
        ids = np.flatnonzero(ratio != 1.0)
        self.linear.rescale(ids, ratio[ids])
        return self.options.rescale_fx(code_ratio)

    # ------------------------------------------------------------------ P&L

    def exposures(self) -> np.ndarray:
        """Linear factor exposures of the portfolio, shape (n_factors,), base currency."""
        return self.linear.exposures(self.qty)

    @_with_threads
    def portfolio_pnl(self, horizon_days: int) -> np.ndarray:
        """Portfolio P&L in every scenario of a horizon, shape (n_scenarios,)."""
        out = self.linear.lin_pnl[horizon_days].copy()
        if self.ref.n_underlyings:
            out += self.options.pnl_sum(horizon_days)
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
        self.linear.unit_rows(rows_t, inst, out)
        is_opt, opt_out = self.options.unit_rows(rows_t, inst)
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
        self.linear.unit_weighted(moves, inst, out)
        is_opt, opt_out = self.options.unit_rows(shock_rows.T, inst)
        opt_sums = np.empty((weights.shape[0], is_opt.size))
        weighted_rows(opt_out, weights, opt_sums)  # not BLAS: its idle threads spin
        out[:, is_opt] += opt_sums
        return out

    def trade_pnl(self, horizon_days: int, instrument_id: int, quantity: float) -> np.ndarray:
        """Scenario P&L of a hypothetical trade (for incremental VaR), shape (n_scenarios,)."""
        if not (0 <= instrument_id < self.n):
            raise InputError("instrument_id", instrument_id, f"an id in 0..{self.n - 1}")
        code = int(self.live_marks.reason[instrument_id])
        if code != VALUED:
            raise InputError(
                "instrument_id", instrument_id, f"a priced instrument ({REASONS[code]})"
            )
        shocks = self.scenarios.shocks[horizon_days]
        pnl = self.linear.trade_pnl(shocks, instrument_id)
        o = self.ref.opt_index[instrument_id]
        if o >= 0:
            pnl += self.options.trade_pnl(shocks, int(o))
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

    # ------------------------------------------------------------------ margin

    def _span_inputs(self) -> SpanInputs:
        marks = self.live_marks
        return SpanInputs(
            self.qty.copy(),
            marks.unit_value.copy(),
            marks.reason == VALUED,
            marks.price.copy(),
            self.options.implied_vol.copy(),
            marks.fx.copy(),
            self.options.opt_expiry.copy(),
        )

    @_with_threads
    def span_margin(self) -> tuple[float, float]:
        """SPAN initial margin of the futures and options held now: (normal, stressed),
        base ccy (:meth:`riskstream.risk.margin.SpanMargin.compute`), computed now."""
        return self.margin.compute(self._span_inputs())

    def _margin_in_force(self) -> tuple[float, float]:
        """The SPAN margin the snapshot reports. When stale it is recomputed: inline, or
        with ``background_recompute`` on the worker while the margin in force is reported
        (a first margin is always computed inline)."""
        m = self.margin
        if m.in_force is None or m.stale:
            if self._worker is not None and m.in_force is not None:
                if not self._worker.pending("span"):
                    self._worker.submit("span", m.compute, self._span_inputs())
                    m.stale = False
            else:
                m.in_force = m.compute(self._span_inputs())
                m.stale = False
        assert m.in_force is not None
        return m.in_force

    # ------------------------------------------------------------------ snapshot

    @_with_threads
    def compute(self, now_ns: int | None = None) -> RiskSnapshot:
        """Compute a snapshot from the current state (no publication)."""
        cfg, marks, qty = self.config, self.live_marks, self.qty
        ts = int(self.clock.now_ns() if now_ns is None else now_ns)
        valuation = marks.freeze(self.positions.version)
        valid = valuation.valued
        liq = self.liquidity.costs(
            ts, self.market.spread, self.market.mid, qty, marks.unit_value, marks.unit_sigma, valid
        )
        margin = self._margin_in_force()
        position_value = marks.unit_value * qty * valid
        measures: list[Measure] = []
        head = None
        for h in self.horizons:
            for lv in self.var_method.levels(self, h, cfg.confidence_levels):
                funding = self.liquidity.funding(qty * lv.unit_var, h, liq, position_value, margin)
                measures.append(
                    Measure(
                        float(lv.confidence),
                        int(h),
                        float(lv.var) + 0.0,  # + 0.0: no "-0.0" for an empty book
                        float(lv.es) + 0.0,
                        float(lv.var + liq.spread + liq.impact + funding.financing_cost),
                        liq.spread,
                        liq.impact,
                        liq.impact_std,
                        funding.financing_cost,
                        funding.variation_margin,
                        funding.initial_margin_call,
                        funding.haircut_call,
                        funding.initial_margin,
                        funding.forced_sale,
                        float(lv.var_kernel_scale),
                    )
                )
                if head is None:
                    head = lv
        assert head is not None
        comp_var = qty * head.unit_var
        comp_es = qty * head.unit_es
        return RiskSnapshot(
            ts_ns=ts,
            market_seq_max=int(self.market.seq.max()) if self.n else 0,
            market_seq_digest=digest(self.market.seq),
            positions_digest=self.positions.digest,
            config_fingerprint=self._config_fingerprint,
            scenarios_fingerprint=self.scenarios.fingerprint,
            method=cfg.method,
            n_scenarios=self.n_scen,
            measures=tuple(measures),
            top_contributors=self.builder.top(comp_var, comp_es, qty),
            component_var=comp_var,
            component_es=comp_es,
            greeks=self.builder.greeks(valuation, qty, marks.unit_dv01),
            aggregates=self.builder.aggregates(self.positions, head.unit_var, head.unit_es),
            excluded=self.builder.exclusions(self.positions, valuation),
            model_warnings=self.scenarios.model_warnings,
            regime_conditioning=(
                None if self.regime_conditioning is None else self.regime_conditioning.as_dict()
            ),
            regime_switch=self.regime_switch_pending,
            fx_to_base=dict(marks.fx_to_base),
            marks=self.marks(),
            valuation=valuation,
        )

    def marks(self) -> dict[str, Any]:
        """The live marks in force: FX and implied-vol state, and how often each moved."""
        opt = self.options
        valid = opt.implied_vol[self.ref.opt_ids]
        valid = valid[np.isfinite(valid)]
        return {
            "fx_updates": self.live_marks.fx_updates,
            "fx_reference_currencies": list(self.live_marks.fx_reference_currencies),
            "vol_moves": opt.vol_moves,
            "vol_grid_rebuilds": opt.vol_rebuilds,
            "flagged_quotes": dict(opt.vols.flag_counts),
            "flagged_now": opt.vols.flagged_now(),
            "median_implied_vol": float(np.median(valid)) if valid.size else None,
        }
