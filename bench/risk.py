"""Benchmark of the real-time risk engine at reference size, marked live: refresh latency.

The reference universe (``--instruments``, default 10,000 with 3,000 options, 70% of them
American) at its reference prices, ``--scenarios`` (default 10,000) scenarios per horizon
(the scenario source of ``riskstream.cli.engine.build_engine``), the default risk config (VaR
and ES at 99% and 97.5%, 1 and 10 days, L-VaR with its spread, impact and funding parts,
Euler contributions per instrument and per desk/strategy/trader/asset class).

**The market, fixed before measuring** (never tuned to pass). Each cycle is 100 ms of market
time (the clock advances 100 ms). An instrument that ticks in a cycle moves by a normal draw
of its daily vol scaled to 100 ms of a 6.5-hour trading day (``sigma_d * sqrt(0.1 / 23,400)``;
``sigma_d`` is the scenario set's daily vol of the instrument's spot factor, 0.3% where it
has none, e.g. bonds). Each underlying's implied-vol surface moves as a whole: its ATM level
follows a log random walk with a daily vol-of-vol of ``--vol-of-vol`` (default 6%, about the
daily log-change s.d. of the VIX), scaled to 100 ms. Option quotes move with their
underlying and their surface: an option that ticks is quoted at its model value (Barone-
Adesi-Whaley for American, Black-Scholes-Merton / Black-76 for European) at the underlying's
price and its vol, with bid and ask half the instrument's spread (``spread_bps``) either side,
rounded outward to the tick (a bid that rounds to zero leaves a one-sided quote, as on an
exchange). FX spot quotes move with the FX rates' daily vol, so every currency's rate to the
base moves (``fx_moves``).

One *refresh* = what the engine does per snapshot: follow the FX quotes (re-translate the
instruments of the currencies that moved), read the updated option quotes into the live vol
surface (quote checks, implied vols, sticky-strike fill; grids rebuilt where a held
option's vol moved past the threshold), re-derive the touched instruments and recompute
every figure of the snapshot. Writing the market state (the md stage's job) is not timed.

* ``p50_ms`` / ``p99_ms`` / ``p999_ms``: **the demo's live load**: per cycle a share
  ``--tick-fraction`` of instruments moves its mid and ``--touch-fraction`` (in all) is
  updated by md — the p99 shares the demo's market data produces at the simulator's default
  event rate, measured by ``--calibrate 30`` (see ``demo_rates``).
* ``full_*``: every instrument moves every cycle (the worst case: every quote, every option
  book, every FX rate).
* ``cpu_*``: process CPU time per refresh (all threads), beside the wall-clock figures.
* ``switch_*`` (only with ``--regime-switch``: ``risk.regime_conditional`` and
  ``risk.background_recompute`` on): after the live cycles a regime switch (s = 1.6,
  θ = 1.2, the demo model's crisis) is sent and live cycles go on until a refresh adopts it:
  ``switch_pending_p50_ms``/``p99`` are the refreshes while it is prepared on the worker
  (``switch_pending_thread_cpu_*``: the engine thread's own CPU time in them, so that waiting
  for a core or the GIL shows as the difference),
  ``switch_swap_ms`` the refresh that swapped it in, ``switch_ready_s`` request to
  adoption (wall); ``switch_inline_s`` the same switch computed inline
  (``condition_on_regime``) for comparison; ``grid_build_ms_p50``/``p99`` one held
  underlying's grid rebuild (what a vol move past the threshold costs inline).

Each figure is over ``--cycles`` refreshes after one warm-up (numba compilation and grid
building excluded, reported as ``build_s``). Prints one JSON object as the last line.

    PYTHONPATH=src nice python bench/risk.py --cycles 1000
    PYTHONPATH=src python bench/risk.py --calibrate 30   # the demo's rates
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import time

import numpy as np

from riskstream.cli.engine import build_engine, implied_vols, option_rates, simulated_history
from riskstream.core.clock import ManualClock
from riskstream.core.messages import RegimeChanged
from riskstream.core.state import MarketState
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.pricing import baw_price, bsm_price
from riskstream.risk.conditioning import RegimeConditioning
from riskstream.risk.config import RiskConfig
from riskstream.risk.factors import year_fraction

CYCLE_NS = 100_000_000  # 100 ms of market time per cycle
DAY_S = 6.5 * 3600.0  # a trading day
SCALE = np.sqrt(CYCLE_NS / 1e9 / DAY_S)  # daily vol -> per-cycle vol


def quote(
    state: MarketState, ids: np.ndarray, tick: np.ndarray, half: np.ndarray, now_ns: int
) -> None:
    """Quote ``ids`` around their mid as md would write them: bid and ask ``half`` (relative)
    either side, rounded outward to the tick, stamped ``now_ns``, flagged updated."""
    mid, t = state.mid[ids], tick[ids]
    state.bid[ids] = np.floor(mid * (1 - half[ids]) / t) * t
    state.ask[ids] = np.maximum(np.ceil(mid * (1 + half[ids]) / t) * t, state.bid[ids] + t)
    state.spread[ids] = state.ask[ids] - state.bid[ids]
    state.last[ids] = mid
    state.ts_ns[ids] = now_ns
    state.seq[ids] += 1
    state.updated[ids] = True


class LiveMarket:
    """The bench's market: writes quotes into the state the engine reads (see module doc)."""

    def __init__(self, engine, universe, reference_vol: np.ndarray, vol_of_vol: float, rng) -> None:
        self.e, self.rng = engine, rng
        inst = universe.instruments
        self.tick = inst["tick_size"].fill_null(0.01).to_numpy().astype(np.float64)
        self.half_spread = 0.5 * inst["spread_bps"].to_numpy().astype(np.float64) * 1e-4
        spot_f = engine.space.spot_factor
        fv = engine.factor_vol[np.maximum(spot_f, 0)]
        self.sigma = np.where((spot_f >= 0) & (fv > 0), fv, 0.003) * SCALE
        self.is_opt = engine.opt_index >= 0
        self.opt = engine.opt_ids
        self.vol_level = np.zeros(engine.und_ids.size)  # log ATM level shift per underlying
        self.vol_of_vol = vol_of_vol * SCALE
        # Each option's vol before the market moves: the universe's own smile (the European
        # vols of its reference prices), else the engine's surface where that has none.
        ref = reference_vol[self.opt]
        self.base_vol = np.where(np.isfinite(ref) & (ref > 0), ref, engine.implied_vol[self.opt])

    def quote(self, ids: np.ndarray) -> None:
        quote(self.e.market, ids, self.tick, self.half_spread, self.e.clock.now_ns())

    def step(self, fraction: float, touched: float = 0.0) -> None:
        """One cycle: advance the clock, move the surfaces and the ticking instruments
        (share ``fraction``); a further share ``touched`` (of all instruments) is updated by
        md without a new mid (a size or depth change): flagged, re-read, not moved."""
        e, m, rng = self.e, self.e.market, self.rng
        e.clock.advance(CYCLE_NS)
        self.vol_level += rng.normal(0.0, self.vol_of_vol, self.vol_level.size)
        draw = rng.random(e.n)
        tick = draw < fraction
        flag = np.flatnonzero((draw >= fraction) & (draw < max(touched, fraction)))
        m.ts_ns[flag] = e.clock.now_ns()
        m.seq[flag] += 1
        m.updated[flag] = True
        lin = np.flatnonzero(tick & ~self.is_opt)
        m.mid[lin] *= np.exp(rng.normal(0.0, self.sigma[lin]))
        self.quote(lin)
        self.quote_options(np.flatnonzero(tick[self.opt]))

    def quote_options(self, o: np.ndarray) -> None:
        """Quote options ``o`` (option indices) at their model value now."""
        e, m = self.e, self.e.market
        if o.size:
            ids = self.opt[o]
            und = e.underlying[ids]
            spot = m.mid[und]
            vol = self.base_vol[o] * np.exp(self.vol_level[e.opt_owner[o]])
            as_of = dt.datetime.fromtimestamp(e.clock.now_ns() / 1e9, tz=dt.UTC).date()
            T = np.maximum(year_fraction(e.ref.expiry_days[ids], as_of), 1e-6)
            r = e.rate[ids]
            q = np.where(e.on_future[o], r, e.opt_q[o])
            k, c = e.strike[ids], e.is_call[ids]
            am = e.opt_american[o]
            px = np.where(
                am, baw_price(spot, k, T, r, q, vol, c), bsm_price(spot, k, T, r, q, vol, c)
            )
            ok = np.isfinite(px)
            m.mid[ids[ok]] = px[ok]
            self.quote(ids[ok])


