"""The market simulator: L3 order flow and L1 quotes for every instrument of a universe.

:class:`MarketSimulator` couples the latent market (:mod:`riskstream.feeds.market_model`:
factors, regimes, jumps, volatility surface, yield curve, FX carry, scenarios) with the
order-flow kernels (:mod:`riskstream.feeds.orderflow`) and hands out fixed-size batches of
:data:`riskstream.core.EVENT_DTYPE` events, deterministic by seed.

Stream invariants (tested in ``tests/feeds``):

* every event has ``EventFlag.SIMULATED``; prices are fixed point on the instrument's tick
  grid; ``seq`` is contiguous per (``source``, ``instrument_id``) from 1; ``ts_event`` never
  decreases across the stream; ``ts_recv = ts_event + latency`` with latency >= 0;
* each instrument's stream opens with a ``CLEAR`` and its initial book (SNAPSHOT-flagged
  ``ADD`` orders, or a two-sided ``QUOTE`` for OTC instruments) at the start time;
* exchange-traded instruments (equity, future, option) get L3 flow whose implied book is
  never crossed or locked, and whose modifies, cancels and trades only reference live orders
  (a ``TRADE`` carries the resting order's side and at most its remaining size);
* OTC instruments (fx, bond) get two-sided ``QUOTE`` updates, never crossed;
* arrival rates are proportional to ADV within an asset class (class shares in
  ``config.event_share``), with an intraday U-shape and regime-dependent activity.

``source`` is the venue of the instrument's ``exchange`` (:data:`VENUES`).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.clock import NS_PER_S, Clock
from riskstream.core.errors import InputError
from riskstream.core.events import empty_events, to_fixed
from riskstream.core.instruments import ASSET_CLASSES, Universe
from riskstream.feeds.config import ManipulationConfig, SimulatorConfig
from riskstream.feeds.manipulation import MAX_ACTION_EVENTS, Manipulators
from riskstream.feeds.market_model import MarketModel
from riskstream.feeds.orderflow import (
    MAX_EVENTS_PER_ARRIVAL,
    RESERVE_UNIFORMS,
    SLOTS,
    generate_events,
    market_order,
    snapshot_events,
    snapshot_size,
    snapshot_uniforms,
)
from riskstream.feeds.scenarios import build_scenario

VENUES: dict[str, tuple[int, str]] = {
    # Americas
    "XNYS": (1, "americas"), "XNAS": (2, "americas"), "XCBO": (3, "americas"),
    "XTSE": (4, "americas"), "XMOD": (5, "americas"),
    "XCME": (10, "americas"), "XCBT": (11, "americas"), "XNYM": (12, "americas"),
    "XCEC": (13, "americas"), "IFUS": (14, "americas"),
    # Europe
    "XLON": (20, "europe"), "XETR": (21, "europe"), "XPAR": (22, "europe"),
    "XAMS": (23, "europe"), "XSWX": (24, "europe"), "XEUR": (25, "europe"),
    "IFLL": (26, "europe"), "IFEU": (27, "europe"),
    # Asia-Pacific
    "XTKS": (30, "asia"), "XOSE": (31, "asia"), "XHKG": (32, "asia"), "XHKF": (33, "asia"),
    "XASX": (34, "asia"), "XSFE": (35, "asia"),
    # Over the counter: dealer quotes (FX, bonds)
    "OTC": (100, "otc"),
}  # fmt: skip
"""Venue id (the events' ``source``) and region of each exchange (ISO 10383 MIC).
Exchanges not listed get ids from ``UNKNOWN_VENUE_BASE`` up, in sorted order of name."""

UNKNOWN_VENUE_BASE = 1000

LATENCY_US: dict[str, tuple[float, float]] = {
    "americas": (40.0, 20.0),
    "europe": (80.0, 40.0),
    "asia": (150.0, 60.0),
    "otc": (250.0, 150.0),
    "other": (200.0, 100.0),
}
"""Simulated feed latency by region: a fixed part and the mean of an exponential jitter, in
microseconds (``ts_recv - ts_event``)."""

EXCHANGE_TRADED = ("equity", "future", "option")
BOOK_ORDERS_PER_SIDE = {"equity": 8, "future": 10, "option": 5}
"""Resting orders per side the simulated books hold in a calm market at midday."""
TRADE_SHARE = 0.13
"""Approximate share of L3 arrivals that are trades; sizes are set so that simulated daily
volume is about the instrument's ADV."""
OTC_QUOTE_SHARE_OF_ADV = 1e-4
"""Size at the dealer's best quote as a share of ADV (EURUSD: about 15 million)."""

PERMANENT_IMPACT = 0.314
"""Permanent impact of an outside order, :math:`\\Delta \\ln P = \\gamma\\,\\sigma\\,X/V`
(daily volatility :math:`\\sigma`, quantity :math:`X`, daily volume :math:`V`): the
coefficient :math:`\\gamma = 0.314` estimated on US equity orders by Almgren, Thum,
Hauptmann & Li, "Direct estimation of equity market impact", *Risk* 18 (2005), eq. (13), with
their turnover factor :math:`(\\Theta/V)^{1/4}` taken as 1 (we have no share counts, which
understates the impact of a large order in a stock that turns over slowly). The temporary part
is not a formula here: the order walks the simulated book and pays what it takes."""

ORDER_COLLAR = 0.05
"""An outside marketable order takes no resting order priced more than this fraction of the
mid away (the 5% limit-up/limit-down band of US Tier 1 stocks, SEC release 34-67091, 2012);
the rest of it is cancelled."""


@dataclass(frozen=True)
class Execution:
    """What the simulated venue did with one outside order.

    ``filled`` is signed like the order (units, 0 when nothing was taken), ``avg_price`` the
    average executed price (NaN when nothing filled), ``mid_before`` and ``mid_after`` the
    venue's touch mid before the order and the fair value it quotes around after it (the
    permanent impact), ``ts_ns`` the market time the order reached the venue.
    """

    instrument_id: int
    quantity: float
    filled: float
    avg_price: float
    mid_before: float
    mid_after: float
    ts_ns: int


def venue_ids(exchanges: np.ndarray | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Venue id (uint16) and region name of each exchange (see :data:`VENUES`)."""
    names = np.asarray(exchanges, dtype=str)
    unknown = sorted(set(names.tolist()) - set(VENUES))
    table = dict(VENUES)
    table.update({name: (UNKNOWN_VENUE_BASE + k, "other") for k, name in enumerate(unknown)})
    ids = np.array([table[x][0] for x in names], dtype=np.uint16)
    regions = np.array([table[x][1] for x in names], dtype=object)
    return ids, regions


class MarketSimulator:
    """Deterministic multi-asset market simulator (see the module docstring).

    Parameters
    ----------
    universe : Universe
        The instruments to simulate (dense ids ``0 .. n-1``).
    config : SimulatorConfig, optional
        Seed, event rate, batch size, clock, regimes and scenario settings.
    scenario : str, optional
        A named scenario to inject (:data:`riskstream.feeds.scenarios.SCENARIOS`), e.g.
        ``"flash-crash"``.
    manipulation : ManipulationConfig, optional
        Name the trading accounts and add manipulative participants
        (:mod:`riskstream.feeds.manipulation`): :meth:`audit` then gives each batch's order
        audit trail and :meth:`order_labels` / :meth:`day_labels` the ground truth. Without
        it (the default: ``config.manipulation``, None unless set) the stream is exactly the
        one of a simulator built without it.

    Examples
    --------
    >>> sim = MarketSimulator(universe, SimulatorConfig(seed=1), scenario="flash-crash")
    >>> for events, now_ns in sim.batches(seconds=60):
    ...     pass
    """

    def __init__(
        self,
        universe: Universe,
        config: SimulatorConfig | None = None,
        scenario: str | None = None,
        manipulation: ManipulationConfig | None = None,
    ):
        config = config or SimulatorConfig()
        self.config = config
        self.universe = universe
        inst = universe.instruments
        n = inst.height
        if n == 0:
            raise InputError("universe", "an empty universe", "at least one instrument")
        self.start_ns = _start_ns(config, getattr(universe, "as_of", None))
        self.scenario_name = scenario
        structure, dynamics, flow = (
            np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
        )
        self._flow_rng = flow
        self.model = MarketModel(
            inst, config, self.start_ns, structure, dynamics,
            build_scenario(scenario, config) if scenario else None,
        )  # fmt: skip

        asset = inst["asset_class"].to_numpy()
        tick = inst["tick_size"].to_numpy()
        self._tick = tick
        tick_fixed = np.asarray(to_fixed(tick), dtype=np.int64)
        off_grid = np.abs(tick_fixed / 1e9 - tick) > 1e-12 * tick
        if off_grid.any() or (tick_fixed <= 0).any():
            bad = int(np.flatnonzero(off_grid | (tick_fixed <= 0))[0])
            raise InputError("tick_size", float(tick[bad]), "a multiple of 1e-9", f"id {bad}")
        lot = inst["lot_size"].to_numpy().astype(np.float64)
        source, region = venue_ids(inst["exchange"].to_numpy())
        self.source = source
        latency = np.array([LATENCY_US[r] for r in region]) * 1e3  # ns
        self._is_l3 = np.isin(asset, EXCHANGE_TRADED)
        self._spread_frac = 0.5e-4 * inst["spread_bps"].to_numpy()

        # Arrival weights: class shares, then proportional to ADV within the class, with a
        # floor so every instrument updates at least every `min_update_s` on average.
        adv = inst["adv"].to_numpy()
        shares = config.event_share.model_dump()
        # in a fixed order (not a set's), so the floating-point sums are the same every run
        present = {c: shares[c] for c in ASSET_CLASSES if shares[c] > 0 and (asset == c).any()}
        total_share = sum(present.values())
        weight = np.zeros(n)
        for cls, share in present.items():
            sel = asset == cls
            weight[sel] = share / total_share * adv[sel] / adv[sel].sum()
        otc_share = weight[~self._is_l3].sum()
        self._arrivals_per_s = config.events_per_s / (1.0 + otc_share)  # OTC emits 2 a time
        floor = 1.0 / (config.min_update_s * self._arrivals_per_s)
        weight = np.maximum(weight, floor)
        weight /= weight.sum()
        self.arrivals_per_s = self._arrivals_per_s * weight  # per instrument, calm midday
        self._cum_weight = np.cumsum(weight)
        self._cum_weight[-1] = 1.0

        trades_per_day = self.arrivals_per_s * config.session_s * TRADE_SHARE
        self._trade_lots = np.maximum(adv / lot / trades_per_day - 1.0, 0.0)
        self._base_order_lots = np.where(
            self._is_l3,
            np.maximum(3.0 * (self._trade_lots + 1.0), 1.0),
            np.maximum(OTC_QUOTE_SHARE_OF_ADV * adv / lot, 1.0),
        )
        self._base_orders = np.array([BOOK_ORDERS_PER_SIDE.get(c, 0) for c in asset])

        # Kernel state.
        self._fair_ticks = np.empty(n)
        self._half_spread = np.empty(n)
        self._order_lots = np.empty(n)
        self._n_target = np.zeros(n, dtype=np.int64)
        self._book = (
            np.zeros((n, 2, SLOTS), dtype=np.uint64),  # order id
            np.zeros((n, 2, SLOTS), dtype=np.int64),  # price, ticks
            np.zeros((n, 2, SLOTS), dtype=np.int64),  # size, lots
            np.zeros((n, 2, SLOTS), dtype=np.int64),  # priority (time of last re-queue)
            np.zeros((n, 2), dtype=np.int64),  # live orders per side
            np.ones(n, dtype=np.uint64),  # next order id
            np.zeros(1, dtype=np.int64),  # priority counter
        )
        self._quotes = (np.zeros((n, 2), dtype=np.int64), np.zeros((n, 2), dtype=np.int64))
        self._params = (
            self._fair_ticks, self._half_spread, self._order_lots, self._trade_lots,
            self._n_target,
        )  # fmt: skip
        self._seq = np.zeros(n, dtype=np.uint64)
        self._sim = (
            self._seq, source, tick_fixed, lot,
            latency[:, 0].astype(np.int64), latency[:, 1],
        )  # fmt: skip
        self._update_params()
        self._daily_vol = np.nan_to_num(self.model.daily_vol(), nan=0.02)

        # The opening snapshot of every instrument, handed out first.
        snap_u = self._flow_rng.random(snapshot_uniforms(self._n_target) + 8)
        snapshot = empty_events(snapshot_size(self._n_target))
        count, _ = snapshot_events(
            snapshot, self.start_ns, snap_u, self._is_l3, self._book, self._quotes,
            self._params, self._sim,
        )  # fmt: skip
        self._pending = snapshot[:count]
        self._uniforms = np.empty(1 << 16)
        self._upos = len(self._uniforms)  # empty: drawn on first use
        self._out = empty_events(config.batch_events + MAX_EVENTS_PER_ARRIVAL)
        self._t_ns = self.start_ns
        # outside orders (execute_order) may come from another thread than the one that
        # reads the batches: both take this lock
        self.lock = threading.RLock()
        self._lot = lot
        self._adv = adv
        self._order_u = np.random.default_rng([config.seed, 0x0D]).random(2 * SLOTS + 2)
        self.orders_executed = 0
        self._step_ns = int(config.step_ms * 1e6)
        self._next_step_ns = self.start_ns + self._step_ns
        self._now_ns = self.start_ns
        self.events_emitted = 0
        self.manipulators: Manipulators | None = None
        manipulation = manipulation or config.manipulation
        if manipulation is not None:
            self.manipulators = Manipulators(manipulation, self)
            self._out = empty_events(
                config.batch_events + MAX_EVENTS_PER_ARRIVAL + MAX_ACTION_EVENTS
            )

    # ------------------------------------------------------------------ state

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the lock: a pickled simulator continues bit for bit where it was
        (random generators, books, pending events, market model), which is how a feed
        process checkpoints its position (:mod:`riskstream.runtime.feed`)."""
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    @property
    def now_ns(self) -> int:
        """Simulated time (ns since the epoch) at the end of the last batch."""
        return self._now_ns

    @property
    def elapsed_ns(self) -> int:
        """Simulated time since the start, ns."""
        return self._now_ns - self.start_ns

    @property
    def clock(self) -> Clock:
        """A :class:`~riskstream.core.clock.Clock` reading simulated time, for the stages
        downstream (so risk snapshots are stamped with market time, not the wall clock)."""
        return _SimulatedClock(self)

    @property
    def regime(self) -> int:
        """The true regime now: 0 calm, 1 volatile, 2 crisis."""
        return self.model.regime

    @property
    def fair_mid(self) -> np.ndarray:
        """The latent fair mid price of every instrument now, shape (N,) (read-only)."""
        view = self.model.fair.view()
        view.flags.writeable = False
        return view

    def regime_log(self) -> pl.DataFrame:
        """Every regime change up to now, from the start: ``ts`` (int64 ns), ``regime``
        (int8). The first row is the initial regime at the start time."""
        rows = [(t, r) for t, r in self.model.regime_changes if t <= self._now_ns]
        return pl.DataFrame(rows, schema={"ts": pl.Int64, "regime": pl.Int8}, orient="row")

    def scenario_log(self) -> pl.DataFrame:
        """Injected scenario phases begun so far: ``name``, ``phase``, ``start_ns``,
        ``end_ns``."""
        rows = [p for p in self.model.scenario_phases if p[2] <= self._now_ns]
        schema = {"name": pl.String, "phase": pl.String, "start_ns": pl.Int64, "end_ns": pl.Int64}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def scenario_phase(self) -> str | None:
        """``"<scenario>:<phase>"`` while a scenario phase runs now, else None."""
        for name, phase, start, end in self.model.scenario_phases:
            if start <= self._now_ns < end:
                return f"{name}:{phase}"
        return None

    # ------------------------------------------------------------------ events

    def _update_params(self) -> None:
        """Per-instrument kernel parameters from the market model's current state."""
        m = self.model
        np.divide(m.fair, self._tick, out=self._fair_ticks)
        # Target half-spread in ticks: the typical spread scaled by the liquidity multipliers
        # (regime, scenario, time of day), less the half tick that rounding the touch away
        # from the fair value adds on each side, so quoted spreads average the typical one;
        # at least a twentieth of a tick, so a tick-constrained book quotes one tick wide.
        np.multiply(self._spread_frac * m.spread_mult / self._tick, m.fair, out=self._half_spread)
        self._half_spread -= 0.5
        np.maximum(self._half_spread, 0.05, out=self._half_spread)
        thin = np.sqrt(m.depth_mult)
        otc_thin = m.depth_mult
        np.maximum(
            1.0,
            self._base_order_lots * np.where(self._is_l3, thin, otc_thin),
            out=self._order_lots,
        )
        self._n_target[:] = np.clip(np.round(self._base_orders * thin), 2, SLOTS - 2)
        self._rate_per_ns = self._arrivals_per_s * m.activity_mult / NS_PER_S

    def execute_order(self, instrument_id: int, quantity: float) -> Execution:
        """Execute an outside marketable order of signed ``quantity`` units (a sell < 0)
        now, at the simulator's current market time, against the simulated market.

        Exchange-traded instruments: the order walks the instrument's L3 book from the best
        order down (:func:`~riskstream.feeds.orderflow.market_order`), within the price
        collar :data:`ORDER_COLLAR`; every order it takes is a ``TRADE`` event in the
        stream, handed out before any later event, so md's books lose the depth. OTC
        instruments: the dealer fills its quoted size at its quote and each further quoted
        size one spread worse, within the same collar (dealer trades are not on the feed).
        Then the fair value moves by the permanent impact (:data:`PERMANENT_IMPACT`); the
        participants react from their next arrival: arbitrageurs take orders left stale
        by the move, liquidity providers re-quote and refill the depth taken at the rate
        their orders arrive (the book's resilience is their arrival rate, not a parameter).
        """
        if not math.isfinite(quantity) or quantity == 0:
            raise InputError("quantity", quantity, "a non-zero finite order quantity")
        i = int(instrument_id)
        if not 0 <= i < len(self._tick):
            raise InputError("instrument_id", i, f"an id in 0..{len(self._tick) - 1}")
        with self.lock:
            # a nanosecond after the last event generated: the stream stays in time order
            ts = self._t_ns = self._t_ns + 1
            lot, tick = self._lot[i], self._tick[i]
            want = round(abs(quantity) / lot)
            side = 0 if quantity < 0 else 1  # a sell takes the bids (side 0)
            sign = -1.0 if quantity < 0 else 1.0
            fair = float(self.model.fair[i])
            if self._is_l3[i]:
                bid, ask = self._touch(i)
                mid = 0.5 * (bid + ask) if bid and ask else fair
                limit = mid * (1.0 + sign * ORDER_COLLAR) / tick
                limit_ticks = math.ceil(limit) if side == 0 else math.floor(limit)
                out = empty_events(2 * SLOTS + 2)
                count, lots, notional, _ = market_order(
                    out, ts, self._order_u, i, side, want, limit_ticks, self._book, self._sim
                )
                if count:
                    self._pending = np.concatenate([self._pending, out[:count]])
                    if self.manipulators is not None:
                        self.manipulators.outside_trades(out[:count])
                filled, avg = lots * lot, notional * tick / lots if lots else math.nan
            else:
                q_px, q_lots = self._quotes
                bid, ask = q_px[i, 0] * tick, q_px[i, 1] * tick
                mid = 0.5 * (bid + ask)
                spread = max(ask - bid, tick)
                touch = bid if side == 0 else ask
                size = max(int(q_lots[i, side]), 1)
                tranches = min(-(-want // size), int(ORDER_COLLAR * mid / spread) + 1)
                lots = min(want, tranches * size)
                full, rest = divmod(lots, size)
                k = np.arange(full)
                value = (size * (touch + sign * spread * k)).sum() + rest * (
                    touch + sign * spread * full
                )
                filled, avg = lots * lot, value / lots if lots else math.nan
            if filled:
                sigma = float(self._daily_vol[i])
                move = PERMANENT_IMPACT * sigma * filled / max(self._adv[i], lot)
                self.model.add_impact(i, sign * move if math.isfinite(move) else 0.0)
                self._update_params()
            self.orders_executed += 1
            return Execution(
                i, float(quantity), sign * filled, float(avg), float(mid),
                float(self.model.fair[i]), int(ts),
            )  # fmt: skip

    def _touch(self, i: int) -> tuple[float, float]:
        """Best bid and ask of an exchange-traded instrument's simulated book now (0 where a
        side is empty)."""
        _, ob_px, _, _, ob_n, _, _ = self._book
        tick = self._tick[i]
        bid = ob_px[i, 0, : ob_n[i, 0]].max() * tick if ob_n[i, 0] else 0.0
        ask = ob_px[i, 1, : ob_n[i, 1]].min() * tick if ob_n[i, 1] else 0.0
        return float(bid), float(ask)

    def next_batch(self) -> np.ndarray:
        """The next ``config.batch_events`` events (EVENT_DTYPE), in ``ts_event`` order."""
        with self.lock:
            return self._next_batch()

    def _next_batch(self) -> np.ndarray:
        size = self.config.batch_events
        if len(self._pending) >= size:
            batch, self._pending = self._pending[:size].copy(), self._pending[size:]
        else:
            out = self._out
            n = len(self._pending)
            out[:n] = self._pending
            manip = self.manipulators
            while n < size:
                if self._t_ns >= self._next_step_ns:
                    self.model.step(self._next_step_ns)
                    self._update_params()
                    self._next_step_ns += self._step_ns
                stop_ns = self._next_step_ns
                if manip is not None:
                    if self._t_ns >= manip.due_ns:  # a manipulator acts now
                        acted = manip.act(self._t_ns)
                        out[n : n + len(acted)] = acted
                        n += len(acted)
                        continue
                    stop_ns = min(stop_ns, manip.due_ns)
                if self._upos >= len(self._uniforms) - RESERVE_UNIFORMS:
                    self._flow_rng.random(out=self._uniforms)
                    self._upos = 0
                n0 = n
                n, self._t_ns, self._upos = generate_events(
                    out, n, size, self._t_ns, stop_ns, self._rate_per_ns,
                    self._uniforms, self._upos, self._cum_weight, self._is_l3, self._book,
                    self._quotes, self._params, self._sim,
                )  # fmt: skip
                if manip is not None:
                    manip.observe(out[n0:n])
            batch = out[:size].copy()
            self._pending = out[size:n].copy()
        self._now_ns = max(self._now_ns, int(batch["ts_event"][-1]))
        self.events_emitted += len(batch)
        return batch

    # ------------------------------------------------------------------ audit trail

    def _require_manipulation(self) -> Manipulators:
        if self.manipulators is None:
            raise InputError(
                "manipulation", None, "a ManipulationConfig (the simulator names no accounts)"
            )
        return self.manipulators

    def audit(self, events: np.ndarray) -> np.ndarray:
        """The order audit trail of ``events`` handed out by this simulator: one
        :data:`~riskstream.core.audit.ORDER_AUDIT_DTYPE` record per event (who owns each
        order, who took it). Needs ``manipulation``."""
        return self._require_manipulation().audit(events)

    def order_labels(self) -> np.ndarray:
        """Ground truth per manipulative order so far (ORDER_LABEL_DTYPE)."""
        return self._require_manipulation().order_labels()

    def day_labels(self) -> np.ndarray:
        """Ground truth per (participant, day, typology) up to now (DAY_LABEL_DTYPE)."""
        return self._require_manipulation().day_labels(self._now_ns)

    def batches(
        self, seconds: float | None = None, until_ns: int | None = None
    ) -> Iterator[tuple[np.ndarray, int]]:
        """Batches and the simulated time after each, for ``seconds`` of simulated time from
        now (forever if None), or until simulated time ``until_ns``. The last batch is cut at
        the end time, so the events cover exactly ``[now, now + seconds)``; what is cut is
        kept for the next batch."""
        end_ns = None if seconds is None else self._now_ns + round(seconds * NS_PER_S)
        if until_ns is not None:
            end_ns = int(until_ns) if end_ns is None else min(end_ns, int(until_ns))
        while True:
            if end_ns is not None and self._now_ns >= end_ns:
                return
            with self.lock:
                batch = self._next_batch()
                cut = end_ns is not None and batch["ts_event"][-1] >= end_ns
                if cut:
                    keep = int(np.searchsorted(batch["ts_event"], end_ns, side="left"))
                    self._pending = np.concatenate([batch[keep:], self._pending])
                    self.events_emitted -= len(batch) - keep
                    self._now_ns = end_ns
            if cut:
                if keep:
                    yield batch[:keep], end_ns
                return
            yield batch, self._now_ns


def _start_ns(config: SimulatorConfig, as_of: dt.date | None) -> int:
    """Simulated start: ``config.start`` (naive means UTC), else the session open on the
    universe's ``as_of`` date."""
    if config.start is not None:
        start = config.start
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
    else:
        day = as_of or dt.date(2024, 6, 28)
        start = dt.datetime.combine(day, config.session_open_utc, tzinfo=dt.UTC)
    return int(start.timestamp()) * NS_PER_S + start.microsecond * 1000


__all__ = ["VENUES", "MarketSimulator", "venue_ids"]


class _SimulatedClock:
    """The simulator's time as a :class:`~riskstream.core.clock.Clock`."""

    def __init__(self, simulator: MarketSimulator):
        self._simulator = simulator

    def now_ns(self) -> int:
        return self._simulator.now_ns
