"""Benchmark of the real-time risk engine at reference size: refresh latency and memory.

The reference universe (``--instruments``, default 10,000 with 3,000 options) at its
reference prices, ``--scenarios`` (default 10,000) historical scenarios per horizon drawn
from the documented synthetic factor history, the default risk config (VaR and ES at 99%
and 97.5%, L-VaR with its spread, impact and funding parts, Euler contributions per
instrument and per desk/strategy/trader/asset class).

One *refresh* = apply the cycle's price changes (re-derive the touched instruments'
factor loadings, option Greeks and book revaluation on their grids, bond yields and key-rate
sensitivities, the linear scenario P&L) and recompute every figure of the snapshot.

* ``p50_ms`` / ``p99_ms``: **full refresh**, every instrument's price changes each cycle
  (the worst case: all exposures, every option book and a full factor sweep).
* ``incremental_p50_ms`` / ``incremental_p99_ms``: ``--tick-fraction`` (default 5%) of
  instruments change per cycle.
* ``cpu_*``: process CPU time per refresh (all threads), alongside the wall-clock figures.

Each figure is over ``--cycles`` refreshes after one warm-up (numba compilation and grid
building excluded, reported as ``build_s``). Prints one JSON object as the last line.

    PYTHONPATH=src nice python bench/risk.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

import numpy as np

from riskstream.cli.risk import build_engine, simulated_history
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.risk.config import RiskConfig


def cycle_times(
    engine, fraction: float, cycles: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Refresh ``cycles`` times, moving ``fraction`` of prices by ~10 bp before each.

    Returns wall-clock and process CPU milliseconds per refresh (CPU time counts every
    thread; on a busy shared machine it is the better guide to the quiet-machine time).
    """
    market = engine.market
    out = np.empty(cycles)
    cpu = np.empty(cycles)
    for c in range(cycles):
        ids = np.flatnonzero(rng.random(engine.n) < fraction)
        market.mid[ids] *= np.exp(rng.normal(0.0, 0.001, ids.size))
        market.last[ids] = market.mid[ids]
        market.seq[ids] += 1
        market.updated[ids] = True
        start, start_cpu = time.perf_counter(), time.process_time()
        engine.refresh()
        out[c] = (time.perf_counter() - start) * 1e3
        cpu[c] = (time.process_time() - start_cpu) * 1e3
    return out, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--horizons", default="1,10", help="comma-separated days")
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--tick-fraction", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="risk.threads")
    args = parser.parse_args()

    started = time.perf_counter()
    universe = generate_universe(UniverseConfig(instruments=args.instruments, seed=args.seed))
    config = RiskConfig(
        n_scenarios=args.scenarios,
        window_days=args.scenarios,  # historical simulation: one scenario per window
        horizons_days=tuple(int(h) for h in args.horizons.split(",")),
        seed=args.seed,
        threads=args.threads,
    )
    days = config.window_days + max(config.horizons_days)  # window + h - 1 moves
    engine = build_engine(universe, config, history=simulated_history(universe, days, args.seed))
    snap = engine.refresh()  # warm-up: numba compilation, first full computation
    build_s = time.perf_counter() - started

    rng = np.random.default_rng(args.seed)
    full, full_cpu = cycle_times(engine, 1.0, args.cycles, rng)
    incremental, incremental_cpu = cycle_times(engine, args.tick_fraction, args.cycles, rng)
    snap = engine.last_snapshot
    options = int((universe.instruments["asset_class"] == "option").sum())
    result = {
        "benchmark": "risk",
        "instruments": len(universe),
        "options": options,
        "positions": universe.positions.height,
        "factors": engine.space.n_factors,
        "scenarios": args.scenarios,
        "horizons_days": list(config.horizons_days),
        "confidence_levels": list(config.confidence_levels),
        "cycles": args.cycles,
        "threads": args.threads,
        "p50_ms": round(float(np.percentile(full, 50)), 2),
        "p99_ms": round(float(np.percentile(full, 99)), 2),
        "mean_ms": round(float(full.mean()), 2),
        "cpu_p50_ms": round(float(np.percentile(full_cpu, 50)), 2),
        "cpu_p99_ms": round(float(np.percentile(full_cpu, 99)), 2),
        "incremental_tick_fraction": args.tick_fraction,
        "incremental_p50_ms": round(float(np.percentile(incremental, 50)), 2),
        "incremental_p99_ms": round(float(np.percentile(incremental, 99)), 2),
        "incremental_cpu_p50_ms": round(float(np.percentile(incremental_cpu, 50)), 2),
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
    print(json.dumps(result))


if __name__ == "__main__":
    main()