def demo_rates(universe, seconds: float) -> dict[str, float]:
    """What share of instruments the demo's market data updates, and moves, per cycle.

    Runs the market simulator at its default settings (``SimulatorConfig()``: 200,000
    events/s) through the md stage for ``seconds`` of simulated time and counts, per 100 ms
    of event time, the instruments md flagged updated and those whose mid changed; the
    first 2 s (the opening snapshot) are left out.
    """
    from riskstream.feeds.config import SimulatorConfig
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.md.config import MdConfig
    from riskstream.md.stage import MdStage

    state = MarketState(len(universe))
    md = MdStage(len(universe), MdConfig(), state)
    simulator = MarketSimulator(universe, SimulatorConfig())
    updated, moved, cut, mid = [], [], None, state.mid.copy()
    for batch, now_ns in simulator.batches(seconds):
        md.on_batch(batch, now_ns)
        cut = now_ns + CYCLE_NS if cut is None else cut
        if now_ns >= cut:
            updated.append(state.take_updated().size / len(universe))
            moved.append(np.mean(np.isfinite(mid) & (state.mid != mid)))
            mid, cut = state.mid.copy(), cut + CYCLE_NS
    u, v = np.array(updated[20:]), np.array(moved[20:])
    return {
        "cycles": int(u.size),
        "updated_mean": round(float(u.mean()), 4),
        "updated_p99": round(float(np.percentile(u, 99)), 4),
        "moved_mean": round(float(v.mean()), 4),
        "moved_p99": round(float(np.percentile(v, 99)), 4),
    }


def cycle_times(
    market: LiveMarket, fraction: float, cycles: int, touched: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refresh ``cycles`` times, moving the market one cycle before each.

    Returns wall-clock and process CPU milliseconds per refresh, and the median live
    implied vol after each.
    """
    engine = market.e
    out, cpu, med = np.empty(cycles), np.empty(cycles), np.empty(cycles)
    for c in range(cycles):
        market.step(fraction, touched)
        start, start_cpu = time.perf_counter(), time.process_time()
        snap = engine.refresh()
        out[c] = (time.perf_counter() - start) * 1e3
        cpu[c] = (time.process_time() - start_cpu) * 1e3
        med[c] = snap.marks["median_implied_vol"]
    return out, cpu, med


def switch_figures(market: LiveMarket, fraction: float, touched: float) -> dict[str, float]:
    """A regime switch prepared on the worker while live cycles go on (module doc)."""
    engine = market.e
    crisis = RegimeConditioning("crisis", 1.6, 1.2)
    engine.send(
        RegimeChanged(
            ts_ns=engine.clock.now_ns(), regime=2, name="crisis", probabilities=(0.0, 0.0, 1.0),
            vol_multiplier=crisis.vol_multiplier,
            market_variance_ratio=crisis.market_variance_ratio,
        )
    )  # fmt: skip
    times, own, started = [], [], time.perf_counter()
    while True:
        market.step(fraction, touched)
        start, start_own = time.perf_counter(), time.thread_time()
        snap = engine.refresh()
        times.append((time.perf_counter() - start) * 1e3)
        own.append((time.thread_time() - start_own) * 1e3)
        if snap.regime_switch is None and snap.regime_conditioning is not None:
            break
    ready_s = time.perf_counter() - started
    pending, pending_own = np.array(times[:-1]), np.array(own[:-1])
    engine.condition_on_regime(None)
    start = time.perf_counter()
    engine.condition_on_regime(crisis)
    inline_s = time.perf_counter() - start
    held = np.unique(engine.opt_owner[engine.qty[engine.opt_ids] != 0])
    builds = []
    for k in held[:100]:
        start = time.perf_counter()
        engine.options.build_grid(int(k))
        builds.append((time.perf_counter() - start) * 1e3)
    engine.close()
    return {
        "switch_pending_cycles": int(pending.size),
        "switch_pending_p50_ms": pct(pending, 50) if pending.size else None,
        "switch_pending_p99_ms": pct(pending, 99) if pending.size else None,
        "switch_pending_thread_cpu_p50_ms": pct(pending_own, 50) if pending.size else None,
        "switch_pending_thread_cpu_p99_ms": pct(pending_own, 99) if pending.size else None,
        "switch_swap_ms": round(times[-1], 2),
        "switch_ready_s": round(ready_s, 2),
        "switch_inline_s": round(inline_s, 2),
        "grid_build_ms_p50": pct(np.array(builds), 50),
        "grid_build_ms_p99": pct(np.array(builds), 99),
    }


def pct(a: np.ndarray, q: float) -> float:
    return round(float(np.percentile(a, q)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--horizons", default="1,10", help="comma-separated days")
    parser.add_argument("--cycles", type=int, default=1000)
    # The demo's rates, measured by --calibrate (10,000 instruments, 30 s at the simulator's
    # default 200,000 events/s): md updates 43.5% of instruments per 100 ms (p99 45.9%) and
    # moves the mid of 13.3% (p99 15.9%). The bench takes the p99 shares.
    parser.add_argument("--tick-fraction", type=float, default=0.16, help="mids moved/cycle")
    parser.add_argument("--touch-fraction", type=float, default=0.46, help="updated/cycle")
    parser.add_argument(
        "--calibrate", type=float, default=0.0, help="measure the demo's rates over S seconds"
    )
    parser.add_argument("--vol-of-vol", type=float, default=0.06, help="daily, log")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="risk.threads")
    parser.add_argument(
        "--regime-switch", action="store_true", help="measure a switch prepared off the hot path"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    universe = generate_universe(UniverseConfig(instruments=args.instruments, seed=args.seed))
    if args.calibrate > 0:
        print(json.dumps({"benchmark": "risk-calibrate", **demo_rates(universe, args.calibrate)}))
        return
    config = RiskConfig(
        method="fhs",
        n_scenarios=args.scenarios,
        horizons_days=tuple(int(h) for h in args.horizons.split(",")),
        seed=args.seed,
        threads=args.threads,
        regime_conditional=args.regime_switch,
        background_recompute=args.regime_switch,
    )
    # The market state as md writes it: every instrument quoted at its reference price.
    as_of = universe.as_of or dt.date.today()
    start_ns = int(dt.datetime.combine(as_of, dt.time(16), tzinfo=dt.UTC).timestamp() * 1e9)
    clock = ManualClock(start_ns)
    inst = universe.instruments
    tick = inst["tick_size"].fill_null(0.01).to_numpy().astype(np.float64)
    half = 0.5 * inst["spread_bps"].to_numpy().astype(np.float64) * 1e-4
    state = MarketState(len(universe))
    state.mid[:] = inst["ref_price"].to_numpy().astype(np.float64)
    quote(state, np.arange(len(universe)), tick, half, start_ns)
    # Filtered historical simulation fitted on the default window of the universe's stored
    # daily history (the simulator's market model): 10,000 scenarios need a simulation
    # model — historical simulation would need forty years of history.
    history = simulated_history(universe, config.window_days + 1, args.seed)
    engine = build_engine(universe, config, history=history, market=state, clock=clock)
    # The universe's smile: the European vols of its reference option prices.
    rates = option_rates(universe, as_of)
    reference_vol = implied_vols(universe, as_of, rates, config.dividend_yield)
    rng = np.random.default_rng(args.seed)
    market = LiveMarket(engine, universe, reference_vol, args.vol_of_vol, rng)
    market.quote_options(np.arange(engine.opt_ids.size))  # every option at the model
    snap = engine.refresh()  # warm-up: numba compilation, first full computation
    build_s = time.perf_counter() - started
    flagged_at_start = dict(snap.marks["flagged_now"])

    fx0 = dict(snap.fx_to_base)
    rebuilds0, fx_updates0 = engine.vol_rebuilds, engine.fx_updates
    full, full_cpu, med_full = cycle_times(market, 1.0, args.cycles)
    rebuilds_full = engine.vol_rebuilds - rebuilds0
    builds_live0, vol_moves0 = engine.vol_rebuilds, engine.vol_moves
    live, live_cpu, med_live = cycle_times(
        market, args.tick_fraction, args.cycles, args.touch_fraction
    )
    snap = engine.last_snapshot
    fx1 = snap.fx_to_base
    options = int((universe.instruments["asset_class"] == "option").sum())
    result = {
        "benchmark": "risk",
        "instruments": len(universe),
        "options": options,
        "american_options": int(engine.opt_american.sum()),
        "positions": universe.positions.height,
        "factors": engine.space.n_factors,
        "scenarios": args.scenarios,
        "horizons_days": list(config.horizons_days),
        "confidence_levels": list(config.confidence_levels),
        "cycles": args.cycles,
        "cycle_ms_market_time": CYCLE_NS / 1e6,
        "vol_of_vol_daily": args.vol_of_vol,
        "threads": args.threads,
        "tick_fraction": args.tick_fraction,
        "touch_fraction": args.touch_fraction,
        "p50_ms": pct(live, 50),
        "p99_ms": pct(live, 99),
        "p999_ms": pct(live, 99.9),
        "mean_ms": round(float(live.mean()), 2),
        "cpu_p50_ms": pct(live_cpu, 50),
        "cpu_p99_ms": pct(live_cpu, 99),
        "full_p50_ms": pct(full, 50),
        "full_p99_ms": pct(full, 99),
        "full_p999_ms": pct(full, 99.9),
        "full_cpu_p50_ms": pct(full_cpu, 50),
        "full_cpu_p99_ms": pct(full_cpu, 99),
        "vols_move": bool(
            np.ptp(np.concatenate([med_full, med_live])) > 0 and engine.vol_moves > 0
        ),
        "vol_moves": engine.vol_moves,
        "vol_moves_live": engine.vol_moves - vol_moves0,
        "median_implied_vol_first_last": [
            round(float(med_full[0]), 6),
            round(float(med_live[-1]), 6),
        ],
        "fx_moves": bool(engine.fx_updates > fx_updates0 and fx1 != fx0),
        "fx_updates": engine.fx_updates - fx_updates0,
        "eurusd_first_last": [fx0.get("EUR"), fx1.get("EUR")],
        "vol_grid_rebuilds_full": rebuilds_full,
        "vol_grid_rebuilds_live": engine.vol_rebuilds - builds_live0,
        "flagged_quotes": snap.marks["flagged_quotes"],
        "flagged_at_start": flagged_at_start,
        "flagged_now": snap.marks["flagged_now"],
        "build_s": round(build_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "var": snap.headline.var,
        "es": snap.headline.es,
        "lvar": snap.headline.lvar,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    }
    if args.regime_switch:
        result.update(switch_figures(market, args.tick_fraction, args.touch_fraction))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
